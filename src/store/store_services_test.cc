// The Store on both backends: services, status rows, log lines and their
// cursors, capped tables (what the monitor writes).
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

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

TYPED_TEST(StoreTest, ServicesAndStatus) {
  auto& s = this->store_;
  Service hub = MakeService("hub", "hub0", 5000);
  const int64_t hub_id = this->Register(hub);
  ASSERT_GT(hub_id, 0);
  hub.pid = 4321;
  EXPECT_EQ(this->Register(hub), hub_id);  // same identity, same id
  const int64_t compute_id = this->Register(MakeService("compute", "c0", 6000));
  const int64_t compute2_id = this->Register(MakeService("compute", "c0", 6001));
  EXPECT_NE(compute_id, hub_id);
  EXPECT_NE(compute2_id, compute_id);

  for (int i = 0; i < 3; ++i) {
    StatusRow st;
    st.service_id = compute_id;
    st.time_ms = 1000 + i;
    st.load1 = 0.5 + i;
    st.load5 = 0.25;
    st.load15 = 0.125;
    st.pcpu = 12.5 * i;
    st.pmem = 3.75;
    st.cputime_s = 1.5;
    st.walltime_s = 100;
    st.vsize_kb = 1ull << 40;
    st.rss_kb = 2048;
    st.extra = R"({"sessions":)" + std::to_string(i) + R"(,"max":100})";
    this->Ok(this->template Call<void>([&](auto cb) { s->AddStatus(st, cb); }));
  }

  auto running = [&](std::string type) {
    auto r = this->template Call<std::vector<ServiceStatus>>(
        [&](auto cb) { s->RunningServices(type, cb); });
    EXPECT_TRUE(r) << r.error();
    return r.value_or(std::vector<ServiceStatus>{});
  };
  auto all = running("");
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all[0].service.id, hub_id);
  EXPECT_EQ(all[0].service.pid, 4321);
  EXPECT_EQ(all[0].service.type, "hub");
  EXPECT_EQ(all[0].service.name, "hub0");
  EXPECT_EQ(all[0].service.site, "local");
  EXPECT_EQ(all[0].service.address, "127.0.0.1");
  EXPECT_EQ(all[0].service.port, 5000);
  EXPECT_EQ(all[0].service.user, "salvus");
  EXPECT_EQ(all[0].service.monitor_pid, 99);
  EXPECT_EQ(all[0].service.start_ms, 1700000000000);
  EXPECT_TRUE(all[0].service.running);
  EXPECT_FALSE(all[0].latest.has_value());

  auto computes = running("compute");
  ASSERT_EQ(computes.size(), 2u);
  EXPECT_EQ(computes[0].service.id, compute_id);
  ASSERT_TRUE(computes[0].latest.has_value());
  const StatusRow& latest = *computes[0].latest;  // the newest of the three
  EXPECT_EQ(latest.service_id, compute_id);
  EXPECT_EQ(latest.time_ms, 1002);
  EXPECT_DOUBLE_EQ(latest.load1, 2.5);
  EXPECT_DOUBLE_EQ(latest.load5, 0.25);
  EXPECT_DOUBLE_EQ(latest.load15, 0.125);
  EXPECT_DOUBLE_EQ(latest.pcpu, 25);
  EXPECT_DOUBLE_EQ(latest.pmem, 3.75);
  EXPECT_DOUBLE_EQ(latest.cputime_s, 1.5);
  EXPECT_DOUBLE_EQ(latest.walltime_s, 100);
  EXPECT_EQ(latest.vsize_kb, 1ull << 40);
  EXPECT_EQ(latest.rss_kb, 2048u);
  EXPECT_EQ(latest.extra, R"({"sessions":2,"max":100})");
  EXPECT_FALSE(computes[1].latest.has_value());
  EXPECT_TRUE(running("memcached").empty());

  // Stopped: gone from RunningServices; registered again: back, same id.
  this->Ok(
      this->template Call<void>([&](auto cb) { s->MarkServiceStopped(compute_id, 5000, cb); }));
  computes = running("compute");
  ASSERT_EQ(computes.size(), 1u);
  EXPECT_EQ(computes[0].service.id, compute2_id);
  Rows stopped =
      this->Sql("SELECT running, stop_ms FROM services WHERE id = $1", {internal::Int(compute_id)});
  ASSERT_EQ(stopped.size(), 1u);
  EXPECT_EQ(stopped.Int(0, 0), 0);
  EXPECT_EQ(stopped.Int(0, 1), 5000);
  EXPECT_EQ(this->Register(MakeService("compute", "c0", 6000)), compute_id);
  EXPECT_EQ(running("compute").size(), 2u);

  auto unknown = this->template Call<void>([&](auto cb) { s->MarkServiceStopped(987654, 1, cb); });
  ASSERT_FALSE(unknown);
  EXPECT_NE(unknown.error().find("no service with id 987654"), std::string::npos)
      << unknown.error();
}

TYPED_TEST(StoreTest, LogLinesAndCursor) {
  auto& s = this->store_;
  const int64_t id = this->Register(MakeService("hub", "hub0", 5000));
  auto cursor = [&](int64_t service) {
    return this->template Call<LogCursor>([&](auto cb) { s->GetLogCursor(service, cb); });
  };
  auto recent = [&](size_t limit) {
    auto r =
        this->template Call<std::vector<LogLine>>([&](auto cb) { s->RecentLog(id, limit, cb); });
    EXPECT_TRUE(r) << r.error();
    return r.value_or(std::vector<LogLine>{});
  };
  auto c0 = cursor(id);
  ASSERT_TRUE(c0) << c0.error();
  EXPECT_EQ(c0->inode, 0u);
  EXPECT_EQ(c0->offset, 0u);

  // Invalid UTF-8 and NUL bytes: stored, as U+FFFD.
  std::vector<LogLine> lines = {
      {id, 10, "plain"},
      {id, 11, "bad \xff\xfe bytes"},
      {id, 12, std::string("nul \0 byte", 10)},
      {id, 13, "truncated \xe2\x82"},
      {id, 14, "ok \xe2\x82\xac"},
  };
  const LogCursor moved{(1ull << 63) + 5, 12345};  // inodes use all 64 bits
  this->Ok(this->template Call<void>([&](auto cb) { s->AddLogLines(id, lines, moved, cb); }));
  auto got = recent(100);
  ASSERT_EQ(got.size(), 5u);
  EXPECT_EQ(got[0].text, "plain");
  EXPECT_EQ(got[0].time_ms, 10);
  EXPECT_EQ(got[0].service_id, id);
  EXPECT_EQ(got[1].text, "bad \xEF\xBF\xBD\xEF\xBF\xBD bytes");
  EXPECT_EQ(got[2].text, "nul \xEF\xBF\xBD byte");
  EXPECT_EQ(got[3].text, "truncated \xEF\xBF\xBD");
  EXPECT_EQ(got[4].text, "ok \xe2\x82\xac");
  auto c1 = cursor(id);
  ASSERT_TRUE(c1) << c1.error();
  EXPECT_EQ(c1->inode, moved.inode);
  EXPECT_EQ(c1->offset, moved.offset);

  // Many lines (several INSERTs) in one call; newest `limit`, oldest first.
  std::vector<LogLine> many;
  for (int i = 0; i < 250; ++i) many.push_back({id, 100 + i, "line " + std::to_string(i)});
  this->Ok(this->template Call<void>([&](auto cb) {
    s->AddLogLines(id, many, LogCursor{moved.inode, 99999}, cb);
  }));
  got = recent(3);
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0].text, "line 247");
  EXPECT_EQ(got[2].text, "line 249");
  EXPECT_EQ(recent(1000).size(), 255u);
  EXPECT_TRUE(recent(0).empty());

  // Lines and cursor move together: when one cannot, neither does.
  const int64_t before = this->Count("log");
  auto failed = this->template Call<void>([&](auto cb) {
    s->AddLogLines(424242, many, LogCursor{1, 2}, cb);
  });
  ASSERT_FALSE(failed);
  EXPECT_NE(failed.error().find("no service with id 424242"), std::string::npos) << failed.error();
  EXPECT_EQ(this->Count("log"), before);
  auto unknown = cursor(424242);
  ASSERT_FALSE(unknown);

  // Re-registering (a restarted service) keeps the cursor.
  EXPECT_EQ(this->Register(MakeService("hub", "hub0", 5000)), id);
  auto c2 = cursor(id);
  ASSERT_TRUE(c2);
  EXPECT_EQ(c2->offset, 99999u);
}

TYPED_TEST(StoreTest, CapTables) {
  auto& s = this->store_;
  const int64_t id = this->Register(MakeService("compute", "c0", 6000));
  for (int i = 0; i < 10; ++i) {
    StatusRow st;
    st.service_id = id;
    st.time_ms = i;
    this->Ok(this->template Call<void>([&](auto cb) { s->AddStatus(st, cb); }));
  }
  std::vector<LogLine> lines;
  for (int i = 0; i < 10; ++i) lines.push_back({id, i, "line " + std::to_string(i)});
  this->Ok(this->template Call<void>([&](auto cb) { s->AddLogLines(id, lines, {}, cb); }));

  this->Ok(this->template Call<void>([&](auto cb) { s->CapTables(3, 4, cb); }));
  EXPECT_EQ(this->Count("status"), 3);
  EXPECT_EQ(this->Count("log"), 4);
  auto log = this->template Call<std::vector<LogLine>>([&](auto cb) { s->RecentLog(id, 100, cb); });
  ASSERT_TRUE(log);
  ASSERT_EQ(log->size(), 4u);
  EXPECT_EQ((*log)[0].text, "line 6");  // the newest were kept
  auto running =
      this->template Call<std::vector<ServiceStatus>>([&](auto cb) { s->RunningServices("", cb); });
  ASSERT_TRUE(running && running->size() == 1 && (*running)[0].latest);
  EXPECT_EQ((*running)[0].latest->time_ms, 9);

  this->Ok(this->template Call<void>([&](auto cb) { s->CapTables(100, 100, cb); }));  // no-op
  EXPECT_EQ(this->Count("log"), 4);
  this->Ok(this->template Call<void>([&](auto cb) { s->CapTables(0, 0, cb); }));
  EXPECT_EQ(this->Count("status"), 0);
  EXPECT_EQ(this->Count("log"), 0);

  // In the background, every prune_interval_s.
  Options opt;
  opt.status_rows = 2;
  opt.log_rows = 1;
  opt.prune_interval_s = 1;
  auto pruned = this->Open(this->url_, opt);
  this->Ok(this->template Call<void>([&](auto cb) { pruned->AddLogLines(id, lines, {}, cb); }));
  for (int i = 0; i < 5; ++i) {
    StatusRow st;
    st.service_id = id;
    this->Ok(this->template Call<void>([&](auto cb) { pruned->AddStatus(st, cb); }));
  }
  this->RunUntil([&] { return this->Count("log") == 1 && this->Count("status") == 2; });
  pruned.reset();

  // Background pruning (on by default) holds no work on the loop: a one-shot
  // use (open, operate, run the loop until it runs out of work) returns.
  auto oneshot = this->Open(this->url_);
  bool done = false;
  oneshot->RegisterHub("x", "y", 1, [&](Result<void> r) { done = r.has_value(); });
  this->io_.restart();
  this->io_.run_for(60s);
  EXPECT_TRUE(this->io_.stopped());
  EXPECT_TRUE(done);
}

}  // namespace
}  // namespace salvus::store
