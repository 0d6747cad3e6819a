#include "compute/testing/fake_worker_launcher.h"

#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/frame.h"

namespace salvus::compute {

namespace asio = boost::asio;

FakeWorkerLauncher::~FakeWorkerLauncher() {
  std::vector<int> fds;
  std::vector<std::thread> threads;
  {
    std::lock_guard lock(mu_);
    fds.swap(fds_);
    threads.swap(threads_);
  }
  for (int fd : fds) shutdown(fd, SHUT_RDWR);
  for (auto& t : threads) t.join();
  for (int fd : fds) close(fd);
}

proto::Limits FakeWorkerLauncher::last_limits() {
  std::lock_guard lock(mu_);
  return last_limits_;
}

void FakeWorkerLauncher::ReportHeldPids() {
  std::lock_guard lock(mu_);
  for (auto [wid, pid] : held_pids_) {
    asio::post(io_, [this, wid, pid] { listener_->OnWorkerSpawned(wid, pid); });
  }
  held_pids_.clear();
}

void FakeWorkerLauncher::Start(Listener* listener) {
  listener_ = listener;
  asio::post(io_, [this] { listener_->OnLauncherReady("fake"); });
}

void FakeWorkerLauncher::Spawn(uint64_t wid, const WorkerSpec& spec, int fd) {
  ++spawned;
  if (spec.urgent) ++urgent;
  const pid_t pid = next_pid_++;
  std::lock_guard lock(mu_);
  if (hold_pids) {
    held_pids_.emplace_back(wid, pid);
  } else {
    asio::post(io_, [this, wid, pid] { listener_->OnWorkerSpawned(wid, pid); });
  }
  fds_.push_back(fd);
  threads_.emplace_back(
      [this, fd, wid, pid, mode = start_mode.load()] { RunWorker(fd, wid, pid, mode); });
}

void FakeWorkerLauncher::Interrupt(pid_t, uint64_t) { ++interrupts; }

bool FakeWorkerLauncher::Reap(const ReapSpec&, std::function<void()> done) {
  ++reaped;
  asio::post(io_, std::move(done));
  return true;
}

void FakeWorkerLauncher::Exited(uint64_t wid, pid_t pid, int code, int signal) {
  ++exited;
  proto::WorkerExited how;
  how.set_pid(pid);
  how.set_exit_code(code);
  how.set_signal(signal);
  asio::post(io_, [this, wid, how] { listener_->OnWorkerExited(wid, how); });
}

void FakeWorkerLauncher::RunWorker(int fd, uint64_t wid, pid_t pid, FakeStart mode) {
  core::FrameReader in(fd);
  std::string body;
  if (mode == FakeStart::kNeverReady) {
    while (in.Next(&body) == core::ReadStatus::kOk) {
    }
    return Exited(wid, pid, 0, 0);
  }
  proto::Message first;
  if (mode == FakeStart::kFail) {
    first.mutable_error()->set_code(proto::Error::INTERNAL);
    first.mutable_error()->set_text("no Sage here");
  } else {
    first.mutable_ack();
  }
  core::WriteAll(fd, core::EncodeFrame(first));
  proto::WorkerStart start;
  if (in.Next(&body) != core::ReadStatus::kOk || !start.ParseFromString(body)) {
    return Exited(wid, pid, mode == FakeStart::kFail ? 14 : 0, 0);
  }
  {
    std::lock_guard lock(mu_);
    last_limits_ = start.limits();
  }
  while (in.Next(&body) == core::ReadStatus::kOk) {
    proto::Message req;
    if (!req.ParseFromString(body)) continue;
    const std::string& code = req.execute().code();
    if (code == "die") {
      shutdown(fd, SHUT_RDWR);
      return Exited(wid, pid, -1, SIGKILL);
    }
    if (code == "hang") continue;
    proto::Message out;
    out.set_id(req.id());
    out.mutable_output()->set_session(start.session());
    out.mutable_output()->set_text(code);
    proto::Message done;
    done.set_id(req.id());
    done.mutable_done()->set_session(start.session());
    core::WriteAll(fd, core::EncodeFrame(out) + core::EncodeFrame(done));
  }
  Exited(wid, pid, 0, 0);
}

}  // namespace salvus::compute
