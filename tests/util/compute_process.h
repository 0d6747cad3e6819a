// Test helper: runs the real `salvus compute` binary on a free loopback port
// and stops it afterwards (SIGTERM, then SIGKILL).
#pragma once

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "compute/client.h"

namespace salvus::testutil {

class ComputeProcess {
 public:
  // `extra`: more command-line options. Waits (up to 120 s) until it listens.
  explicit ComputeProcess(std::vector<std::string> extra = {});
  ~ComputeProcess();

  bool ok() const { return port_ != 0; }
  uint16_t port() const { return port_; }
  pid_t pid() const { return pid_; }
  const std::string& dir() const { return dir_; }
  const std::string& token() const { return token_; }
  uid_t uid_base() const { return uid_base_; }  // its 100 session uids start here
  std::string state_dir() const { return dir_ + "/state"; }
  std::string log() const;  // everything it logged so far

  compute::ClientOptions client_options() const;
  std::unique_ptr<compute::ComputeClient> Connect() const;

  void Kill(int sig);  // and wait for it
  static std::string WriteFile(const std::string& path, const std::string& content);

 private:
  uid_t uid_base_;
  std::string dir_;
  std::string token_;
  pid_t pid_ = -1;
  uint16_t port_ = 0;
};

// Processes (pids) whose real uid lies in [first, first + count).
std::vector<pid_t> ProcessesWithUids(uid_t first, unsigned count);
// Processes whose command line contains `needle`.
std::vector<pid_t> ProcessesMatching(const std::string& needle);

}  // namespace salvus::testutil
