#include "compute/output.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <cerrno>

#include "core/frame.h"

namespace salvus::compute {

using Clock = std::chrono::steady_clock;

namespace {
bool g_forked_child = false;
void MarkForkedChild() { g_forked_child = true; }
}  // namespace

bool OutputChannel::InForkedChild() { return g_forked_child; }

OutputChannel::OutputChannel(int sock, int out_pipe, int err_pipe)
    : sock_(sock), pipes_{out_pipe, err_pipe} {
  timer_fd_ = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
  for (int p : pipes_) {
    if (p >= 0) fcntl(p, F_SETFL, fcntl(p, F_GETFL) | O_NONBLOCK);
  }
}

OutputChannel::~OutputChannel() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
    // Fire the timer now to wake the pump.
    itimerspec now{};
    now.it_value.tv_nsec = 1;
    timerfd_settime(timer_fd_, 0, &now, nullptr);
  }
  if (pump_.joinable()) pump_.join();
  close(timer_fd_);
}

void OutputChannel::Start() {
  static const int registered = pthread_atfork(nullptr, nullptr, MarkForkedChild);
  (void)registered;
  // Signals (SIGINT for interrupts, cysignals' handlers) must reach the
  // thread running Python, never the pump.
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, &old);
  pump_ = std::thread([this] { PumpLoop(); });
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
}

void OutputChannel::BeginRequest(uint64_t id, const std::string& session, uint64_t cap) {
  std::lock_guard lock(mu_);
  SendPendingLocked();
  request_id_ = id;
  session_ = session;
  target_.clear();
  cap_ = cap;
  written_ = 0;
  overflowed_ = false;
}

bool OutputChannel::overflowed() const {
  std::lock_guard lock(mu_);
  return overflowed_;
}

bool OutputChannel::Write(proto::Output::Stream stream, std::string_view bytes) {
  if (g_forked_child) {
    // The pump lives in the worker; reach it through the pipes.
    core::WriteAll(stream == proto::Output::STDERR ? 2 : 1, bytes);
    return true;
  }
  std::lock_guard lock(mu_);
  AppendLocked(stream, bytes);
  if (pending_bytes_ >= kMaxPending) SendPendingLocked();
  return !overflowed_;
}

void OutputChannel::SetDiscard(bool discard) {
  std::lock_guard lock(mu_);
  DrainPipesLocked();
  if (discard_) {
    pending_.clear();
    pending_bytes_ = 0;
  }
  discard_ = discard;
}

void OutputChannel::AppendLocked(proto::Output::Stream stream, std::string_view bytes) {
  if (overflowed_ || discard_ || bytes.empty()) return;
  if (cap_ > 0 && written_ + bytes.size() > cap_) {
    bytes = bytes.substr(0, cap_ - written_);
    overflowed_ = true;
  }
  written_ += bytes.size();
  const int s = stream == proto::Output::STDERR ? 1 : 0;
  if (pending_.empty() || pending_.back().stream != stream) pending_.push_back({stream, {}});
  if (pending_bytes_ == 0 && !timer_armed_) ArmTimerLocked(true);
  std::string& text = pending_.back().text;
  const size_t before = text.size();
  sanitizers_[s].Feed(bytes, &text);
  pending_bytes_ += text.size() - before;
  if (overflowed_) {
    sanitizers_[s].Finish(&text);
    StopFloodLocked();
  }
}

void OutputChannel::StopFloodLocked() {
  overflowed_ = true;
  kill(getpid(), SIGINT);  // stop the code that floods; the pump blocks SIGINT
  pending_.push_back({proto::Output::STDERR, "\n[output truncated: this request wrote more than " +
                                                 std::to_string(cap_) +
                                                 " bytes; execution stopped]\n"});
  if (!timer_armed_) ArmTimerLocked(true);
}

void OutputChannel::DrainPipesLocked() {
  // One poll tells which pipe has data (usually neither): cheaper than a
  // read per pipe on every request.
  pollfd ready[2] = {{pipes_[0], POLLIN, 0}, {pipes_[1], POLLIN, 0}};
  if (poll(ready, 2, 0) <= 0) return;
  char buf[65536];
  for (int s = 0; s < 2; ++s) {
    if (pipes_[s] < 0 || !(ready[s].revents & (POLLIN | POLLHUP))) continue;
    for (;;) {
      ssize_t n = read(pipes_[s], buf, sizeof buf);
      if (n > 0) {
        AppendLocked(s == 0 ? proto::Output::STDOUT : proto::Output::STDERR,
                     std::string_view(buf, static_cast<size_t>(n)));
        if (pending_bytes_ >= kMaxPending) SendPendingLocked();
      } else if (n < 0 && errno == EINTR) {
        continue;
      } else {
        break;
      }
    }
  }
}

bool OutputChannel::WriteLocked(const std::string& frame) {
  if (!socket_ok_) return false;
  if (frame.empty()) return true;
  socket_ok_ = core::WriteAll(sock_, frame);
  return socket_ok_;
}

void OutputChannel::ArmTimerLocked(bool arm) {
  itimerspec t{};
  if (arm) t.it_value.tv_nsec = std::chrono::nanoseconds(kCoalesce).count();
  timerfd_settime(timer_fd_, 0, &t, nullptr);
  timer_armed_ = arm;
}

void OutputChannel::SendPendingLocked() { WriteLocked(TakePendingFramesLocked()); }

std::string OutputChannel::TakePendingFramesLocked() {
  if (timer_armed_) ArmTimerLocked(false);
  std::string frames;
  if (pending_.empty()) return frames;
  proto::Message m;
  m.set_id(request_id_);
  auto* out = m.mutable_output();
  out->set_session(session_);
  out->set_target(target_);
  for (Chunk& c : pending_) {
    if (c.text.empty()) continue;
    out->set_stream(c.stream);
    out->set_text(std::move(c.text));
    core::AppendFrame(m, &frames);
  }
  pending_.clear();
  pending_bytes_ = 0;
  return frames;
}

void OutputChannel::Flush() {
  std::lock_guard lock(mu_);
  DrainPipesLocked();
  SendPendingLocked();
}

bool OutputChannel::SendFrame(const proto::Message& msg) {
  std::lock_guard lock(mu_);
  DrainPipesLocked();
  // The output and the frame after it leave in one write.
  std::string frames = TakePendingFramesLocked();
  core::AppendFrame(msg, &frames);
  return WriteLocked(frames);
}

bool OutputChannel::SendDisplay(proto::Message display, proto::Message blob) {
  if (g_forked_child) return false;
  std::lock_guard lock(mu_);
  if (discard_) return true;
  const size_t bytes = display.ByteSizeLong() + (blob.has_blob() ? blob.ByteSizeLong() : 0);
  if (overflowed_ || (cap_ > 0 && written_ + bytes > cap_)) {
    if (!overflowed_) StopFloodLocked();
    return false;
  }
  written_ += bytes;
  DrainPipesLocked();
  std::string frames = TakePendingFramesLocked();
  if (blob.has_blob()) {
    blob.set_id(request_id_);
    core::AppendFrame(blob, &frames);
  }
  display.set_id(request_id_);
  display.mutable_display()->set_session(session_);
  display.mutable_display()->set_target(target_);
  core::AppendFrame(display, &frames);
  return WriteLocked(frames);
}

void OutputChannel::SetTarget(std::string target) {
  if (g_forked_child) return;
  std::lock_guard lock(mu_);
  if (target == target_) return;
  DrainPipesLocked();
  SendPendingLocked();
  target_ = std::move(target);
}

void OutputChannel::PumpLoop() {
  pollfd fds[3] = {{timer_fd_, POLLIN, 0}, {pipes_[0], POLLIN, 0}, {pipes_[1], POLLIN, 0}};
  for (;;) {
    int r = poll(fds, 3, -1);
    if (r < 0 && errno != EINTR) return;
    std::lock_guard lock(mu_);
    if (stop_) return;
    // C-level output: take it in as it comes (AppendLocked arms the timer);
    // it is sent with the rest when the timer fires.
    if ((fds[1].revents | fds[2].revents) & (POLLIN | POLLHUP)) {
      DrainPipesLocked();
      if ((fds[1].revents | fds[2].revents) & POLLHUP) fds[1].fd = fds[2].fd = -1;
    }
    if (fds[0].revents & POLLIN) {
      uint64_t expirations;
      (void)!read(timer_fd_, &expirations, sizeof expirations);
      if (timer_armed_) {
        timer_armed_ = false;
        SendPendingLocked();
      }
    }
  }
}

}  // namespace salvus::compute
