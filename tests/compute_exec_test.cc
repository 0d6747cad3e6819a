// `salvus exec --compute` and `salvus compute`'s command line, end to end:
// the real binary against a real compute server.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "util/compute_process.h"

namespace salvus {
namespace {

// `salvus exec` itself: streams, exit codes, stdin.
struct ExecRun {
  int code;
  std::string out, err;
};

ExecRun RunExec(const testutil::ComputeProcess& server, const std::string& args,
                const std::string& stdin_text = "") {
  const std::string& dir = server.dir();
  const std::string cmd = std::string(SALVUS_BINARY) +
                          " exec --compute 127.0.0.1:" + std::to_string(server.port()) +
                          " --token-file " + dir + "/token " + args + " < " + dir + "/stdin > " +
                          dir + "/out 2> " + dir + "/err";
  { std::ofstream(dir + "/stdin") << stdin_text; }
  int status = std::system(cmd.c_str());
  auto slurp = [](const std::string& p) {
    std::ifstream in(p);
    return std::string((std::istreambuf_iterator<char>(in)), {});
  };
  return {WEXITSTATUS(status), slurp(dir + "/out"), slurp(dir + "/err")};
}

TEST(ComputeExec, ExitCodesAndStreams) {
  testutil::ComputeProcess server({"--pool", "1"});
  ASSERT_TRUE(server.ok()) << server.log();
  auto ok = RunExec(server, "'factor(2^64+1)'");
  EXPECT_EQ(ok.code, 0) << ok.err;
  EXPECT_EQ(ok.out, "274177 * 67280421310721\n");
  auto raised = RunExec(server, "'print(\"partial\")\n1/0'");
  EXPECT_EQ(raised.code, 1);
  EXPECT_EQ(raised.out, "partial\n");
  EXPECT_NE(raised.err.find("ZeroDivisionError"), std::string::npos) << raised.err;
  auto piped = RunExec(server, "-", "for i in range(3): print(i)\n");
  EXPECT_EQ(piped.code, 0) << piped.err;
  EXPECT_EQ(piped.out, "0\n1\n2\n");
  auto wrong =
      testutil::ComputeProcess::WriteFile(server.dir() + "/wrong", "not-the-cluster-token-000");
  const std::string cmd = std::string(SALVUS_BINARY) +
                          " exec --compute 127.0.0.1:" + std::to_string(server.port()) +
                          " --token-file " + wrong + " 1 2>" + server.dir() + "/err2";
  EXPECT_EQ(WEXITSTATUS(std::system(cmd.c_str())), 2);
  auto refused = RunExec(server, "--no-such-option 1");
  EXPECT_EQ(refused.code, 2);
  EXPECT_FALSE(refused.err.empty());
}

TEST(ComputeExec, UnreachableServerIsExitTwo) {
  char tmpl[] = "/tmp/salvus-exec-XXXXXX";
  std::string dir = mkdtemp(tmpl);
  { std::ofstream(dir + "/token") << "0123456789abcdef0123"; }
  const std::string cmd = std::string(SALVUS_BINARY) + " exec --compute 127.0.0.1:1 --token-file " +
                          dir + "/token '1' 2>/dev/null";
  EXPECT_EQ(WEXITSTATUS(std::system(cmd.c_str())), 2);
  std::filesystem::remove_all(dir);
}

TEST(ComputeUids, ARangeInUseIsRefused) {
  if (geteuid() != 0) GTEST_SKIP() << "session uids need root";
  testutil::ComputeProcess first({"--kernel", "python", "--pool", "1"});
  ASSERT_TRUE(first.ok()) << first.log();
  // A second server on the same uids would kill the first one's sessions.
  const std::string cmd =
      std::string(SALVUS_BINARY) + " compute --kernel python --listen 127.0.0.1:0 --token-file " +
      first.dir() + "/token --state-dir " + first.dir() + "/state2 --uid-base " +
      std::to_string(first.uid_base()) + " --uid-count 100 2>" + first.dir() + "/err2";
  EXPECT_EQ(WEXITSTATUS(std::system(cmd.c_str())), 2);
  std::ifstream in(first.dir() + "/err2");
  std::string err((std::istreambuf_iterator<char>(in)), {});
  EXPECT_NE(err.find("already runs with a uid"), std::string::npos) << err;
}

}  // namespace
}  // namespace salvus
