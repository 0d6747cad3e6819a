// The compute server without Sage and without processes: a fake launcher
// (testing/fake_worker_launcher.h) and a test hub speaking the hub <->
// compute protocol over loopback TCP. Every timing option is
// milliseconds, so the whole file runs in well under a second.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <future>
#include <limits>
#include <optional>
#include <thread>

#include "compute/limits.h"
#include "compute/server.h"
#include "compute/testing/fake_worker_launcher.h"
#include "core/frame.h"
#include "core/spawn.h"

namespace salvus::compute {
namespace {

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
    fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    timeval tv{2, 0};
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    int one = 1;
    setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    EXPECT_EQ(connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
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

TEST_F(ComputeServerTest, StartsASessionAndRunsARequest) {
  StartServer();
  auto hub = Connect();
  EXPECT_EQ(hub->hello_reply()->hello_ok().kernels(0), "python");
  const std::string s = hub->StartOk();
  ASSERT_FALSE(s.empty());
  std::string out;
  auto done = hub->WaitDone(hub->Execute(s, "2+2"), &out);
  ASSERT_TRUE(done);
  EXPECT_EQ(done->status(), proto::Done::OK);
  EXPECT_EQ(out, "2+2");
  EXPECT_EQ(Sessions(), 1u);
  // The pool is refilled behind the session, and ready workers get their
  // normal priority back.
  EXPECT_TRUE(WaitFor([&] { return launcher_.spawned == 2 && launcher_.promoted == 2; }));
}

TEST_F(ComputeServerTest, ATokenIsNeeded) {
  StartServer();
  TestHub hub(server_->port(), "wrong");
  ASSERT_TRUE(hub.hello_reply());
  EXPECT_EQ(hub.hello_reply()->error().code(), proto::Error::UNAUTHENTICATED);
  EXPECT_FALSE(hub.Receive());  // and the connection is closed
}

TEST_F(ComputeServerTest, RequestedLimitsAreClampedToTheOperators) {
  opt_.max_limits.set_walltime_s(30);
  opt_.max_limits.set_memory_mb(500);
  StartServer();
  auto hub = Connect();
  proto::Limits asked;
  asked.set_walltime_s(3600);
  asked.set_memory_mb(4000);
  asked.set_idle_s(5);
  auto r = hub->Start(asked);
  ASSERT_TRUE(r && r->has_session_started());
  const proto::Limits& got = r->session_started().limits();
  EXPECT_EQ(got.walltime_s(), 30);   // clamped
  EXPECT_EQ(got.memory_mb(), 500u);  // clamped (the default, 1000, is over the maximum too)
  EXPECT_EQ(got.idle_s(), 5);        // under the maximum (none): as asked
  EXPECT_TRUE(WaitFor([&] { return launcher_.last_limits().walltime_s() == 30; }));
  EXPECT_EQ(launcher_.last_limits().memory_mb(), 500u);
}

// A request can only lower a limit: without --max-*, the defaults are the
// ceiling (the request, and values no conversion could take).
TEST_F(ComputeServerTest, ARequestCannotRaiseALimitPastTheDefault) {
  opt_.default_limits = DefaultLimits();
  StartServer();
  auto hub = Connect();
  proto::Limits asked;
  asked.set_memory_mb(10000000);
  asked.set_processes(100000);
  asked.set_cputime_s(999999999);
  asked.set_walltime_s(std::numeric_limits<double>::infinity());
  asked.set_idle_s(std::numeric_limits<double>::quiet_NaN());
  asked.set_output_bytes(100000000000);
  asked.set_open_files(10);  // lower: as asked
  auto r = hub->Start(asked);
  ASSERT_TRUE(r && r->has_session_started()) << (r ? r->DebugString() : "no reply");
  const proto::Limits& got = r->session_started().limits();
  const proto::Limits d = DefaultLimits();
  EXPECT_EQ(got.memory_mb(), d.memory_mb());
  EXPECT_EQ(got.processes(), d.processes());
  EXPECT_EQ(got.cputime_s(), d.cputime_s());
  EXPECT_EQ(got.walltime_s(), d.walltime_s());
  EXPECT_EQ(got.idle_s(), d.idle_s());
  EXPECT_EQ(got.output_bytes(), d.output_bytes());
  EXPECT_EQ(got.open_files(), 10u);
  EXPECT_TRUE(WaitFor([&] { return launcher_.last_limits().memory_mb() == d.memory_mb(); }));
}

TEST_F(ComputeServerTest, WalltimeEndsASessionAndItsRequest) {
  StartServer();
  auto hub = Connect();
  proto::Limits l;
  l.set_walltime_s(0.1);
  const std::string s = hub->StartOk(l);
  const uint64_t id = hub->Execute(s, "hang");
  auto done = hub->WaitDone(id);
  ASSERT_TRUE(done);
  EXPECT_EQ(done->status(), proto::Done::DIED);
  EXPECT_EQ(done->text(), "the session reached its walltime limit of 0 s");
  auto ended = hub->WaitEnded();
  ASSERT_TRUE(ended);
  EXPECT_EQ(ended->session(), s);
  EXPECT_EQ(Sessions(), 0u);
  EXPECT_TRUE(WaitFor([&] { return launcher_.reaped == 1; }));
}

TEST_F(ComputeServerTest, IdlenessEndsASessionButARunningRequestIsNotIdle) {
  StartServer();
  auto hub = Connect();
  proto::Limits l;
  l.set_idle_s(0.15);
  const std::string busy = hub->StartOk(l);
  const std::string idle = hub->StartOk(l);
  hub->Execute(busy, "hang");
  auto ended = hub->WaitEnded();
  ASSERT_TRUE(ended);
  EXPECT_EQ(ended->session(), idle);
  EXPECT_EQ(ended->reason(), "the session was idle for 0 s");
  EXPECT_EQ(Sessions(), 1u);
}

TEST_F(ComputeServerTest, AnotherHubCannotUseASession) {
  StartServer();
  auto first = Connect();
  const std::string s = first->StartOk();
  auto second = Connect();  // more than one hub may connect
  auto r = second->ReceiveFor(second->Execute(s, "1"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->error().code(), proto::Error::PERMISSION_DENIED);
  r = second->ReceiveFor(second->Execute("nope", "1"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->error().code(), proto::Error::NOT_FOUND);
  auto done = first->WaitDone(first->Execute(s, "still mine"));
  ASSERT_TRUE(done);
  EXPECT_EQ(done->status(), proto::Done::OK);
}

// A compute server has no takeover: sessions live and die with their hub's
// connection (hubs keep browsers' sessions across browser reconnects).
TEST_F(ComputeServerTest, AHubsSessionsEndWhenItDisconnects) {
  StartServer();
  auto hub = Connect();
  hub->StartOk();
  hub->StartOk();
  EXPECT_EQ(Sessions(), 2u);
  hub.reset();
  EXPECT_TRUE(WaitFor([&] { return Sessions() == 0; }));
  EXPECT_TRUE(WaitFor([&] { return launcher_.reaped == 2; }));
}

TEST_F(ComputeServerTest, AFullServerSaysSo) {
  opt_.max_sessions = 2;
  StartServer();
  auto hub = Connect();
  hub->StartOk();
  hub->StartOk();
  auto r = hub->Start();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->error().code(), proto::Error::UNAVAILABLE);
  EXPECT_EQ(r->error().text(),
            "the compute server is full: 2 sessions are running (--max-sessions)");
}

TEST_F(ComputeServerTest, AWorkerDyingMidRequestEndsItsSessionAndThePoolRefills) {
  StartServer();
  auto hub = Connect();
  const std::string s = hub->StartOk();
  auto done = hub->WaitDone(hub->Execute(s, "die"));
  ASSERT_TRUE(done);
  EXPECT_EQ(done->status(), proto::Done::DIED);
  EXPECT_EQ(done->text(), "the session's process was killed (SIGKILL)");
  auto ended = hub->WaitEnded();
  ASSERT_TRUE(ended);
  EXPECT_EQ(ended->reason(), "the session's process was killed (SIGKILL)");
  EXPECT_TRUE(WaitFor([&] { return launcher_.reaped == 1; }));
  // The pool is full again, and the next session runs.
  const std::string next = hub->StartOk();
  done = hub->WaitDone(hub->Execute(next, "ok"));
  ASSERT_TRUE(done);
  EXPECT_EQ(done->status(), proto::Done::OK);
}

TEST_F(ComputeServerTest, InterruptAndTerminate) {
  StartServer();
  auto hub = Connect();
  const std::string s = hub->StartOk();
  const uint64_t id = hub->Execute(s, "hang");
  proto::Message m;
  m.mutable_interrupt()->set_session(s);
  auto r = hub->Call(m);
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->has_ack());
  EXPECT_EQ(launcher_.interrupts, 1);
  proto::Message t;
  t.mutable_terminate()->set_session(s);
  const uint64_t tid = hub->Send(t);
  auto done = hub->Receive();
  ASSERT_TRUE(done);
  EXPECT_EQ(done->id(), id);
  EXPECT_EQ(done->done().status(), proto::Done::DIED);
  EXPECT_EQ(done->done().text(), "the session was terminated");
  auto ack = hub->Receive();
  ASSERT_TRUE(ack);
  EXPECT_EQ(ack->id(), tid);
  EXPECT_TRUE(ack->has_ack());
  EXPECT_EQ(Sessions(), 0u);
}

TEST_F(ComputeServerTest, WhenNoWorkerCanStartAStartFailsWithTheReason) {
  launcher_.start_mode = FakeStart::kFail;
  StartServer();
  auto hub = Connect();
  auto r = hub->Start();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->error().code(), proto::Error::UNAVAILABLE);
  EXPECT_EQ(r->error().text(), "session could not start: no worker could be started: no Sage here");
  EXPECT_GE(launcher_.spawned, 3);
}

TEST_F(ComputeServerTest, AStartNoWorkerTakesUpTimesOut) {
  launcher_.start_mode = FakeStart::kNeverReady;
  StartServer();
  auto hub = Connect();
  auto r = hub->Start();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->error().code(), proto::Error::UNAVAILABLE);
  EXPECT_EQ(r->error().text(), "session could not start: no worker became ready within 0 s");
}

// Before its hello a peer is anyone: a frame over a few KB closes the
// connection (a hello with the right token but a 5 KB name included); once
// authenticated, large frames pass.
TEST_F(ComputeServerTest, FramesBeforeHelloAreSmall) {
  StartServer();
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(server_->port());
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  timeval tv{2, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ASSERT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  proto::Message hello;
  hello.set_id(1);
  hello.mutable_hello()->set_token(opt_.token);
  hello.mutable_hello()->set_client(std::string(5000, 'x'));
  ASSERT_GT(hello.ByteSizeLong(), core::kMaxHelloFrame);
  core::WriteAll(fd, core::EncodeFrame(hello));
  std::string body;
  EXPECT_NE(core::ReadFrame(fd, &body), core::ReadStatus::kOk) << "closed without an answer";
  close(fd);

  auto hub = Connect();
  const std::string s = hub->StartOk();
  const std::string big(100000, 'y');
  std::string out;
  auto done = hub->WaitDone(hub->Execute(s, big), &out);
  ASSERT_TRUE(done);
  EXPECT_EQ(done->status(), proto::Done::OK);
  EXPECT_EQ(out, big);
}

TEST_F(ComputeServerTest, AHubMustSayHelloPromptly) {
  StartServer();
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(server_->port());
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  timeval tv{2, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ASSERT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  const auto t0 = std::chrono::steady_clock::now();
  char c;
  EXPECT_EQ(read(fd, &c, 1), 0);  // closed by the server
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 1s);
  close(fd);
}

}  // namespace
}  // namespace salvus::compute
