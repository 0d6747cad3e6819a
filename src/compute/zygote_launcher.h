// The production WorkerLauncher: workers are forked by the zygote (over a
// ZygoteLink) and cleaned up by reapers forked from the main process
// (reaper.h).
//
// Thread-safety: none; runs on the compute server's event loop.
#pragma once

#include <sys/types.h>

#include <boost/asio.hpp>
#include <map>

#include "compute/reaper.h"
#include "compute/worker_launcher.h"
#include "compute/zygote_link.h"

namespace salvus::compute {

class ZygoteLauncher final : public WorkerLauncher {
 public:
  ZygoteLauncher(boost::asio::io_context& io, ZygoteLink link);

  void Start(Listener* listener) override;
  void Spawn(uint64_t wid, const WorkerSpec& spec, int fd) override;
  void Interrupt(pid_t pid, uint64_t request) override;
  void Promote(pid_t pid) override;
  bool Reap(const ReapSpec& spec, std::function<void()> done) override;
  const SessionCgroups* cgroups() const override { return link_.cgroups(); }
  std::string cgroup_problem() const override { return link_.cgroup_problem(); }

  // Kills the zygote (and so every worker) and waits until it is gone.
  void KillZygote();

 private:
  void OnEvent(const proto::ZygoteEvent& ev);

  boost::asio::io_context& io_;
  ZygoteLink link_;
  Reaper reaper_;
  Listener* listener_ = nullptr;
  uint64_t next_request_ = 1;
  std::map<uint64_t, uint64_t> wid_by_request_;  // spawn requests not yet answered
  std::map<pid_t, uint64_t> wid_by_pid_;         // spawned, exit not yet reported
};

}  // namespace salvus::compute
