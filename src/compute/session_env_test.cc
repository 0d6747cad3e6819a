#include "compute/session_env.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdlib>
#include <map>
#include <string>

extern char** environ;

namespace salvus::compute {
namespace {

std::map<std::string, std::string> Environment() {
  std::map<std::string, std::string> env;
  for (char** e = environ; *e != nullptr; ++e) {
    const std::string kv = *e;
    const size_t eq = kv.find('=');
    env[kv.substr(0, eq)] = eq == std::string::npos ? "" : kv.substr(eq + 1);
  }
  return env;
}

[[noreturn]] void ZygoteFromAnOperatorsEnvironment() {
  setenv("SALVUS_SECRET_TEST", "x", 1);
  setenv("PWD", "/root/secret-project", 1);
  setenv("OLDPWD", "/root", 1);
  setenv("PATH", "/home/operator/bin:/usr/bin", 1);
  SetZygoteEnvironment("/state/zygote");
  std::map<std::string, std::string> want;
  for (const auto& [k, v] : FixedSessionEnvironment()) want[k] = v;
  want["HOME"] = "/state/zygote";
  want["DOT_SAGE"] = "/state/zygote/.sage";
  want["MPLCONFIGDIR"] = "/state/zygote/.matplotlib";
  _exit(Environment() == want ? 0 : 1);
}

[[noreturn]] void WorkerAfterZygote() {
  SetZygoteEnvironment("/state/zygote");
  umask(022);
  SetWorkerEnvironment("/state/homes/w7");
  auto env = Environment();
  const mode_t mask = umask(0);
  _exit(env["HOME"] == "/state/homes/w7" && env["DOT_SAGE"] == "/state/homes/w7/.sage" &&
                env["MPLCONFIGDIR"] == "/state/homes/w7/.matplotlib" &&
                env["TMPDIR"] == "/state/homes/w7" && env["USER"] == "sage" &&
                env["PATH"] == "/usr/local/bin:/usr/bin:/bin" &&
                env.count("SALVUS_SECRET_TEST") == 0 && mask == 077
            ? 0
            : 1);
}

// In child processes (death tests): they change this process's environment.
TEST(SessionEnvironment, TheZygoteKeepsNothingOfTheOperatorsEnvironment) {
  EXPECT_EXIT(ZygoteFromAnOperatorsEnvironment(), ::testing::ExitedWithCode(0), "");
}

TEST(SessionEnvironment, AWorkerGetsItsOwnHomeAndAPrivateUmask) {
  setenv("SALVUS_SECRET_TEST", "x", 1);
  EXPECT_EXIT(WorkerAfterZygote(), ::testing::ExitedWithCode(0), "");
  unsetenv("SALVUS_SECRET_TEST");
}

}  // namespace
}  // namespace salvus::compute
