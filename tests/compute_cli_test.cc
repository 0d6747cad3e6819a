// `salvus compute` refusing bad command lines: the real binary, no Sage (it
// must stop before it starts anything).
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "util/child_process.h"

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

}  // namespace
}  // namespace salvus
