// The soak's cluster: a real PostgreSQL and memcached, and `salvus up`
// (its hub, and the compute server it restarts) using both, on a port that
// stays the same across restarts; and the faults injected into it.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "util/child_process.h"
#include "util/memcached_process.h"
#include "util/postgres_server.h"

namespace salvus::soak {

class Cluster {
 public:
  // Starts everything; throws std::runtime_error if a part cannot start.
  Cluster(std::string binary, unsigned max_sessions, unsigned uid_base);
  ~Cluster();
  Cluster(const Cluster&) = delete;
  Cluster& operator=(const Cluster&) = delete;

  uint16_t port() const { return port_; }
  pid_t up_pid() const { return up_ ? up_->pid() : -1; }
  pid_t compute_pid() const;  // 0 while none runs
  std::string data() const { return dir_ + "/data"; }

  // The faults; each returns what it did ("" if it found nothing to do).
  std::string KillWorker(std::mt19937& rng);  // SIGKILL one session's worker
  std::string KillCompute();                  // SIGKILL; `up` restarts it
  std::string RestartMemcached();
  std::string RestartPostgres();
  std::string RestartUp();  // SIGKILL `salvus up` (hub and compute), start it again

  // Stops `up` (SIGTERM) and waits; then what is left that should not be:
  // processes of the session uids, cgroups of compute servers, session homes,
  // files of the session uids in /tmp, /var/tmp, /dev/shm.
  std::vector<std::string> StopAndListLeftovers();

 private:
  void StartUp();
  void StopUp(int signal);

  std::string binary_;
  unsigned max_sessions_;
  unsigned uid_base_;
  std::string dir_;
  testutil::PostgresServer pg_;
  std::unique_ptr<testutil::MemcachedProcess> memcached_;
  std::string db_url_;
  uint16_t port_ = 0;
  std::unique_ptr<testutil::Child> up_;  // salvus up
};

// The resident set of `pid` in kB (0 if it is gone).
long RssKb(pid_t pid);

}  // namespace salvus::soak
