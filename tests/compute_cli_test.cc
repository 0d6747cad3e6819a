// `salvus compute` refusing bad command lines: the real binary, no Sage (it
// must stop before it starts anything).
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "util/child_process.h"
#include "util/uid_block.h"

namespace salvus {
namespace {

namespace fs = std::filesystem;

class ComputeCliTest : public ::testing::Test {
 protected:
  ComputeCliTest() {
    char tmpl[] = "/tmp/salvus-compute-cli-XXXXXX";
    dir_ = mkdtemp(tmpl);
    std::ofstream(dir_ + "/token") << "test-token-0123456789abcdef\n";
  }
  ~ComputeCliTest() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  // Runs `salvus compute` with `extra`; its exit status, its stderr in *err.
  int Run(const std::vector<std::string>& extra, std::string* err) {
    std::vector<std::string> args = {SALVUS_BINARY, "compute",      "--listen",
                                     "127.0.0.1:0", "--token-file", dir_ + "/token",
                                     "--state-dir", dir_ + "/state"};
    args.insert(args.end(), extra.begin(), extra.end());
    int status;
    {
      testutil::Child child(args, dir_ + "/out", dir_ + "/err");
      status = child.Wait(std::chrono::seconds(30));
    }
    std::ifstream in(dir_ + "/err");
    std::stringstream ss;
    ss << in.rdbuf();
    *err = ss.str();
    return status;
  }

  std::string dir_;
  // Uids of its own: a server on uids in use stops before these checks.
  const std::string uids_ = std::to_string(testutil::ClaimUidBlock(300000, 100, 1000));
};

// `salvus --version` names the version and the commit it was built from.
TEST(SalvusCli, VersionNamesTheVersionAndTheCommit) {
  char tmpl[] = "/tmp/salvus-version-XXXXXX";
  const std::string dir = mkdtemp(tmpl);
  int status;
  {
    testutil::Child child({SALVUS_BINARY, "--version"}, dir + "/out", dir + "/err");
    status = child.Wait(std::chrono::seconds(30));
  }
  std::ifstream in(dir + "/out");
  std::string line;
  std::getline(in, line);
  fs::remove_all(dir);
  EXPECT_EQ(status, 0);
  // "salvus 0.2.0 (e0efacc131a4)" or, outside a git checkout, "(unknown)".
  EXPECT_TRUE(line.starts_with("salvus 0.")) << line;
  EXPECT_NE(line.find(" ("), std::string::npos) << line;
  EXPECT_TRUE(line.ends_with(")")) << line;
}

// `salvus doctor` runs its checks; what fails is named with its fix, and
// the exit status says whether `salvus up` should run.
TEST(SalvusCli, DoctorNamesWhatFailsAndHowToFixIt) {
  char tmpl[] = "/tmp/salvus-doctor-XXXXXX";
  const std::string dir = mkdtemp(tmpl);
  fs::create_directories(dir + "/web");
  std::ofstream(dir + "/web/index.html") << "<!doctype html>\n";
  auto doctor = [&](const std::vector<std::string>& extra, std::string* out) {
    std::vector<std::string> args = {SALVUS_BINARY, "doctor", "--data", dir + "/data"};
    args.insert(args.end(), extra.begin(), extra.end());
    int status;
    {
      testutil::Child child(args, dir + "/out", dir + "/err");
      status = child.Wait(std::chrono::seconds(120));
    }
    std::ifstream in(dir + "/out");
    std::stringstream ss;
    ss << in.rdbuf();
    *out = ss.str();
    return status;
  };
  // A port something listens on.
  const int busy = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  ASSERT_EQ(bind(busy, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  ASSERT_EQ(listen(busy, 1), 0);
  getsockname(busy, reinterpret_cast<sockaddr*>(&a), &len);
  const std::string port = std::to_string(ntohs(a.sin_port));
  std::string out;
  EXPECT_EQ(doctor({"--port", port, "--web", dir + "/none", "--kernel", "python"}, &out), 1);
  EXPECT_NE(out.find("FAIL  port 127.0.0.1:" + port + " is taken\n      fix: "), std::string::npos)
      << out;
  EXPECT_NE(out.find("FAIL  no web client in " + dir + "/none\n      fix: "), std::string::npos)
      << out;
  EXPECT_NE(out.find("2 problem(s) to fix first"), std::string::npos) << out;
  close(busy);
  // Sage imports, the port is free, the page is there.
  EXPECT_EQ(doctor({"--port", port, "--web", dir + "/web"}, &out), 0) << out;
  EXPECT_NE(out.find("ok    Sage imports in /usr/bin/python3"), std::string::npos) << out;
  EXPECT_NE(out.find("salvus up should run here"), std::string::npos) << out;
  if (geteuid() == 0) {
    EXPECT_NE(out.find("ok    sessions get mount namespaces of their own"), std::string::npos)
        << out;
    EXPECT_NE(out.find("ok    sessions get no network"), std::string::npos) << out;
  }
  fs::remove_all(dir);
}

TEST_F(ComputeCliTest, AMissingTlsCertificateIsAClearErrorAndExitCode2) {
  std::string err;
  const std::string cert = dir_ + "/missing-cert.pem";
  EXPECT_EQ(Run({"--tls-cert", cert, "--tls-key", dir_ + "/missing-key.pem"}, &err), 2);
  EXPECT_EQ(err,
            "salvus compute: cannot read --tls-cert " + cert + ": No such file or directory\n");
}

TEST_F(ComputeCliTest, AnUnloadableTlsCertificateIsAClearErrorAndExitCode2) {
  std::ofstream(dir_ + "/cert.pem") << "not a certificate\n";
  std::ofstream(dir_ + "/key.pem") << "not a key\n";
  std::string err;
  EXPECT_EQ(Run({"--tls-cert", dir_ + "/cert.pem", "--tls-key", dir_ + "/key.pem"}, &err), 2);
  EXPECT_EQ(err.rfind("salvus compute: cannot load --tls-cert " + dir_ + "/cert.pem", 0), 0u)
      << err;
  EXPECT_EQ(std::count(err.begin(), err.end(), '\n'), 1) << err;
}

// A state directory someone else could have prepared, or one session uids
// could not pass through, is refused before anything starts: never at the
// first session.
TEST_F(ComputeCliTest, AStateDirectoryThatIsASymlinkIsRefused) {
  fs::create_directory(dir_ + "/elsewhere");
  fs::create_directory_symlink(dir_ + "/elsewhere", dir_ + "/state");
  chmod(dir_.c_str(), 0711);
  std::string err;
  EXPECT_EQ(Run({"--kernel", "python", "--uid-base", uids_, "--uid-count", "100"}, &err), 2);
  EXPECT_EQ(err, "salvus compute: state directory: " + dir_ + "/state is a symlink\n");
  EXPECT_FALSE(fs::exists(dir_ + "/elsewhere/homes"));
}

TEST_F(ComputeCliTest, AStateDirectoryOfAnotherUserIsRefused) {
  if (geteuid() != 0) GTEST_SKIP() << "giving a directory away needs root";
  fs::create_directory(dir_ + "/state");
  ASSERT_EQ(chown((dir_ + "/state").c_str(), 4242, 4242), 0);
  chmod(dir_.c_str(), 0711);
  std::string err;
  EXPECT_EQ(Run({"--kernel", "python", "--uid-base", uids_, "--uid-count", "100"}, &err), 2);
  EXPECT_EQ(err, "salvus compute: state directory: " + dir_ +
                     "/state belongs to uid 4242, not to this user (uid 0)\n");
}

TEST_F(ComputeCliTest, AsRootAStateDirectorySessionUidsCannotReachIsRefused) {
  if (geteuid() != 0) GTEST_SKIP() << "sessions have uids of their own only as root";
  chmod(dir_.c_str(), 0700);  // as mkdtemp made it
  std::string err;
  EXPECT_EQ(Run({"--kernel", "python", "--uid-base", uids_, "--uid-count", "100"}, &err), 2);
  EXPECT_EQ(err, "salvus compute: session uids could not reach their homes in " + dir_ +
                     "/state: " + dir_ +
                     " (mode 700) lets no other user through; choose a --state-dir they can "
                     "reach (every folder above it with o+x)\n");
}

}  // namespace
}  // namespace salvus
