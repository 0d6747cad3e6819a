// `salvus compute` refusing bad command lines: the real binary, no Sage (it
// must stop before it starts anything).
#include <gtest/gtest.h>
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
