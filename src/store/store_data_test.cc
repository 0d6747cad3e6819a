// The Store on both backends: permalinks, blobs, hubs, browsers, sessions.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cctype>
#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "core/sha1.h"
#include "store/store.h"
#include "store/store_impl.h"
#include "store/store_test_fixture.h"

namespace salvus::store {
namespace {

namespace asio = boost::asio;
namespace fs = std::filesystem;
using internal::Param;
using internal::Rows;
using test::MakeService;
using test::StoreTest;
using namespace std::chrono_literals;

TYPED_TEST_SUITE(StoreTest, test::Backends);

TYPED_TEST(StoreTest, Permalinks) {
  auto& s = this->store_;
  auto create = [&](std::string code, std::string lang, std::string state) {
    return this->template Call<std::string>(
        [&](auto cb) { s->CreatePermalink(code, lang, state, cb); });
  };
  auto get = [&](std::string id) {
    return this->template Call<std::optional<Permalink>>([&](auto cb) { s->GetPermalink(id, cb); });
  };

  const std::string code = "x = var('x')\nplot(sin(x) * \u03c0)";  // non-ASCII too
  auto id = create(code, "sage", R"({"n": 3})");
  ASSERT_TRUE(id) << id.error();
  EXPECT_EQ(id->size(), 10u);
  EXPECT_TRUE(std::all_of(id->begin(), id->end(), [](char c) { return std::isalnum(c); })) << *id;

  auto p = get(*id);
  ASSERT_TRUE(p) << p.error();
  ASSERT_TRUE(p->has_value());
  EXPECT_EQ((*p)->id, *id);
  EXPECT_EQ((*p)->code, code);
  EXPECT_EQ((*p)->language, "sage");
  EXPECT_EQ((*p)->interact_state, R"({"n": 3})");
  EXPECT_GT((*p)->created_ms, 1600000000000);

  // Same content: same id. Any difference: a new one.
  auto same = create(code, "sage", R"({"n": 3})");
  ASSERT_TRUE(same) << same.error();
  EXPECT_EQ(*same, *id);
  std::set<std::string> ids = {*id};
  for (const auto& [c, l, st] :
       {std::tuple{code, "python", R"({"n": 3})"}, std::tuple{code, "sage", ""},
        std::tuple{code + " ", "sage", ""}}) {
    auto other = create(c, l, st);
    ASSERT_TRUE(other) << other.error();
    EXPECT_TRUE(ids.insert(*other).second) << "reused " << *other;
  }
  EXPECT_EQ(this->Count("permalinks"), 4);

  // Missing ids: nothing, not an error.
  for (std::string missing : {"nosuchid00", "", "'; DROP TABLE permalinks; --"}) {
    auto none = get(missing);
    ASSERT_TRUE(none) << none.error();
    EXPECT_FALSE(none->has_value()) << missing;
  }

  // Collisions are retried with a new id.
  int calls = 0;
  this->Impl()->SetIdGenerator([&calls, taken = *id] {
    ++calls;
    return calls <= 2 ? taken : "fresh00001";
  });
  auto retried = create("1 + 1", "sage", "");
  ASSERT_TRUE(retried) << retried.error();
  EXPECT_EQ(*retried, "fresh00001");
  EXPECT_EQ(calls, 3);
  auto p2 = get("fresh00001");
  ASSERT_TRUE(p2 && p2->has_value());
  EXPECT_EQ((*p2)->code, "1 + 1");
  // The first permalink is untouched.
  EXPECT_EQ((*get(*id))->code, code);

  // A generator that only collides: a clear error, nothing stored.
  this->Impl()->SetIdGenerator([taken = *id] { return taken; });
  auto stuck = create("2 + 2", "sage", "");
  ASSERT_FALSE(stuck);
  EXPECT_NE(stuck.error().find("no free permalink id"), std::string::npos) << stuck.error();
  EXPECT_EQ(this->Count("permalinks"), 5);
}

TYPED_TEST(StoreTest, Blobs) {
  auto& s = this->store_;
  std::string data;
  for (int i = 0; i < 3 * 256; ++i) data += static_cast<char>(i % 256);  // NULs, 0xff, ...
  Blob blob{"", "image/png", data};
  blob.sha1 = core::Sha1Hex(data);
  this->Ok(this->template Call<void>([&](auto cb) { s->PutBlob(blob, cb); }));
  this->Ok(this->template Call<void>([&](auto cb) { s->PutBlob(blob, cb); }));  // no-op
  EXPECT_EQ(this->Count("blobs"), 1);

  auto got = this->template Call<std::optional<Blob>>([&](auto cb) { s->GetBlob(blob.sha1, cb); });
  ASSERT_TRUE(got) << got.error();
  ASSERT_TRUE(got->has_value());
  EXPECT_EQ((*got)->sha1, blob.sha1);
  EXPECT_EQ((*got)->mime, "image/png");
  EXPECT_EQ((*got)->data.size(), data.size());
  EXPECT_EQ((*got)->data, data);

  Blob empty{core::Sha1Hex(""), "text/plain", ""};
  this->Ok(this->template Call<void>([&](auto cb) { s->PutBlob(empty, cb); }));
  got = this->template Call<std::optional<Blob>>([&](auto cb) { s->GetBlob(empty.sha1, cb); });
  ASSERT_TRUE(got && got->has_value());
  EXPECT_EQ((*got)->data, "");

  auto missing = this->template Call<std::optional<Blob>>(
      [&](auto cb) { s->GetBlob(std::string(40, '0'), cb); });
  ASSERT_TRUE(missing) << missing.error();
  EXPECT_FALSE(missing->has_value());

  // A sha1 that is not the data's: refused, clearly.
  Blob wrong{std::string(40, 'a'), "text/plain", "hello"};
  auto bad = this->template Call<void>([&](auto cb) { s->PutBlob(wrong, cb); });
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().find("not the SHA-1"), std::string::npos) << bad.error();
  EXPECT_EQ(this->Count("blobs"), 2);
}

TYPED_TEST(StoreTest, HubsBrowsersSessions) {
  auto& s = this->store_;
  this->Ok(
      this->template Call<void>([&](auto cb) { s->RegisterHub("hub0", "10.0.0.1", 443, cb); }));
  this->Ok(
      this->template Call<void>([&](auto cb) { s->RegisterHub("hub0", "10.0.0.2", 8443, cb); }));
  this->Ok(
      this->template Call<void>([&](auto cb) { s->RegisterHub("hub1", "10.0.0.3", 443, cb); }));
  Rows hubs = this->Sql("SELECT name, address, port FROM hubs ORDER BY name");
  ASSERT_EQ(hubs.size(), 2u);
  EXPECT_EQ(hubs.Text(0, 1), "10.0.0.2");
  EXPECT_EQ(hubs.Int(0, 2), 8443);

  auto browser_hub = [&](std::string b) -> std::string {
    Rows r = this->Sql("SELECT hub FROM browsers WHERE browser = $1", {internal::Text(b)});
    return r.empty() ? "" : r.Text(0, 0);
  };
  this->Ok(this->template Call<void>([&](auto cb) { s->SetBrowser("b1", "hub0", true, cb); }));
  this->Ok(this->template Call<void>([&](auto cb) { s->SetBrowser("b2", "hub0", true, cb); }));
  EXPECT_EQ(browser_hub("b1"), "hub0");
  // b1 moves to hub1; hub0's late disconnect must not remove it.
  this->Ok(this->template Call<void>([&](auto cb) { s->SetBrowser("b1", "hub1", true, cb); }));
  this->Ok(this->template Call<void>([&](auto cb) { s->SetBrowser("b1", "hub0", false, cb); }));
  EXPECT_EQ(browser_hub("b1"), "hub1");
  this->Ok(this->template Call<void>([&](auto cb) { s->SetBrowser("b1", "hub1", false, cb); }));
  EXPECT_EQ(browser_hub("b1"), "");
  EXPECT_EQ(this->Count("browsers"), 1);

  this->Ok(
      this->template Call<void>([&](auto cb) { s->SetSession("s1", "hub0", "c0", false, cb); }));
  this->Ok(
      this->template Call<void>([&](auto cb) { s->SetSession("s2", "hub0", "c1", false, cb); }));
  Rows sessions = this->Sql("SELECT session, hub, compute FROM sessions ORDER BY session");
  ASSERT_EQ(sessions.size(), 2u);
  EXPECT_EQ(sessions.Text(1, 2), "c1");
  this->Ok(
      this->template Call<void>([&](auto cb) { s->SetSession("s1", "hub0", "c0", true, cb); }));
  sessions = this->Sql("SELECT session FROM sessions");
  ASSERT_EQ(sessions.size(), 1u);
  EXPECT_EQ(sessions.Text(0, 0), "s2");
}

}  // namespace
}  // namespace salvus::store
