#include "compute/zygote_launcher.h"

#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/wait.h>

#include <cerrno>

#include "compute/cgroup.h"

namespace salvus::compute {

ZygoteLauncher::ZygoteLauncher(boost::asio::io_context& io, ZygoteLink link)
    : io_(io), link_(std::move(link)), reaper_(io, [this](pid_t pid, int status) {
        if (pid == link_.pid()) spdlog::debug("zygote exited with status {}", status);
      }) {}

void ZygoteLauncher::Start(Listener* listener) {
  listener_ = listener;
  reaper_.Start();
  link_.Attach(
      io_, [this](const proto::ZygoteEvent& ev) { OnEvent(ev); },
      [this] { listener_->OnLauncherLost(); });
}

void ZygoteLauncher::OnEvent(const proto::ZygoteEvent& ev) {
  switch (ev.body_case()) {
    case proto::ZygoteEvent::kReady:
      listener_->OnLauncherReady(ev.ready());
      return;
    case proto::ZygoteEvent::kWarning:
      listener_->OnLauncherWarning(ev.warning());
      return;
    case proto::ZygoteEvent::kFailed: {
      auto it = wid_by_request_.find(ev.id());
      if (ev.id() == 0 || it == wid_by_request_.end()) {
        listener_->OnLauncherFailed(ev.failed());
        return;
      }
      const uint64_t wid = it->second;
      wid_by_request_.erase(it);
      listener_->OnWorkerSpawnFailed(wid, ev.failed());
      return;
    }
    case proto::ZygoteEvent::kSpawnedPid: {
      auto it = wid_by_request_.find(ev.id());
      if (it == wid_by_request_.end()) return;
      const uint64_t wid = it->second;
      wid_by_request_.erase(it);
      wid_by_pid_[ev.spawned_pid()] = wid;
      listener_->OnWorkerSpawned(wid, ev.spawned_pid());
      return;
    }
    case proto::ZygoteEvent::kExited: {
      auto it = wid_by_pid_.find(ev.exited().pid());
      if (it == wid_by_pid_.end()) return;
      const uint64_t wid = it->second;
      wid_by_pid_.erase(it);
      listener_->OnWorkerExited(wid, ev.exited());
      return;
    }
    default:
      return;
  }
}

void ZygoteLauncher::Spawn(uint64_t wid, const WorkerSpec& spec, int fd) {
  proto::ZygoteRequest zr;
  zr.set_id(next_request_++);
  auto* sp = zr.mutable_spawn();
  sp->set_uid(spec.uid);
  sp->set_home(spec.home);
  sp->set_isolate_network(spec.isolate_network);
  sp->set_urgent(spec.urgent);
  wid_by_request_[zr.id()] = wid;
  link_.Send(zr, fd);
}

void ZygoteLauncher::Interrupt(pid_t pid, uint64_t request) {
  proto::ZygoteRequest zr;
  zr.set_id(next_request_++);
  zr.mutable_signal()->set_pid(pid);
  zr.mutable_signal()->set_signal(SIGINT);
  zr.mutable_signal()->set_request(request);
  link_.Send(zr);
}

void ZygoteLauncher::Promote(pid_t pid) {
  proto::ZygoteRequest zr;
  zr.set_id(next_request_++);
  zr.set_promote_pid(pid);
  link_.Send(zr);
}

bool ZygoteLauncher::Reap(const ReapSpec& spec, std::function<void()> done) {
  const std::vector<std::string> leaves =
      link_.cgroups() ? CgroupLeafDirs(link_.cgroups()->parents(), spec.home)
                      : std::vector<std::string>{};
  return reaper_.Reap(spec.pid, spec.uid, spec.home, leaves, std::move(done));
}

void ZygoteLauncher::KillZygote() {
  if (link_.pid() <= 0) return;
  kill(link_.pid(), SIGKILL);
  int status;
  while (waitpid(link_.pid(), &status, 0) < 0 && errno == EINTR) {
  }
}

}  // namespace salvus::compute
