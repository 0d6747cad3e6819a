// Session cgroups (src/compute/cgroup.h), with the real binary and real
// Sage: where the machine allows, each session's worker and every process
// it starts live in a cgroup of their own, with the session's memory and
// process limits, gone once the session ends. Skips, saying why, where the
// compute server found that the machine does not allow it.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "compute/cgroup.h"
#include "util/compute_process.h"

namespace salvus {
namespace {

using compute::CgroupMembership;
using testutil::ComputeProcess;

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string Trimmed(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

class ComputeCgroupTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    server_ = new ComputeProcess({"--pool", "1", "--memory-mb", "700", "--processes", "40"});
  }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }
  void SetUp() override {
    ASSERT_TRUE(server_->ok()) << server_->log();
    const std::string log = server_->log();
    if (const size_t at = log.find("sessions get no cgroups"); at != std::string::npos) {
      GTEST_SKIP() << "the compute server found no usable cgroups here: "
                   << log.substr(at, log.find('\n', at) - at);
    }
    ASSERT_NE(log.find("gets a cgroup v"), std::string::npos) << log;
    version_ = log[log.find("gets a cgroup v") + 15] - '0';
    client_ = server_->Connect();
    ASSERT_TRUE(client_);
  }

  std::string Start(const proto::Limits& limits = {}) {
    auto s = client_->StartSession("sage", limits);
    EXPECT_TRUE(s) << s.error();
    return s ? *s : "";
  }

  std::string Run(const std::string& session, const std::string& code) {
    auto r = client_->Execute(session, code);
    EXPECT_TRUE(r) << r.error();
    if (!r) return "";
    EXPECT_EQ(r->status, proto::Done::OK) << r->err;
    return r->out;
  }

  // The directories of the cgroups whose membership /proc/PID/cgroup shows
  // as `text`: v2 {dir}, v1 {memory dir, pids dir}.
  std::vector<std::string> Directories(const std::string& text) const {
    const auto mounts = compute::ParseCgroupMounts(ReadAll("/proc/self/mountinfo"));
    const auto memberships = compute::ParseProcCgroup(text);
    if (version_ == 2) return {compute::OwnCgroupDirectory(mounts, memberships, "")};
    return {compute::OwnCgroupDirectory(mounts, memberships, "memory"),
            compute::OwnCgroupDirectory(mounts, memberships, "pids")};
  }

  // Where the session's worker is.
  std::vector<std::string> SessionCgroups(const std::string& session) {
    return Directories(Run(session, "print(open('/proc/self/cgroup').read(), end='')"));
  }

  std::string MemoryLimit(const std::vector<std::string>& dirs) const {
    return Trimmed(ReadAll(dirs[0] + (version_ == 2 ? "/memory.max" : "/memory.limit_in_bytes")));
  }
  std::string ProcessLimit(const std::vector<std::string>& dirs) const {
    return Trimmed(ReadAll(dirs.back() + "/pids.max"));
  }

  void Terminate(const std::string& session) {
    proto::Message t;
    t.mutable_terminate()->set_session(session);
    client_->Request(t);
    ASSERT_TRUE(client_->Receive());
  }

  static bool AllGone(const std::vector<std::string>& dirs) {
    for (int i = 0; i < 200; ++i) {
      bool any = false;
      for (const auto& d : dirs) any = any || std::filesystem::exists(d);
      if (!any) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
  }

  static ComputeProcess* server_;
  std::unique_ptr<compute::ComputeClient> client_;
  int version_ = 0;
};
ComputeProcess* ComputeCgroupTest::server_ = nullptr;

TEST_F(ComputeCgroupTest, EachWorkerHasItsOwnCgroupWithTheLimitsAndItIsGoneAfterTerminate) {
  const std::string s1 = Start();
  const auto dirs = SessionCgroups(s1);
  const std::string parent = "/salvus-compute-" + std::to_string(server_->pid()) + "/w";
  for (const auto& d : dirs) {
    ASSERT_NE(d.find(parent), std::string::npos) << d;
    EXPECT_TRUE(std::filesystem::exists(d + "/cgroup.procs")) << d;
    EXPECT_FALSE(Trimmed(ReadAll(d + "/cgroup.procs")).empty()) << d;  // the worker
  }
  EXPECT_EQ(MemoryLimit(dirs), std::to_string(700ull * 1024 * 1024));
  EXPECT_EQ(ProcessLimit(dirs), "40");

  // What the session starts stays in its cgroup, even in a session of its own.
  const std::string child =
      Run(s1,
          "import subprocess\n"
          "print(subprocess.run(['setsid', 'cat', '/proc/self/cgroup'], capture_output=True,"
          " text=True).stdout, end='')");
  EXPECT_EQ(Directories(child), dirs);

  // Another session: another cgroup.
  const std::string s2 = Start();
  const auto other = SessionCgroups(s2);
  EXPECT_NE(other, dirs);

  Terminate(s1);
  EXPECT_TRUE(AllGone(dirs));
  for (const auto& d : other) EXPECT_TRUE(std::filesystem::exists(d)) << d;
  Terminate(s2);
  EXPECT_TRUE(AllGone(other));
}

TEST_F(ComputeCgroupTest, ASessionGetsTheLimitsItAskedFor) {
  proto::Limits limits;
  limits.set_memory_mb(300);
  limits.set_processes(20);
  const std::string s = Start(limits);
  const auto dirs = SessionCgroups(s);
  EXPECT_EQ(MemoryLimit(dirs), std::to_string(300ull * 1024 * 1024));
  EXPECT_EQ(ProcessLimit(dirs), "20");
  Terminate(s);
  EXPECT_TRUE(AllGone(dirs));
}

TEST_F(ComputeCgroupTest, MemoryIsLimitedForTheWholeSessionNotPerProcess) {
  // A child may map far more than the limit (its address space limit is
  // the worker's); filling more than the session's memory gets it killed.
  proto::Limits limits;
  limits.set_memory_mb(300);
  const std::string s = Start(limits);
  EXPECT_EQ(Run(s,
                "import subprocess, sys\n"
                "print(subprocess.run([sys.executable, '-c', 'b = bytearray(450 * 2**20)'])"
                ".returncode)"),
            "-9\n");
  EXPECT_EQ(Run(s, "'alive'"), "'alive'\n");
  Terminate(s);
}

}  // namespace
}  // namespace salvus
