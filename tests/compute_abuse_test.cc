// Hostile code, each case contained: the host and the other sessions are
// unharmed and the server serves on. Real Sage, real sandbox (uids, rlimits,
// network namespace and pid namespace need root; those cases skip without).
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include "util/compute_process.h"

namespace salvus {
namespace {

using testutil::ComputeProcess;

class AbuseTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    server_ = new ComputeProcess({"--isolate-network", "--processes", "32", "--memory-mb", "1024",
                                  "--file-size-mb", "10", "--pool", "2"});
  }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "the sandbox needs root";
    ASSERT_TRUE(server_->ok()) << server_->log();
    client_ = server_->Connect();
    ASSERT_TRUE(client_);
    auto s = client_->StartSession("sage");
    ASSERT_TRUE(s) << s.error();
    session_ = *s;
  }
  compute::ComputeClient::Result Run(const std::string& code) {
    auto r = client_->Execute(session_, code);
    EXPECT_TRUE(r) << r.error();
    return r ? *r : compute::ComputeClient::Result{proto::Done::DIED, "", "", r.error()};
  }
  // Another session still computes.
  void ExpectOthersUnharmed() {
    auto c = server_->Connect();
    ASSERT_TRUE(c);
    auto s = c->StartSession("sage");
    ASSERT_TRUE(s) << s.error();
    auto r = c->Execute(*s, "factor(2^64+1)");
    ASSERT_TRUE(r) << r.error();
    EXPECT_EQ(r->out, "274177 * 67280421310721\n");
    auto mine = client_->Execute(session_, "'alive'");
    ASSERT_TRUE(mine);
    EXPECT_EQ(mine->out, "'alive'\n");
  }
  static ComputeProcess* server_;
  std::unique_ptr<compute::ComputeClient> client_;
  std::string session_;
};
ComputeProcess* AbuseTest::server_ = nullptr;

TEST_F(AbuseTest, ForkBombHitsTheSessionsProcessLimit) {
  auto r =
      Run("import os, time\n"
          "n = 0\n"
          "try:\n"
          "    while True:\n"
          "        if os.fork() == 0:\n"
          "            while True:\n"
          "                try: os.fork()\n"
          "                except OSError: time.sleep(0.05)\n"
          "        n += 1\n"
          "except OSError as e:\n"
          "    print('stopped', n < 32, type(e).__name__)\n");
  EXPECT_EQ(r.status, proto::Done::OK) << r.err;
  EXPECT_EQ(r.out, "stopped True BlockingIOError\n") << r.err;
  // No more than the limit in the whole uid range, and the server is fine.
  EXPECT_LE(testutil::ProcessesWithUids(server_->uid_base(), 100).size(), 32u + 4u);
  ExpectOthersUnharmed();
  // Ending the session kills every process it made.
  proto::Message t;
  t.mutable_terminate()->set_session(session_);
  client_->Request(t);
  ASSERT_TRUE(client_->Receive());
  size_t left = 1000;
  for (int i = 0; i < 100; ++i) {
    left = testutil::ProcessesWithUids(server_->uid_base(), 100).size();
    if (left <= 4) break;  // preforked pool workers and the test's other session
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_LE(left, 4u);
}

// Processes (not zombies) whose real uid is `uid`.
size_t LiveProcessesOf(uid_t uid) {
  size_t n = 0;
  for (pid_t p : testutil::ProcessesWithUids(uid, 1)) {
    std::ifstream in("/proc/" + std::to_string(p) + "/stat");
    std::string stat((std::istreambuf_iterator<char>(in)), {});
    const size_t paren = stat.rfind(')');
    if (paren != std::string::npos && paren + 2 < stat.size() && stat[paren + 2] != 'Z') ++n;
  }
  return n;
}

TEST_F(AbuseTest, AForkBombIsGoneWhenItsDoneArrivesAndTheNextCellIsClean) {
  auto id = Run("import os; os.getuid()");
  ASSERT_EQ(id.status, proto::Done::OK) << id.err;
  const uid_t uid = static_cast<uid_t>(std::stoul(id.out));
  // Every copy forks until it cannot, then raises (a traceback each).
  auto r = Run("import os\nwhile True:\n    os.fork()");
  EXPECT_EQ(r.status, proto::Done::ERROR);
  EXPECT_NE(r.err.find("BlockingIOError"), std::string::npos) << r.err;
  // Only the worker is left, at once.
  EXPECT_EQ(LiveProcessesOf(uid), 1u);
  auto next = Run("print('next')");
  EXPECT_EQ(next.out, "next\n");
  EXPECT_EQ(next.err, "");
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  auto later = Run("print('later')");
  EXPECT_EQ(later.out, "later\n");
  EXPECT_EQ(later.err, "");
  ExpectOthersUnharmed();
}

// A process that leaves the group (setsid) but keeps the cell's output
// would print into the next cells: it ends with its cell too.
TEST_F(AbuseTest, ADetachedWriterEndsWithItsCell) {
  auto r =
      Run("%python\nimport os, time\nif os.fork() == 0:\n    os.setsid()\n"
          "    for i in range(100):\n        print('late', i, flush=True); time.sleep(0.02)\n"
          "    os._exit(0)\ntime.sleep(0.1)");
  EXPECT_EQ(r.status, proto::Done::OK) << r.err;
  // The writer would print 25 lines during this cell.
  auto next = Run("%python\nimport time\ntime.sleep(0.5)\nprint('next')");
  EXPECT_EQ(next.out, "next\n");
  EXPECT_EQ(next.err, "");
}

// What a cell leaves running in its process group ends with it; Sage's
// interfaces (their own session, through a pty) keep their state.
TEST_F(AbuseTest, ACellsChildrenEndWithItButSageInterfacesLiveOn) {
  auto first =
      Run("import subprocess\np = subprocess.Popen(['sleep', '60'])\n"
          "m = maxima('a: 6*7')\nprint(maxima.pid() > 0)");
  ASSERT_EQ(first.out, "True\n") << first.err;
  // (Reaped by the worker: Popen finds its child gone.)
  auto second = Run("print(p.poll() is not None, str(maxima('a')).strip())");
  EXPECT_EQ(second.out, "True 42\n") << second.err;
  EXPECT_EQ(second.err, "");
}

TEST_F(AbuseTest, AllocatingHundredGigabytesRaisesMemoryError) {
  auto r = Run("b = bytearray(100 * 10^9)");
  EXPECT_EQ(r.status, proto::Done::ERROR);
  EXPECT_NE(r.err.find("MemoryError"), std::string::npos) << r.err;
  auto r2 = Run("import numpy\na = numpy.ones(10**11)");
  EXPECT_EQ(r2.status, proto::Done::ERROR);
  EXPECT_NE(r2.err.find("MemoryError"), std::string::npos) << r2.err;
  ExpectOthersUnharmed();
}

TEST_F(AbuseTest, InfiniteOutputIsCutAtTheDefaultCap) {
  auto r = Run("while True: print('y' * 1000)");
  EXPECT_EQ(r.status, proto::Done::ERROR);
  EXPECT_LE(r.out.size(), 10u * 1000 * 1000);
  EXPECT_NE(r.err.find("output truncated"), std::string::npos);
  ExpectOthersUnharmed();
}

TEST_F(AbuseTest, HugeFileStopsAtTheFileSizeLimit) {
  auto r = Run("f = open('big', 'wb')\nfor i in range(100): f.write(b'0' * 2^20)");
  EXPECT_EQ(r.status, proto::Done::ERROR);
  EXPECT_NE(r.err.find("File too large"), std::string::npos) << r.err;
  auto size = Run("import os; os.path.getsize('big') <= 10 * 2^20");
  EXPECT_EQ(size.out, "True\n");
  ExpectOthersUnharmed();
}

TEST_F(AbuseTest, AnotherSessionsHomeAndTmpFilesAreUnreadable) {
  auto home =
      Run("import os\n_ = open('secret', 'w').write('s3cret')\n"
          "_ = open('/tmp/abuse-tmp-file', 'w').write('x')\nprint(os.getcwd())");
  ASSERT_EQ(home.status, proto::Done::OK) << home.err;
  const std::string dir = home.out.substr(0, home.out.size() - 1);
  auto other = server_->Connect();
  auto s = other->StartSession("sage");
  ASSERT_TRUE(s);
  // Not there at all for the other session (its own mounts), or closed.
  auto refused = [](const std::string& err) {
    return err.find("PermissionError") != std::string::npos ||
           err.find("FileNotFoundError") != std::string::npos;
  };
  auto r = other->Execute(*s, "open('" + dir + "/secret').read()");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, proto::Done::ERROR);
  EXPECT_TRUE(refused(r->err)) << r->err;
  r = other->Execute(*s, "import os; os.listdir('" + dir + "')");
  ASSERT_TRUE(r);
  EXPECT_TRUE(refused(r->err)) << r->err;
  r = other->Execute(*s, "import os; os.kill(os.getppid(), 9)");  // the zygote: not ours
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, proto::Done::ERROR);
  // Ending the session removes its home and what it left in /tmp. The
  // reaper does it after the session ended: /tmp first, then the session's
  // cgroup, then the home; wait for the last.
  proto::Message t;
  t.mutable_terminate()->set_session(session_);
  client_->Request(t);
  ASSERT_TRUE(client_->Receive());
  for (int i = 0;
       i < 100 && (std::filesystem::exists("/tmp/abuse-tmp-file") || std::filesystem::exists(dir));
       ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_FALSE(std::filesystem::exists("/tmp/abuse-tmp-file"));
  EXPECT_FALSE(std::filesystem::exists(dir));
}

TEST_F(AbuseTest, NoNetworkUnderIsolateNetwork) {
  auto r = Run("import socket\nsocket.create_connection(('127.0.0.1', int(" +
               std::to_string(server_->port()) + ")), timeout=3)");
  EXPECT_EQ(r.status, proto::Done::ERROR);
  EXPECT_NE(r.err.find("OSError"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("unreachable"), std::string::npos) << r.err;
}

TEST(ComputeKill, SigkillOfTheServerLeavesNoWorker) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root (pid namespace, session uids)";
  auto server = std::make_unique<ComputeProcess>(std::vector<std::string>{"--pool", "2"});
  ASSERT_TRUE(server->ok()) << server->log();
  const uid_t base = server->uid_base();
  auto busy = server->Connect();
  auto s1 = busy->StartSession("sage");
  ASSERT_TRUE(s1);
  auto sneaky = server->Connect();
  auto s2 = sneaky->StartSession("sage");
  ASSERT_TRUE(s2);
  // A process that leaves the session's process group and the worker.
  auto r = sneaky->Execute(*s2,
                           "import os, time\nif os.fork() == 0:\n    os.setsid()\n"
                           "    if os.fork() == 0: time.sleep(600)\n    os._exit(0)\n"
                           "time.sleep(0.5)");
  ASSERT_TRUE(r) << r.error();
  proto::Message ex;
  ex.mutable_execute()->set_session(*s1);
  ex.mutable_execute()->set_code("while True: pass");
  busy->Request(ex);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  ASSERT_GE(testutil::ProcessesWithUids(base, 100).size(), 3u);
  server->Kill(SIGKILL);
  size_t left = 1;
  for (int i = 0; i < 100 && left > 0; ++i) {
    left = testutil::ProcessesWithUids(base, 100).size() +
           testutil::ProcessesMatching(server->dir() + "/token").size();
    if (left) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_EQ(left, 0u);
}

TEST(ComputeCpu, CpuTimeLimitEndsTheSessionWithAClearReason) {
  ComputeProcess server({"--kernel", "python", "--cputime", "1"});
  ASSERT_TRUE(server.ok()) << server.log();
  auto c = server.Connect();
  auto s = c->StartSession("python");
  ASSERT_TRUE(s);
  auto r = c->Execute(*s, "while True: pass");
  ASSERT_TRUE(r) << r.error();
  EXPECT_EQ(r->status, proto::Done::DIED);
  EXPECT_NE(r->text.find("CPU time"), std::string::npos) << r->text;
}

}  // namespace
}  // namespace salvus
