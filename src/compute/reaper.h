// Clean-up of retired workers: a short-lived child of the compute server's
// (small, single-threaded) main process kills a session's processes and
// removes its files (ReapSession in sandbox.h), off the event loop. Forking
// the zygote instead would copy Sage's page tables for nothing. The children
// are waited for on SIGCHLD.
//
// Thread-safety: none; runs on the compute server's event loop.
#pragma once

#include <sys/types.h>

#include <boost/asio.hpp>
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace salvus::compute {

class Reaper {
 public:
  // `on_other_exit` hears of children that are not reapers (the zygote).
  Reaper(boost::asio::io_context& io, std::function<void(pid_t pid, int status)> on_other_exit);

  // Starts waiting for SIGCHLD.
  void Start();
  // Forks a reaper for the worker `pid` (running as `uid`, living in `home`
  // and `cgroup_leaves`); `done` runs once it has exited. False if the fork
  // failed (then `done` never runs).
  bool Reap(pid_t pid, uid_t uid, const std::string& home,
            const std::vector<std::string>& cgroup_leaves, std::function<void()> done);
  // Reapers still running.
  size_t running() const { return running_.size(); }

 private:
  void OnSigchld();

  boost::asio::signal_set sigchld_;
  std::function<void(pid_t, int)> on_other_exit_;
  std::map<pid_t, std::function<void()>> running_;  // reaper pid -> its `done`
};

}  // namespace salvus::compute
