// The pool of workers under bursts of starts (testing/compute_server_fixture.h:
// fake workers, no Sage): every start of a burst gets a worker, the pool grows
// under a burst and shrinks back when idle, and a start that waits never waits
// behind a warm-up at low priority.
#include <string>
#include <vector>

#include "compute/testing/compute_server_fixture.h"

namespace salvus::compute {
namespace {

class ComputePoolTest : public ComputeServerTest {
 protected:
  ComputePoolTest() {
    opt_.max_sessions = 32;  // `salvus compute`'s default
    opt_.pool_size = 2;
    // A bound only: with the lost wake-up this test guards against, starts
    // waited here until it passed.
    opt_.start_timeout = 20s;
  }

  size_t Ready() {
    return OnLoop([this] { return server_->workers_ready(); });
  }

  // Sends `n` starts at once on `hub`, then reads every answer: the
  // sessions started (in the order of their starts).
  static std::vector<std::string> Burst(TestHub& hub, int n) {
    std::vector<uint64_t> ids;
    for (int i = 0; i < n; ++i) {
      proto::Message m;
      m.mutable_start_session();
      ids.push_back(hub.Send(std::move(m)));
    }
    std::vector<std::string> started;
    for (uint64_t id : ids) {
      auto r = hub.ReceiveFor(id);
      EXPECT_TRUE(r && r->has_session_started()) << (r ? r->DebugString() : "no answer");
      if (r && r->has_session_started()) started.push_back(r->session_started().session());
    }
    return started;
  }

  // A burst of 20, kept and each running a request, then (after they end) one of 30.
  void TwoBursts() {
    StartServer();
    for (int n : {20, 30}) {
      auto hub = Connect();
      const std::vector<std::string> sessions = Burst(*hub, n);
      ASSERT_EQ(sessions.size(), static_cast<size_t>(n));
      for (const std::string& s : sessions) {
        auto done = hub->WaitDone(hub->Execute(s, "2+2"));
        ASSERT_TRUE(done) << s;
        EXPECT_EQ(done->status(), proto::Done::OK);
      }
      EXPECT_EQ(Sessions(), static_cast<size_t>(n));
      hub.reset();  // its sessions end with it
      ASSERT_TRUE(WaitFor([&] { return Sessions() == 0; }, 10s));
    }
  }
};

TEST_F(ComputePoolTest, EveryStartOfTwoBurstsGetsAWorker) {
  opt_.pool_max = opt_.pool_size;  // the pool does not grow: every start waits for a fork
  TwoBursts();
}

TEST_F(ComputePoolTest, EveryStartOfTwoBurstsGetsAWorkerWhileThePoolGrows) {
  opt_.pool_max = 16;
  TwoBursts();
}

TEST_F(ComputePoolTest, ThePoolGrowsUnderABurstAndShrinksBackWhenIdle) {
  opt_.pool_max = 6;
  opt_.pool_idle = 3s;  // long enough to see the pool at its ceiling first
  StartServer();
  ASSERT_TRUE(WaitFor([&] { return Ready() == 2; }));
  auto hub = Connect();
  ASSERT_EQ(Burst(*hub, 10).size(), 10u);
  // Ten starts: the pool aims at its ceiling and gets there.
  EXPECT_EQ(OnLoop([this] { return server_->pool_target(); }), 6u);
  EXPECT_TRUE(WaitFor([&] { return Ready() == 6; }));
  EXPECT_EQ(Sessions(), 10u);
  // No start for pool_idle: back to pool_size, the others retired.
  EXPECT_TRUE(WaitFor([&] { return Ready() == 2; }, 5s));
  EXPECT_EQ(OnLoop([this] { return server_->pool_target(); }), 2u);
  EXPECT_TRUE(WaitFor([&] { return launcher_.reaped == 4; }));
  EXPECT_EQ(Sessions(), 10u);  // sessions are not the pool's to retire
}

TEST_F(ComputePoolTest, WorkersForWaitingStartsAreUrgent) {
  opt_.pool_size = 1;
  opt_.pool_max = 1;
  StartServer();
  ASSERT_TRUE(WaitFor([&] { return Ready() == 1; }));
  EXPECT_EQ(launcher_.urgent, 0);  // the pool's own worker warms up at low priority
  auto hub = Connect();
  ASSERT_EQ(Burst(*hub, 6).size(), 6u);
  // One start took the ready worker; forks for the five that waited were urgent.
  EXPECT_GE(launcher_.urgent, 1);
  EXPECT_LE(launcher_.urgent, 5);
}

TEST_F(ComputePoolTest, AStartNoUrgentForkIsLeftForHurriesAWorkerWarmingUp) {
  opt_.pool_size = 1;
  opt_.pool_max = 1;
  opt_.spawn_in_flight = 1;
  launcher_.start_mode = FakeStart::kNeverReady;  // every worker stays setting up
  StartServer();
  ASSERT_TRUE(WaitFor([&] { return launcher_.spawned == 1; }));
  auto hub = Connect();
  for (int i = 0; i < 2; ++i) {
    proto::Message m;
    m.mutable_start_session();
    hub->Send(std::move(m));
  }
  // The first start gets an urgent fork; the second finds the urgent forks
  // at their cap: the pool's worker, warming up at low priority, gets its
  // normal priority now rather than once ready.
  EXPECT_TRUE(WaitFor([&] { return launcher_.promoted == 1; }));
  EXPECT_EQ(launcher_.urgent, 1);
}

}  // namespace
}  // namespace salvus::compute
