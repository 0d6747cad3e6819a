#include "compute/reaper.h"

#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "compute/sandbox.h"
#include "core/fork.h"

namespace salvus::compute {

Reaper::Reaper(boost::asio::io_context& io, std::function<void(pid_t, int)> on_other_exit)
    : sigchld_(io, SIGCHLD), on_other_exit_(std::move(on_other_exit)) {}

void Reaper::Start() {
  sigchld_.async_wait([this](boost::system::error_code ec, int) {
    if (!ec) OnSigchld();
  });
}

bool Reaper::Reap(pid_t pid, uid_t uid, const std::string& home,
                  const std::vector<std::string>& cgroup_leaves, std::function<void()> done) {
  pid_t reaper = core::Fork();
  if (reaper == 0) {
    ReapSession(pid, uid, home, cgroup_leaves);
    _exit(0);
  }
  if (reaper < 0) {
    spdlog::error("fork for the reaper of pid {}: {}", pid, strerror(errno));
    return false;
  }
  running_[reaper] = std::move(done);
  return true;
}

void Reaper::OnSigchld() {
  int status;
  pid_t pid;
  while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
    auto it = running_.find(pid);
    if (it != running_.end()) {
      auto done = std::move(it->second);
      running_.erase(it);
      if (done) done();
    } else if (on_other_exit_) {
      on_other_exit_(pid, status);
    }
  }
  Start();
}

}  // namespace salvus::compute
