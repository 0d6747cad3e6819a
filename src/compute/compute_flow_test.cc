// Backpressure in the compute server: a hub pauses one session (proto
// Flow), whose worker is then not read (its output waits in its socket)
// until the hub lets it go on; other sessions flow meanwhile. And the
// requests waiting for one session's worker are capped.
#include "compute/testing/compute_server_fixture.h"

namespace salvus::compute {
namespace {

proto::Message FlowFor(const std::string& session, bool paused) {
  proto::Message m;
  m.mutable_flow()->set_session(session);
  m.mutable_flow()->set_paused(paused);
  return m;
}

TEST_F(ComputeServerTest, APausedSessionsOutputWaitsInItsWorkerUntilItGoesOn) {
  StartServer();
  auto hub = Connect();
  const std::string a = hub->StartOk();
  const std::string b = hub->StartOk();
  ASSERT_FALSE(a.empty() || b.empty());
  hub->Send(FlowFor(a, true));  // no answer
  const uint64_t run = hub->Execute(a, "held");
  EXPECT_FALSE(hub->Readable(300ms));  // the worker answered; nobody read it
  // The other session is not held up.
  std::string out;
  auto done = hub->WaitDone(hub->Execute(b, "2+2"), &out);
  ASSERT_TRUE(done);
  EXPECT_EQ(out, "2+2");
  EXPECT_FALSE(hub->Readable(100ms));
  hub->Send(FlowFor(a, false));
  out.clear();
  done = hub->WaitDone(run, &out);
  ASSERT_TRUE(done);
  EXPECT_EQ(done->status(), proto::Done::OK);
  EXPECT_EQ(out, "held");
  // Flow for a session that is not there, or not this hub's: ignored.
  hub->Send(FlowFor("nope", true));
  auto other = Connect();
  other->Send(FlowFor(b, true));
  auto nf = other->ReceiveFor(other->Execute("nope", "x"));  // after its Flow was read
  ASSERT_TRUE(nf && nf->has_error());
  done = hub->WaitDone(hub->Execute(b, "still"), &out);
  ASSERT_TRUE(done);
  EXPECT_EQ(done->status(), proto::Done::OK);
}

TEST_F(ComputeServerTest, RequestsWaitingForOneSessionAreCapped) {
  opt_.max_session_requests = 1000;
  StartServer();
  auto hub = Connect();
  const std::string s = hub->StartOk();
  ASSERT_FALSE(s.empty());
  auto r = hub->ReceiveFor(hub->Execute(s, std::string(2000, 'x')));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->error().code(), proto::Error::RESOURCE_EXHAUSTED) << r->DebugString();
  EXPECT_NE(r->error().text().find("too many requests waiting in this session"), std::string::npos);
  std::string out;
  auto done = hub->WaitDone(hub->Execute(s, "small"), &out);
  ASSERT_TRUE(done);
  EXPECT_EQ(out, "small");
}

}  // namespace
}  // namespace salvus::compute
