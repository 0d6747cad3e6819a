#include "compute/stats_file.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

namespace salvus::compute {
namespace {

std::string Read(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST(StatsFile, JsonNamesEveryFieldEvenZero) {
  proto::ComputeStats s;
  s.set_max_sessions(32);
  s.set_cpus(2);
  EXPECT_EQ(StatsJson(s), R"({"sessions":0,"maxSessions":32,"cpus":2})");
}

TEST(StatsFile, WritesAtOnceThenFollowsChanges) {
  const std::string path =
      std::filesystem::temp_directory_path() / ("salvus-stats-test-" + std::to_string(getpid()));
  boost::asio::io_context io;
  uint32_t sessions = 1;
  StatsFile f(
      io, path,
      [&] {
        proto::ComputeStats s;
        s.set_sessions(sessions);
        s.set_max_sessions(4);
        return s;
      },
      std::chrono::milliseconds(1));
  f.Start();
  EXPECT_EQ(Read(path), "{\"sessions\":1,\"maxSessions\":4,\"cpus\":0}\n");
  sessions = 3;
  for (int i = 0; i < 1000 && Read(path).find("\"sessions\":3") == std::string::npos; ++i) {
    io.run_one();
  }
  EXPECT_EQ(Read(path), "{\"sessions\":3,\"maxSessions\":4,\"cpus\":0}\n");
  EXPECT_FALSE(std::filesystem::exists(path + ".tmp"));
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace salvus::compute
