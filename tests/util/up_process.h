// Test helper: `salvus up --port 0` (a hub and a compute server with real
// Sage) in a fresh data folder, with uids of its own; stopped with SIGTERM,
// checking that nothing is left behind.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "client/hub_client.h"

namespace salvus::testutil {

std::string ReadFile(const std::string& path);

struct UpSetup {
  // The data folder's parent is 0700, as `mktemp -d` makes it (otherwise
  // 0711: session uids pass through to their homes).
  bool private_parent = false;
  // --uid-base from a block of its own; false: `salvus up` picks one (read
  // back from its log).
  bool own_uids = true;
  // --pool: tests start many instances, most of which need a worker or two
  // (0: `salvus up`'s own default, as a burst test wants).
  unsigned pool = 2;
};

class UpProcess {
 public:
  // `extra`: more options for `salvus up`. Waits (up to 180 s) until
  // sessions start through its hub; ok() says whether they do.
  explicit UpProcess(std::vector<std::string> extra = {}, UpSetup setup = {});
  ~UpProcess();
  UpProcess(const UpProcess&) = delete;
  UpProcess& operator=(const UpProcess&) = delete;

  // SIGTERM, a bounded wait, then what is left behind ("" when nothing).
  std::string Stop();

  bool ok() const { return port_ != 0; }
  uint16_t port() const { return port_; }
  pid_t pid() const { return pid_; }
  std::string url() const { return "ws://127.0.0.1:" + std::to_string(port_) + "/ws"; }
  std::string data() const { return dir_ + "/data"; }
  const std::string& dir() const { return dir_; }
  uid_t uid_base() const { return uid_base_; }
  std::string log() const;  // what salvus up and its compute server logged

 private:
  static bool WaitForSessions(uint16_t port, const std::vector<std::string>& extra);
  std::vector<pid_t> Leftovers() const;

  uid_t uid_base_;
  std::string dir_;
  pid_t pid_ = -1;
  uint16_t port_ = 0;
};

// `up`'s compute server: the process naming its log that `up` started, or
// -1 (between a crash and the restart).
pid_t ComputeServerOf(const UpProcess& up);

// Waits (up to 60 s) until `up` has restarted its compute server `old` and
// a session starts again; the new session's id on `c`, or "".
std::string StartAfterRestart(const UpProcess& up, pid_t old, client::HubClient& c);

// A browser-protocol client connected to `up`'s hub (10 s to connect), or
// nullptr.
std::unique_ptr<client::HubClient> ConnectTo(const UpProcess& up);

}  // namespace salvus::testutil
