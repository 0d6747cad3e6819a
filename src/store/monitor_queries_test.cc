// The Store on both backends: what the operator's page reads (every
// service with its newest status, status over a span, log lines filtered).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "store/store.h"
#include "store/store_test_fixture.h"

namespace salvus::store {
namespace {

using test::MakeService;
using test::StoreTest;

TYPED_TEST_SUITE(StoreTest, test::Backends);

TYPED_TEST(StoreTest, AllServicesIncludesStoppedOnes) {
  auto& s = this->store_;
  const int64_t hub = this->Register(MakeService("hub", "hub0", 5000));
  const int64_t compute = this->Register(MakeService("compute", "c0", 6000));
  StatusRow st;
  st.service_id = compute;
  st.time_ms = 77;
  st.rss_kb = 1234;
  st.extra = R"({"sessions":1})";
  this->Ok(this->template Call<void>([&](auto cb) { s->AddStatus(st, cb); }));
  this->Ok(this->template Call<void>([&](auto cb) { s->MarkServiceStopped(hub, 900, cb); }));

  auto all =
      this->template Call<std::vector<ServiceStatus>>([&](auto cb) { s->AllServices("", cb); });
  ASSERT_TRUE(all) << all.error();
  ASSERT_EQ(all->size(), 2u);
  EXPECT_EQ((*all)[0].service.id, hub);
  EXPECT_FALSE((*all)[0].service.running);
  EXPECT_EQ((*all)[0].service.stop_ms, 900);
  EXPECT_FALSE((*all)[0].latest);
  EXPECT_TRUE((*all)[1].service.running);
  ASSERT_TRUE((*all)[1].latest);
  EXPECT_EQ((*all)[1].latest->time_ms, 77);
  EXPECT_EQ((*all)[1].latest->rss_kb, 1234u);
  EXPECT_EQ((*all)[1].latest->extra, R"({"sessions":1})");
  auto computes = this->template Call<std::vector<ServiceStatus>>(
      [&](auto cb) { s->AllServices("compute", cb); });
  ASSERT_TRUE(computes);
  ASSERT_EQ(computes->size(), 1u);
  // RunningServices still leaves the stopped one out.
  auto running =
      this->template Call<std::vector<ServiceStatus>>([&](auto cb) { s->RunningServices("", cb); });
  ASSERT_TRUE(running);
  ASSERT_EQ(running->size(), 1u);
  EXPECT_EQ((*running)[0].service.id, compute);
}

TYPED_TEST(StoreTest, StatusSinceIsBoundedAndOrdered) {
  auto& s = this->store_;
  const int64_t id = this->Register(MakeService("compute", "c0", 6000));
  const int64_t other = this->Register(MakeService("compute", "c1", 6001));
  for (int i = 0; i < 10; ++i) {
    StatusRow st;
    st.service_id = i % 2 ? other : id;
    st.time_ms = 1000 + i;
    st.load1 = i;
    this->Ok(this->template Call<void>([&](auto cb) { s->AddStatus(st, cb); }));
  }
  auto since = [&](int64_t from, size_t limit) {
    auto r = this->template Call<std::vector<StatusRow>>(
        [&](auto cb) { s->StatusSince(id, from, limit, cb); });
    EXPECT_TRUE(r) << r.error();
    return r.value_or(std::vector<StatusRow>{});
  };
  auto rows = since(0, 100);
  ASSERT_EQ(rows.size(), 5u);
  EXPECT_EQ(rows[0].time_ms, 1000);
  EXPECT_EQ(rows[4].time_ms, 1008);
  EXPECT_EQ(rows[4].service_id, id);
  rows = since(1004, 100);
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0].time_ms, 1004);
  rows = since(0, 2);  // the newest two, oldest first
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].time_ms, 1006);
  EXPECT_DOUBLE_EQ(rows[1].load1, 8);
  EXPECT_TRUE(since(5000, 100).empty());
}

TYPED_TEST(StoreTest, SearchLogFiltersByTextAndLevel) {
  auto& s = this->store_;
  const int64_t id = this->Register(MakeService("hub", "hub0", 5000));
  std::vector<LogLine> lines = {
      {id, 1, "2026-01-01 00:00:00.000001 [hub] [info] started"},
      {id, 2, "2026-01-01 00:00:00.000002 [hub] [warning] Disk 100% full"},
      {id, 3, "2026-01-01 00:00:00.000003 [hub] [error] disk_a failed"},
      {id, 4, "2026-01-01 00:00:00.000004 [hub] [info] under_score and back\\slash"},
      {id, 5, "2026-01-01 00:00:00.000005 [hub] [info] DISK fine"},
  };
  this->Ok(this->template Call<void>([&](auto cb) { s->AddLogLines(id, lines, {}, cb); }));
  auto search = [&](std::string text, std::vector<std::string> any_of, size_t limit = 100) {
    auto r = this->template Call<std::vector<LogLine>>(
        [&](auto cb) { s->SearchLog(id, text, any_of, limit, cb); });
    EXPECT_TRUE(r) << r.error();
    std::vector<int64_t> times;
    for (auto& l : r.value_or(std::vector<LogLine>{})) times.push_back(l.time_ms);
    return times;
  };
  EXPECT_EQ(search("", {}), (std::vector<int64_t>{1, 2, 3, 4, 5}));
  EXPECT_EQ(search("disk", {}), (std::vector<int64_t>{2, 3, 5}));  // ASCII case ignored
  EXPECT_EQ(search("100%", {}), (std::vector<int64_t>{2}));        // % is not a wildcard
  EXPECT_EQ(search("k_a", {}), (std::vector<int64_t>{3}));         // nor _
  EXPECT_EQ(search("back\\slash", {}), (std::vector<int64_t>{4}));
  EXPECT_EQ(search("", {"[warning]", "[error]"}), (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(search("failed", {"[warning]", "[error]"}), (std::vector<int64_t>{3}));
  EXPECT_EQ(search("disk", {}, 2), (std::vector<int64_t>{3, 5}));  // the newest, oldest first
  EXPECT_TRUE(search("nowhere", {}).empty());
  EXPECT_TRUE(search("'; DROP TABLE log; --", {}).empty());
  EXPECT_EQ(this->Count("log"), 5);
}

}  // namespace
}  // namespace salvus::store
