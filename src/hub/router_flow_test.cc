// The Router's backpressure: a browser that does not read what it is sent
// (backed up, ws_session.cc) has its sessions paused at their compute
// servers (proto Flow), and nothing else is.
#include <gtest/gtest.h>

#include "hub/router_test_util.h"

namespace salvus::hub {
namespace {

// The Flow messages in `out`: session -> paused, with the link each went to.
struct Flows {
  std::map<std::string, bool> paused;
  std::map<std::string, size_t> link;
};
Flows FlowsIn(const std::vector<Out>& out) {
  Flows f;
  for (const Out& o : out) {
    auto* c = std::get_if<ToCompute>(&o);
    if (c == nullptr || !c->msg.has_flow()) continue;
    EXPECT_EQ(f.paused.count(c->msg.flow().session()), 0u) << "told twice";
    f.paused[c->msg.flow().session()] = c->msg.flow().paused();
    f.link[c->msg.flow().session()] = c->link;
  }
  return f;
}

TEST_F(RouterTest, ABackedUpBrowsersSessionsPauseAtTheirComputeServersAndGoOnAfter) {
  r_.SetConnAddress(1, "10.0.0.1");
  r_.SetConnAddress(2, "10.0.0.1");
  const auto a = Start(1, 1, "a");
  const auto b = Start(1, 2, "b");
  const auto other = Start(2, 1, "other");
  std::vector<Out> out;
  r_.SetConnBackedUp(1, true, &out);
  Flows f = FlowsIn(out);
  ASSERT_EQ(f.paused.size(), 2u);  // its own sessions, not the other connection's
  EXPECT_TRUE(f.paused[a] && f.paused[b]);
  EXPECT_EQ(f.link[a], links_[a]);
  EXPECT_EQ(f.link[b], links_[b]);
  out.clear();
  r_.SetConnBackedUp(1, true, &out);  // already so: nothing more
  EXPECT_TRUE(out.empty());
  // A session it starts meanwhile is paused as soon as it exists.
  r_.OnBrowserText(1, R"({"id": 3, "startSession": {}})", &out);
  ASSERT_EQ(out.size(), 1u);
  proto::Message started;
  started.set_id(Msg(out[0]).id());
  started.mutable_session_started()->set_session("c");
  const size_t link = Link(out[0]);
  out.clear();
  r_.OnComputeMessage(link, started, &out);
  f = FlowsIn(out);
  ASSERT_EQ(f.paused.size(), 1u);
  EXPECT_TRUE(f.paused["c"]);
  // Caught up: all three go on.
  out.clear();
  r_.SetConnBackedUp(1, false, &out);
  f = FlowsIn(out);
  ASSERT_EQ(f.paused.size(), 3u);
  EXPECT_FALSE(f.paused[a] || f.paused[b] || f.paused["c"]);
  out.clear();
  r_.SetConnBackedUp(2, false, &out);  // was never backed up
  EXPECT_TRUE(out.empty());
  (void)other;
}

// A detached session is never paused (its buffer is capped instead); a
// resume onto a backed-up connection pauses it again.
TEST_F(RouterTest, ABackedUpBrowserThatLeavesUnpausesItsSessionsAndAResumeTakesItsState) {
  r_.SetConnAddress(1, "10.0.0.1");
  const auto a = Start(1, 1, "a");
  std::vector<Out> out;
  r_.SetConnBackedUp(1, true, &out);
  out.clear();
  r_.OnBrowserClosed(1, &out, kT0);
  Flows f = FlowsIn(out);
  ASSERT_EQ(f.paused.size(), 1u);
  EXPECT_FALSE(f.paused[a]);
  EXPECT_EQ(r_.detached(), 1u);
  // A late word from the closed connection does nothing.
  out.clear();
  r_.SetConnBackedUp(1, true, &out);
  EXPECT_TRUE(out.empty());
  r_.SetConnAddress(2, "10.0.0.1");
  r_.SetConnBackedUp(2, true, &out);  // no sessions yet: nothing to tell
  EXPECT_TRUE(out.empty());
  out = ResumeFrom(r_, 2, 5, a);
  f = FlowsIn(out);
  ASSERT_EQ(f.paused.size(), 1u);
  EXPECT_TRUE(f.paused[a]);
  EXPECT_EQ(BrowserGets(out, 2).at(0).session_started().session(), a);
}

// A browser may not send Flow: it is the hub's word to compute servers.
TEST_F(RouterTest, ABrowserCannotPauseOrUnpauseASession) {
  const auto a = Start(1, 1, "a");
  std::vector<Out> out;
  r_.OnBrowserText(1, R"({"id": 7, "flow": {"session": "a", "paused": true}})", &out);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(Parse(Text(out[0])).error().code(), proto::Error::BAD_REQUEST);
  (void)a;
}

}  // namespace
}  // namespace salvus::hub
