// A worker: one session's process, forked from the zygote. It reads requests
// from its socket to the compute server one at a time, runs them in Python,
// and answers each Execute with Output frames and exactly one Done.
#pragma once

#include <string>

namespace salvus::compute {

struct WorkerConfig {
  int sock = -1;                   // connected to the compute server's main process
  std::string home;                // the session's home (already the cwd)
  bool per_uid_processes = false;  // RLIMIT_NPROC applies to this session alone
  // Runs a few cells quietly before it says it is ready (a pooled worker);
  // false for one a start waits for, whose first cell pays that instead.
  bool warm = true;
};

// Runs the worker until its socket closes. Returns the process exit code.
// REQUIRES: in a freshly forked, sandboxed child, holding the GIL.
int RunWorker(const WorkerConfig& config);

}  // namespace salvus::compute
