// What a session's walls cost (as root): a fork whose child enters the
// mount and IPC namespaces (session_mounts.h) against a plain fork, each
// timed from fork to reaped, and the end-of-cell look for leftover
// processes (cell_processes.h). Prints one JSON object.
#include <sched.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "compute/cell_processes.h"
#include "compute/sandbox.h"
#include "compute/session_mounts.h"

using namespace salvus::compute;
using Clock = std::chrono::steady_clock;

namespace {

double Us(Clock::time_point since) {
  return std::chrono::duration<double, std::micro>(Clock::now() - since).count();
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

constexpr uid_t kUid = 299997;  // no session block reaches it

// Fork to reaped, with (`mounts`) or without the session's namespaces; the
// child's own set-up time goes to `setup`.
void TimeForks(const std::string& dir, bool mounts, int n, std::vector<double>* total,
               std::vector<double>* setup) {
  for (int i = 0; i < n; ++i) {
    const std::string home = dir + "/w" + std::to_string(i);
    mkdir(home.c_str(), 0700);
    int p[2];
    if (pipe(p) != 0) std::exit(1);
    const auto t0 = Clock::now();
    const pid_t pid = fork();
    if (pid == 0) {
      const auto t = Clock::now();
      bool ok = true;
      if (mounts) ok = unshare(CLONE_NEWIPC) == 0 && EnterSessionMounts({home, kUid, 1024});
      double d = ok ? Us(t) : -1;
      (void)!write(p[1], &d, sizeof d);
      _exit(0);
    }
    double d = -1;
    (void)!read(p[0], &d, sizeof d);
    close(p[0]);
    close(p[1]);
    waitpid(pid, nullptr, 0);
    total->push_back(Us(t0));
    setup->push_back(d);
    rmdir(home.c_str());
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (geteuid() != 0) {
    std::fprintf(stderr, "sandbox_bench: needs root (mount namespaces)\n");
    return 2;
  }
  const int n = argc > 1 && std::string(argv[1]) == "--quick" ? 20 : 200;
  char dir[] = "/var/tmp/salvus-sandbox-bench-XXXXXX";
  if (mkdtemp(dir) == nullptr) return 1;
  chmod(dir, 0711);
  std::vector<double> plain, plain_setup, mounts, mounts_setup;
  TimeForks(dir, false, n, &plain, &plain_setup);
  TimeForks(dir, true, n, &mounts, &mounts_setup);
  if (*std::min_element(mounts_setup.begin(), mounts_setup.end()) < 0) {
    std::fprintf(stderr, "sandbox_bench: entering the session's mounts failed\n");
    return 1;
  }
  // The end of a cell that forked nothing: one read of /proc/loadavg; one
  // that did: a scan of this /proc (here the host's, with every process).
  const auto t = Clock::now();
  for (int i = 0; i < 1000; ++i) (void)NewestPid();
  const double newest_us = Us(t) / 1000;
  // (In a child leading a group of its own: it kills the rest of its group.)
  int p[2];
  if (pipe(p) != 0) return 1;
  const pid_t scanner = fork();
  if (scanner == 0) {
    setpgid(0, 0);
    const auto t2 = Clock::now();
    for (int i = 0; i < 100; ++i) EndOtherProcessesInGroup();
    const double us = Us(t2) / 100;
    (void)!write(p[1], &us, sizeof us);
    _exit(0);
  }
  double scan_us = -1;
  (void)!read(p[0], &scan_us, sizeof scan_us);
  waitpid(scanner, nullptr, 0);
  RemoveTree(dir);
  std::printf(
      "{\"forks\": %d, \"plain_fork_to_reaped_us\": %.0f, \"mounts_fork_to_reaped_us\": %.0f, "
      "\"mounts_setup_in_child_us\": %.0f, \"cell_end_newest_pid_us\": %.1f, "
      "\"cell_end_scan_host_proc_us\": %.0f}\n",
      n, Median(plain), Median(mounts), Median(mounts_setup), newest_us, scan_us);
  return 0;
}
