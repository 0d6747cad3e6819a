// Test support for the compute server without Sage and without processes:
// a fake launcher (fake_worker_launcher.h) and a test hub speaking the
// hub <-> compute protocol over loopback TCP, in a fixture whose timing
// options are milliseconds.
#pragma once

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <future>
#include <optional>
#include <thread>

#include "compute/server.h"
#include "compute/testing/fake_worker_launcher.h"
#include "compute/testing/loopback.h"
#include "core/frame.h"
#include "core/spawn.h"

namespace salvus::compute {

namespace asio = boost::asio;
using namespace std::chrono_literals;

// Polls `done` until it is true or `max` passes; its last answer.
template <class F>
bool WaitFor(F done, std::chrono::milliseconds max = 2s) {
  const auto deadline = std::chrono::steady_clock::now() + max;
  while (std::chrono::steady_clock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(1ms);
  }
  return done();
}

// A hub as the compute server sees it: blocking TCP, frames of Messages.
class TestHub {
 public:
  TestHub(uint16_t port, const std::string& token) {
    fd_ = testutil::ConnectLoopback(port, 2);
    EXPECT_NE(fd_, -1);
    int one = 1;
    setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    proto::Message hello;
    hello.mutable_hello()->set_token(token);
    hello_reply_ = Call(std::move(hello));
  }
  ~TestHub() { close(fd_); }

  const std::optional<proto::Message>& hello_reply() const { return hello_reply_; }
  bool authenticated() const { return hello_reply_ && hello_reply_->has_hello_ok(); }

  // Sends `m` with a fresh id; returns the id.
  uint64_t Send(proto::Message m) {
    m.set_id(next_id_++);
    core::WriteAll(fd_, core::EncodeFrame(m));
    return m.id();
  }
  // The next message; nullopt on EOF or after 2 s.
  std::optional<proto::Message> Receive() {
    std::string body;
    if (core::ReadFrame(fd_, &body) != core::ReadStatus::kOk) return std::nullopt;
    proto::Message m;
    if (!m.ParseFromString(body)) return std::nullopt;
    return m;
  }
  // The next message answering `id` (others are skipped).
  std::optional<proto::Message> ReceiveFor(uint64_t id) {
    for (;;) {
      auto m = Receive();
      if (!m || m->id() == id) return m;
    }
  }
  std::optional<proto::Message> Call(proto::Message m) { return ReceiveFor(Send(std::move(m))); }
  // Whether something arrives within `wait` (nothing is read).
  bool Readable(std::chrono::milliseconds wait) {
    pollfd p{fd_, POLLIN, 0};
    return poll(&p, 1, static_cast<int>(wait.count())) == 1;
  }

  std::optional<proto::Message> Start(const proto::Limits& limits = {}) {
    proto::Message m;
    *m.mutable_start_session()->mutable_limits() = limits;
    return Call(std::move(m));
  }
  // Starts a session; its id ("" on failure).
  std::string StartOk(const proto::Limits& limits = {}) {
    auto r = Start(limits);
    EXPECT_TRUE(r && r->has_session_started()) << (r ? r->DebugString() : "no reply");
    return r && r->has_session_started() ? r->session_started().session() : "";
  }
  uint64_t Execute(const std::string& session, const std::string& code) {
    proto::Message m;
    m.mutable_execute()->set_session(session);
    m.mutable_execute()->set_code(code);
    return Send(std::move(m));
  }
  // The Done answering `id`, with the outputs before it in `*out`.
  std::optional<proto::Done> WaitDone(uint64_t id, std::string* out = nullptr) {
    for (;;) {
      auto m = ReceiveFor(id);
      if (!m) return std::nullopt;
      if (m->has_output() && out) *out += m->output().text();
      if (m->has_done()) return m->done();
    }
  }
  // The next SessionEnded (other messages are skipped).
  std::optional<proto::SessionEnded> WaitEnded() {
    for (;;) {
      auto m = Receive();
      if (!m) return std::nullopt;
      if (m->has_session_ended()) return m->session_ended();
    }
  }

 private:
  int fd_ = -1;
  uint64_t next_id_ = 1;
  std::optional<proto::Message> hello_reply_;
};

class ComputeServerTest : public ::testing::Test {
 protected:
  ComputeServerTest() : launcher_(io_) {
    signal(SIGPIPE, SIG_IGN);  // as `salvus compute` does: fake workers write to closed sockets
    opt_.listen = {"127.0.0.1", 0};
    opt_.token = "secret";
    opt_.kernel = "python";
    opt_.max_sessions = 3;
    opt_.pool_size = 1;
    opt_.pool_max = 1;  // the pool's growth has tests of its own
    opt_.state_dir = "/nonexistent/compute-server-test";
    opt_.default_limits.set_walltime_s(60);
    opt_.default_limits.set_idle_s(60);
    opt_.default_limits.set_memory_mb(1000);
    opt_.hello_timeout = 100ms;
    opt_.start_timeout = 100ms;
    opt_.refill_quiet = 1ms;
    opt_.respawn_backoff = 1ms;
    opt_.exit_report_grace = 100ms;
    opt_.stop_reap_wait = 100ms;
    opt_.stop_reap_poll = 1ms;
  }
  ~ComputeServerTest() override {
    if (thread_.joinable()) {
      asio::post(io_, [this] {
        server_->Stop();
        io_.stop();
      });
      thread_.join();
    }
  }

  // Starts the server with opt_ and waits until it listens.
  void StartServer() {
    server_ = std::make_unique<ComputeServer>(io_, opt_, launcher_);
    core::Spawn(io_, server_->Run(), "compute server");
    while (server_->port() == 0 && io_.run_one() > 0) {
    }
    ASSERT_NE(server_->port(), 0);
    thread_ = std::thread([this] {
      auto work = asio::make_work_guard(io_);
      io_.run();
    });
  }

  std::unique_ptr<TestHub> Connect() {
    auto hub = std::make_unique<TestHub>(server_->port(), opt_.token);
    EXPECT_TRUE(hub->authenticated());
    return hub;
  }

  // Runs `f` on the server's event loop and returns what it returns.
  template <class F>
  auto OnLoop(F f) {
    std::packaged_task<decltype(f())()> task(std::move(f));
    auto result = task.get_future();
    asio::post(io_, [&task] { task(); });
    return result.get();
  }
  size_t Sessions() {
    return OnLoop([this] { return server_->sessions_in_use(); });
  }

  asio::io_context io_;
  FakeWorkerLauncher launcher_;
  ComputeOptions opt_;
  std::unique_ptr<ComputeServer> server_;
  std::thread thread_;
};

}  // namespace salvus::compute
