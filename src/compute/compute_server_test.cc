// The compute server without Sage and without processes
// (testing/compute_server_fixture.h): sessions, limits, deadlines, hubs.
// Every timing option is milliseconds, so the whole file runs in well
// under a second.
#include <signal.h>

#include <limits>

#include "compute/limits.h"
#include "compute/testing/compute_server_fixture.h"
#include "core/metrics.h"

namespace salvus::compute {
namespace {

TEST_F(ComputeServerTest, StartsASessionAndRunsARequest) {
  StartServer();
  // The pool's worker is ready (and back at normal priority) before the
  // start: a start that found none would get an urgent worker of its own,
  // which is never lowered, so never promoted.
  ASSERT_TRUE(WaitFor([&] { return launcher_.promoted == 1; }));
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

// How many worker processes ended with `cause` (salvus_compute_worker_exits_total).
uint64_t Exits(const char* cause) {
  return core::metrics::Default()
      .counter("salvus_compute_worker_exits_total", "Worker processes that ended, by cause.",
               std::string("cause=\"") + cause + "\"")
      .value();
}

TEST_F(ComputeServerTest, AWorkerDyingMidRequestEndsItsSessionAndThePoolRefills) {
  const uint64_t signalled = Exits("signal"), by_server = Exits("ended_by_server");
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
  // /metrics has it by cause: a signal, not the server's doing.
  EXPECT_EQ(OnLoop([&] { return Exits("signal"); }), signalled + 1);
  EXPECT_EQ(OnLoop([&] { return Exits("ended_by_server"); }), by_server);
  // The pool is full again, and the next session runs.
  const std::string next = hub->StartOk();
  done = hub->WaitDone(hub->Execute(next, "ok"));
  ASSERT_TRUE(done);
  EXPECT_EQ(done->status(), proto::Done::OK);
}

TEST_F(ComputeServerTest, InterruptAndTerminate) {
  const uint64_t ended_before = Exits("ended_by_server");
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
  EXPECT_TRUE(WaitFor([&] { return Exits("ended_by_server") == ended_before + 1; }));
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
  const int fd = testutil::ConnectLoopback(server_->port(), 2);
  ASSERT_NE(fd, -1);
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
  const int fd = testutil::ConnectLoopback(server_->port(), 2);
  ASSERT_NE(fd, -1);
  const auto t0 = std::chrono::steady_clock::now();
  char c;
  EXPECT_EQ(read(fd, &c, 1), 0);  // closed by the server
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 1s);
  close(fd);
}

// Stopping cleans every worker, not only those serving a session: a ready
// worker's home and uid were left behind (found by bench/soak).
TEST_F(ComputeServerTest, StoppingReapsThePoolsWorkersToo) {
  opt_.pool_size = 2;
  opt_.pool_max = 2;
  StartServer();
  auto hub = Connect();
  ASSERT_FALSE(hub->StartOk().empty());
  ASSERT_TRUE(WaitFor([&] { return launcher_.spawned == 3 && launcher_.promoted == 3; }));
  OnLoop([this] {
    server_->Stop();
    return 0;
  });
  // The session's worker and the two ready ones.
  EXPECT_TRUE(WaitFor([&] { return launcher_.reaped == 3; })) << launcher_.reaped;
}

// A hub the server has let go of is freed: whether it said hello and left,
// sent something else first, never spoke or was stopped with the server
// (its connection's end handler held it in a cycle: LSan found 25 KB).
TEST_F(ComputeServerTest, HubsThatLeaveAreLetGo) {
  StartServer();
  auto hubs = [&] { return OnLoop([this] { return server_->hubs_connected(); }); };
  {
    auto hub = Connect();
    hub->StartOk();
    TestHub stranger(server_->port(), "wrong");
    EXPECT_EQ(hubs(), 2u);
  }
  const int fd = testutil::ConnectLoopback(server_->port(), 2);
  ASSERT_NE(fd, -1);
  ASSERT_EQ(write(fd, "\0\0\0\1x", 5), 5);  // a malformed frame before hello
  char c;
  while (read(fd, &c, 1) > 0) {
  }
  close(fd);
  EXPECT_TRUE(WaitFor([&] { return hubs() == 0; })) << hubs();
  auto last = Connect();
  EXPECT_TRUE(WaitFor([&] { return hubs() == 1; }));
  OnLoop([this] {
    server_->Stop();
    return 0;
  });
  EXPECT_EQ(hubs(), 0u);
}

// The launcher says a worker's pid a moment after its fork: an interrupt
// that comes first waits for it...
TEST_F(ComputeServerTest, AnInterruptBeforeTheWorkersPidIsKnownIsSentOnceItIs) {
  launcher_.hold_pids = true;
  StartServer();
  auto hub = Connect();
  const std::string s = hub->StartOk();
  hub->Execute(s, "hang");
  proto::Message in;
  in.mutable_interrupt()->set_session(s);
  auto r = hub->Call(in);
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->has_ack());
  EXPECT_EQ(launcher_.interrupts, 0);  // no pid to signal yet
  launcher_.ReportHeldPids();
  EXPECT_TRUE(WaitFor([&] { return launcher_.interrupts == 1; }));
}

// ...and a worker retired before its pid is known is reaped (its uid given
// back) once it is.
TEST_F(ComputeServerTest, AWorkerRetiredBeforeItsPidIsKnownIsReapedOnceItIs) {
  launcher_.hold_pids = true;
  StartServer();
  auto hub = Connect();
  const std::string s = hub->StartOk();
  proto::Message t;
  t.mutable_terminate()->set_session(s);
  auto r = hub->Call(t);
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->has_ack());
  // Past exit_report_grace, so it is retired now. (Were it not yet, it
  // would be reaped all the same.)
  std::this_thread::sleep_for(500ms);
  EXPECT_EQ(launcher_.reaped, 0);  // nothing to reap without a pid
  launcher_.ReportHeldPids();
  EXPECT_TRUE(WaitFor([&] { return launcher_.reaped == 1; }));
}

}  // namespace
}  // namespace salvus::compute
