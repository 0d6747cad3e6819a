// The hub's blob expiry, wired: a Hub with a database deletes, in the
// background, the blobs older than HubOptions::blob_max_age that nothing
// refers to (the Store's own expiry is tested on both backends in
// store_blob_expiry_test.cc).
#include <gtest/gtest.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <thread>

#include "core/clock.h"
#include "core/sha1.h"
#include "hub/server.h"
#include "store/store.h"
#include "store/store_impl.h"

namespace salvus::hub {
namespace {

using namespace std::chrono_literals;
namespace asio = boost::asio;

// A Store of the test's own on the hub's database, driven synchronously.
class Db {
 public:
  explicit Db(const std::string& url) {
    store::Options o;
    o.prune_interval_s = 0;
    auto s = store::OpenStore(url, io_.get_executor(), o);
    EXPECT_TRUE(s) << s.error();
    if (s) store_ = std::move(*s);
  }
  template <class T>
  store::Result<T> Call(const std::function<void(store::Callback<T>)>& start) {
    std::optional<store::Result<T>> got;
    start([&](store::Result<T> r) { got = std::move(r); });
    io_.restart();
    const auto end = std::chrono::steady_clock::now() + 30s;
    while (!got && std::chrono::steady_clock::now() < end) {
      io_.run_one_for(50ms);
      io_.restart();
    }
    return got ? std::move(*got) : store::Result<T>(std::unexpected("no result"));
  }
  bool Has(const std::string& sha1) {
    auto r = Call<std::optional<store::Blob>>([&](auto cb) { store_->GetBlob(sha1, cb); });
    EXPECT_TRUE(r) << r.error();
    return r && r->has_value();
  }
  store::Store* operator->() { return store_.get(); }
  store::internal::StoreImpl* impl() { return store::internal::AsImpl(store_.get()); }

 private:
  asio::io_context io_;
  std::unique_ptr<store::Store> store_;
};

TEST(HubBlobExpiry, AHubDeletesOldBlobsNothingRefersToInTheBackground) {
  char tmpl[] = "/tmp/salvus-hub-blobs-XXXXXX";
  const std::string dir = mkdtemp(tmpl);
  const std::string url = "sqlite:" + dir + "/salvus.db";
  Db db(url);
  ASSERT_TRUE(db.Call<int>([&](auto cb) { db->Migrate(cb); }));
  const store::Blob old{core::Sha1Hex("old"), "image/png", "old"},
      fresh{core::Sha1Hex("fresh"), "image/png", "fresh"};
  for (const auto* b : {&old, &fresh}) {
    ASSERT_TRUE(db.Call<void>([&](auto cb) { db->PutBlob(*b, cb); }));
  }
  ASSERT_TRUE(db.Call<store::internal::Rows>([&](auto cb) {
    db.impl()->Query(
        "UPDATE blobs SET created_ms = $1 WHERE sha1 = $2",
        {store::internal::Int(core::NowMs() - 2 * 3600 * 1000), store::internal::Text(old.sha1)},
        cb);
  }));

  HubOptions opt;
  opt.listen = {"127.0.0.1", 0};
  opt.threads = 1;
  opt.db = url;
  opt.store_prune_interval = 1s;
  opt.blob_max_age = std::chrono::hours(1);
  Hub hub(opt);
  hub.Start();
  const auto end = std::chrono::steady_clock::now() + 10s;
  while (db.Has(old.sha1) && std::chrono::steady_clock::now() < end) {
    std::this_thread::sleep_for(100ms);
  }
  EXPECT_FALSE(db.Has(old.sha1));
  EXPECT_TRUE(db.Has(fresh.sha1));
  hub.Stop();
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
}

}  // namespace
}  // namespace salvus::hub
