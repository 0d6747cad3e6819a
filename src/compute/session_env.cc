#include "compute/session_env.h"

#include <sys/stat.h>

#include <cstdlib>

namespace salvus::compute {
namespace {

void SetHome(const std::string& home) {
  setenv("HOME", home.c_str(), 1);
  setenv("DOT_SAGE", (home + "/.sage").c_str(), 1);  // Sage cannot import without it
  setenv("MPLCONFIGDIR", (home + "/.matplotlib").c_str(), 1);
}

}  // namespace

std::vector<std::pair<std::string, std::string>> FixedSessionEnvironment() {
  return {
      {"PATH", "/usr/local/bin:/usr/bin:/bin"},
      {"LANG", "C.UTF-8"},
      {"TERM", "dumb"},               // output goes to a page, not a terminal
      {"MPLBACKEND", "agg"},          // Debian's matplotlibrc says TkAgg
      {"OPENBLAS_NUM_THREADS", "1"},  // no idle BLAS threads in every worker
      {"OMP_NUM_THREADS", "1"},
  };
}

void SetZygoteEnvironment(const std::string& home) {
  clearenv();
  for (const auto& [name, value] : FixedSessionEnvironment()) {
    setenv(name.c_str(), value.c_str(), 1);
  }
  SetHome(home);
}

void SetWorkerEnvironment(const std::string& home) {
  SetHome(home);
  setenv("TMPDIR", home.c_str(), 1);
  setenv("USER", "sage", 1);
  umask(077);
}

}  // namespace salvus::compute
