#include "hub/discovery.h"

#include <gtest/gtest.h>

namespace salvus::hub {
namespace {

store::ServiceStatus Service(int64_t id, std::string type, int port, bool running,
                             std::optional<store::StatusRow> latest = std::nullopt) {
  store::ServiceStatus ss;
  ss.service.id = id;
  ss.service.type = std::move(type);
  ss.service.address = "10.0.0." + std::to_string(id);
  ss.service.port = port;
  ss.service.running = running;
  ss.latest = std::move(latest);
  return ss;
}

store::StatusRow StatusAt(int64_t time_ms, std::string extra, double load1 = 0.5) {
  store::StatusRow s;
  s.time_ms = time_ms;
  s.extra = std::move(extra);
  s.load1 = load1;
  return s;
}

TEST(ComputeReports, RunningComputeServicesWithTheirStats) {
  const int64_t now = 1'000'000;
  auto reports = ComputeReports(
      {Service(1, "compute", 6001, true,
               StatusAt(now - 1000, R"({"sessions":3,"maxSessions":8,"cpus":4,"future":1})", 1.5)),
       Service(2, "hub", 8080, true, StatusAt(now, "")),
       Service(3, "compute", 6003, false, StatusAt(now, "")), Service(4, "compute", 6004, true)},
      now, 5000);
  ASSERT_EQ(reports.size(), 2u);
  const ComputeReport& a = reports[0];
  EXPECT_EQ(a.host, "10.0.0.1");
  EXPECT_EQ(a.port, 6001);
  EXPECT_EQ(a.service_id, 1);
  EXPECT_TRUE(a.has_status);
  EXPECT_TRUE(a.fresh);
  EXPECT_TRUE(a.has_stats);
  EXPECT_EQ(a.stats.sessions(), 3u);
  EXPECT_EQ(a.stats.max_sessions(), 8u);
  EXPECT_EQ(a.stats.cpus(), 4u);
  EXPECT_DOUBLE_EQ(a.load1, 1.5);
  // Registered but never reported: listed, not fresh.
  EXPECT_EQ(reports[1].port, 6004);
  EXPECT_FALSE(reports[1].has_status);
  EXPECT_FALSE(reports[1].fresh);
}

TEST(ComputeReports, AnOldReportIsStaleAndBadExtraIsNoStats) {
  const int64_t now = 1'000'000;
  auto reports =
      ComputeReports({Service(1, "compute", 6001, true, StatusAt(now - 5001, "not json")),
                      Service(2, "compute", 0, true, StatusAt(now, ""))},
                     now, 5000);
  ASSERT_EQ(reports.size(), 1u) << "port 0 is no address";
  EXPECT_TRUE(reports[0].has_status);
  EXPECT_FALSE(reports[0].fresh);
  EXPECT_FALSE(reports[0].has_stats);
}

}  // namespace
}  // namespace salvus::hub
