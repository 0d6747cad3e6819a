// Blob expiry on both backends: blobs nothing refers to go once old; those
// a permalink names, and fresh ones, stay.
#include <gtest/gtest.h>

#include <chrono>
#include <optional>
#include <string>

#include "core/clock.h"
#include "core/sha1.h"
#include "store/store.h"
#include "store/store_impl.h"
#include "store/store_test_fixture.h"

namespace salvus::store {
namespace {

using namespace std::chrono_literals;

constexpr int64_t kDayMs = 24 * 3600 * 1000;

Blob MakeBlob(const std::string& data) { return Blob{core::Sha1Hex(data), "image/png", data}; }

template <class Backend>
class BlobExpiryTest : public test::StoreTest<Backend> {
 protected:
  void Put(Store* st, const Blob& b) {
    this->Ok(this->template Call<void>([&](auto cb) { st->PutBlob(b, cb); }));
  }
  // Makes `b` look last put `days` ago.
  void Age(const Blob& b, int days, Store* st = nullptr) {
    this->Sql("UPDATE blobs SET created_ms = $1 WHERE sha1 = $2",
              {internal::Int(core::NowMs() - days * kDayMs), internal::Text(b.sha1)}, st);
  }
  bool Has(const Blob& b, Store* st = nullptr) {
    return !this->Sql("SELECT sha1 FROM blobs WHERE sha1 = $1", {internal::Text(b.sha1)}, st)
                .empty();
  }
};

TYPED_TEST_SUITE(BlobExpiryTest, test::Backends);

TYPED_TEST(BlobExpiryTest, OldBlobsNothingRefersToExpireReferredAndFreshOnesStay) {
  auto& s = this->store_;
  const Blob old = MakeBlob("old plot"), shared = MakeBlob("shared plot"),
             fresh = MakeBlob("fresh plot"), again = MakeBlob("plot made again"),
             named_later = MakeBlob("named before it existed");
  for (const Blob* b : {&old, &shared, &fresh, &again}) this->Put(s.get(), *b);
  for (const Blob* b : {&old, &shared, &again}) this->Age(*b, 30);
  // A permalink whose code shows a blob by its URL keeps it; one named in
  // the interact state too. A blob that did not exist when it was shared
  // is not kept by that (it is kept by nothing).
  auto id = this->template Call<std::string>([&](auto cb) {
    s->CreatePermalink("html('<img src=\"/blobs/" + shared.sha1 + "\">')", "sage",
                       "[{\"x\": \"" + named_later.sha1 + "\"}]", cb);
  });
  ASSERT_TRUE(id) << id.error();
  this->Put(s.get(), named_later);
  this->Age(named_later, 30);
  // Produced again: as fresh as new.
  this->Put(s.get(), again);

  auto n = this->template Call<int64_t>(
      [&](auto cb) { s->ExpireBlobs(core::NowMs() - 7 * kDayMs, cb); });
  ASSERT_TRUE(n) << n.error();
  EXPECT_EQ(*n, 2);
  EXPECT_FALSE(this->Has(old));
  EXPECT_FALSE(this->Has(named_later));
  EXPECT_TRUE(this->Has(shared));
  EXPECT_TRUE(this->Has(fresh));
  EXPECT_TRUE(this->Has(again));
  auto got = this->template Call<std::optional<Blob>>([&](auto cb) { s->GetBlob(old.sha1, cb); });
  ASSERT_TRUE(got) << got.error();
  EXPECT_FALSE(got->has_value());

  // Sharing the same cell again, once the blob exists, keeps it too.
  this->Put(s.get(), named_later);
  this->Age(named_later, 30);
  auto same = this->template Call<std::string>([&](auto cb) {
    s->CreatePermalink("html('<img src=\"/blobs/" + shared.sha1 + "\">')", "sage",
                       "[{\"x\": \"" + named_later.sha1 + "\"}]", cb);
  });
  ASSERT_TRUE(same) << same.error();
  EXPECT_EQ(*same, *id);
  n = this->template Call<int64_t>([&](auto cb) { s->ExpireBlobs(core::NowMs() + 1000, cb); });
  ASSERT_TRUE(n) << n.error();
  EXPECT_EQ(*n, 2);  // fresh and again: a cutoff in the future takes every unreferred blob
  EXPECT_TRUE(this->Has(named_later));
  EXPECT_TRUE(this->Has(shared));
  EXPECT_EQ(this->Count("blobs"), 2);
}

// The hub's way: the store's own background pruning, with a maximum age.
TYPED_TEST(BlobExpiryTest, OldBlobsExpireInTheBackground) {
  Options o;
  o.prune_interval_s = 1;
  o.blob_max_age_s = 3600;
  auto pruned = this->Open(this->url_, o);
  ASSERT_TRUE(pruned);
  const Blob old = MakeBlob("an old one"), fresh = MakeBlob("a fresh one");
  this->Put(pruned.get(), old);
  this->Put(pruned.get(), fresh);
  this->Age(old, 2, pruned.get());
  const auto start = std::chrono::steady_clock::now();
  this->RunUntil([&] { return !this->Has(old, pruned.get()); });
  EXPECT_LT(std::chrono::steady_clock::now() - start, 10s);
  EXPECT_TRUE(this->Has(fresh, pruned.get()));
  pruned.reset();
}

}  // namespace
}  // namespace salvus::store
