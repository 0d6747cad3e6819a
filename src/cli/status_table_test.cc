#include "cli/status_table.h"

#include <gtest/gtest.h>

#include "store/testing/sample_service.h"

namespace salvus::cli {
namespace {

using store::SampleServiceStatus;

TEST(StatusTableTest, Durations) {
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

TEST(StatusTableTest, Table) {
  auto a = SampleServiceStatus();
  a.service.name = "c1";
  auto b = SampleServiceStatus();
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

}  // namespace
}  // namespace salvus::cli
