#include "monitor/report.h"

#include <gtest/gtest.h>

namespace salvus::monitor {
namespace {

store::ServiceStatus Example() {
  store::ServiceStatus ss;
  ss.service.id = 12;
  ss.service.type = "compute";
  ss.service.name = "c1\twith\ttabs\nand\\newlines";
  ss.service.site = "site é";
  ss.service.address = "::1";
  ss.service.port = 6000;
  ss.service.user = "salvus";
  ss.service.pid = 4242;
  ss.service.monitor_pid = 4243;
  ss.service.start_ms = 1'700'000'000'000;
  ss.service.running = true;
  store::Status st;
  st.service_id = 12;
  st.time_ms = 1'700'000'060'000;
  st.load1 = 0.1;
  st.load5 = 0.25;
  st.load15 = 1.0 / 3;
  st.pcpu = 12.5;
  st.pmem = 1.75;
  st.cputime_s = 3.14159;
  st.walltime_s = 60.5;
  st.vsize_kb = 1 << 20;
  st.rss_kb = 204800;
  st.extra = "{\"sessions\":3,\n\"max\":32}";
  ss.latest = st;
  return ss;
}

void ExpectSame(const store::ServiceStatus& a, const store::ServiceStatus& b) {
  EXPECT_EQ(a.service.id, b.service.id);
  EXPECT_EQ(a.service.type, b.service.type);
  EXPECT_EQ(a.service.name, b.service.name);
  EXPECT_EQ(a.service.site, b.service.site);
  EXPECT_EQ(a.service.address, b.service.address);
  EXPECT_EQ(a.service.port, b.service.port);
  EXPECT_EQ(a.service.user, b.service.user);
  EXPECT_EQ(a.service.pid, b.service.pid);
  EXPECT_EQ(a.service.monitor_pid, b.service.monitor_pid);
  EXPECT_EQ(a.service.start_ms, b.service.start_ms);
  EXPECT_EQ(a.service.stop_ms, b.service.stop_ms);
  EXPECT_EQ(a.service.running, b.service.running);
  ASSERT_EQ(a.latest.has_value(), b.latest.has_value());
  if (!a.latest) return;
  EXPECT_EQ(a.latest->time_ms, b.latest->time_ms);
  EXPECT_EQ(a.latest->load15, b.latest->load15);  // exact: shortest round-trip form
  EXPECT_EQ(a.latest->pcpu, b.latest->pcpu);
  EXPECT_EQ(a.latest->cputime_s, b.latest->cputime_s);
  EXPECT_EQ(a.latest->rss_kb, b.latest->rss_kb);
  EXPECT_EQ(a.latest->vsize_kb, b.latest->vsize_kb);
  EXPECT_EQ(a.latest->extra, b.latest->extra);
}

TEST(ReportTest, ServicesRoundTrip) {
  auto a = Example();
  auto b = Example();
  b.service.id = 13;
  b.service.name = "";
  b.latest.reset();
  auto text = EncodeServices({a, b});
  auto back = DecodeServices(text);
  ASSERT_TRUE(back.has_value());
  ASSERT_EQ(back->size(), 2u);
  ExpectSame((*back)[0], a);
  ExpectSame((*back)[1], b);
  EXPECT_EQ(DecodeServices(EncodeServices({}))->size(), 0u);
}

TEST(ReportTest, GarbageIsAMiss) {
  auto text = EncodeServices({Example()});
  EXPECT_FALSE(DecodeServices(""));
  EXPECT_FALSE(DecodeServices("salvus-services 2\n"));
  EXPECT_FALSE(DecodeServices(text.substr(0, text.size() - 5)));  // cut short
  EXPECT_FALSE(DecodeServices(text + "X\t1\n"));
  std::string bad = text;
  bad.replace(bad.find("\t6000\t"), 6, "\t6x00\t");
  EXPECT_FALSE(DecodeServices(bad));
  EXPECT_FALSE(DecodeServices("salvus-services 1\nT\t1\t2\n"));
}

TEST(ReportTest, StatusRoundTrip) {
  auto st = *Example().latest;
  auto back = DecodeStatus(EncodeStatus(st));
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(back->service_id, 12);
  EXPECT_EQ(back->load1, st.load1);
  EXPECT_EQ(back->pmem, st.pmem);
  EXPECT_EQ(back->walltime_s, st.walltime_s);
  EXPECT_EQ(back->extra, st.extra);
  EXPECT_FALSE(DecodeStatus("salvus-status 1\n1\t2\n"));
  EXPECT_FALSE(DecodeStatus(EncodeServices({Example()})));
}

TEST(ReportTest, Durations) {
  EXPECT_EQ(FormatDuration(-1), "-");
  EXPECT_EQ(FormatDuration(999), "0s");
  EXPECT_EQ(FormatDuration(12'000), "12s");
  EXPECT_EQ(FormatDuration(247'000), "4m07s");
  EXPECT_EQ(FormatDuration(7'500'000), "2h05m");
  EXPECT_EQ(FormatDuration(273'600'000), "3d04h");
  EXPECT_EQ(FormatKb(512), "512K");
  EXPECT_EQ(FormatKb(1536), "1.5M");
  EXPECT_EQ(FormatKb(204800), "200M");
  EXPECT_EQ(FormatKb(3u << 20), "3.0G");
}

TEST(ReportTest, Table) {
  auto a = Example();
  a.service.name = "c1";
  auto b = Example();
  b.service.type = "hub";
  b.service.name = "h1";
  b.service.address = "10.0.0.1";
  b.service.port = 8080;
  b.latest.reset();
  const int64_t now = 1'700'000'065'000;
  auto table = FormatStatusTable({b, a}, now);
  // Header, then compute before hub.
  const auto lines = [&] {
    std::vector<std::string> out;
    size_t s = 0;
    for (size_t p; (p = table.find('\n', s)) != std::string::npos; s = p + 1) {
      out.push_back(table.substr(s, p - s));
    }
    return out;
  }();
  ASSERT_EQ(lines.size(), 3u) << table;
  EXPECT_EQ(lines[0].rfind("TYPE", 0), 0u);
  EXPECT_NE(lines[0].find("%CPU"), std::string::npos);
  EXPECT_NE(lines[0].find("STATUS AGE"), std::string::npos);
  EXPECT_EQ(lines[1].rfind("compute", 0), 0u) << table;
  EXPECT_NE(lines[1].find("[::1]:6000"), std::string::npos);
  EXPECT_NE(lines[1].find("4242"), std::string::npos);
  EXPECT_NE(lines[1].find("12.5"), std::string::npos);
  EXPECT_NE(lines[1].find("1.8"), std::string::npos);  // %mem 1.75
  EXPECT_NE(lines[1].find("200M"), std::string::npos);
  EXPECT_NE(lines[1].find("1m05s"), std::string::npos);  // uptime
  EXPECT_NE(lines[1].find(" 5s"), std::string::npos);    // status age
  EXPECT_EQ(lines[2].rfind("hub", 0), 0u);
  EXPECT_NE(lines[2].find("10.0.0.1:8080"), std::string::npos);
  EXPECT_NE(lines[2].find("never"), std::string::npos);
  EXPECT_NE(FormatStatusTable({}, now).find("no running services"), std::string::npos);
}

TEST(ReportTest, CachedServicesUseTheFreshestStatus) {
  MemoryCache cache;
  EXPECT_FALSE(CachedRunningServices(cache));
  auto a = Example();
  auto b = Example();
  b.service.id = 13;
  b.latest.reset();
  CacheRunningServices(cache, {a, b});
  auto newer = *a.latest;
  newer.time_ms += 6000;
  newer.pcpu = 99;
  cache.Set(StatusKey(12), EncodeStatus(newer), std::chrono::seconds(0));
  auto older = *a.latest;
  older.service_id = 13;
  older.time_ms = 5;
  cache.Set(StatusKey(13), EncodeStatus(older), std::chrono::seconds(0));
  auto got = CachedRunningServices(cache);
  ASSERT_TRUE(got);
  ASSERT_EQ(got->size(), 2u);
  EXPECT_EQ((*got)[0].latest->pcpu, 99);
  ASSERT_TRUE((*got)[1].latest);  // had none: any is newer
  EXPECT_EQ((*got)[1].latest->time_ms, 5);
  // A stale status does not replace a newer listed one.
  auto stale = *a.latest;
  stale.time_ms -= 6000;
  cache.Set(StatusKey(12), EncodeStatus(stale), std::chrono::seconds(0));
  EXPECT_EQ((*CachedRunningServices(cache))[0].latest->time_ms, a.latest->time_ms);
  cache.Set(kServicesKey, "garbage", std::chrono::seconds(0));
  EXPECT_FALSE(CachedRunningServices(cache));
}

}  // namespace
}  // namespace salvus::monitor
