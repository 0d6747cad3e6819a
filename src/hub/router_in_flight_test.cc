// What a connection has in flight, and which of its messages are free of
// the rate limit: one sent to a compute server while nothing else of the
// connection is in flight (a client that waits for each answer).
#include <gtest/gtest.h>

#include "hub/router_test_util.h"

namespace salvus::hub {
namespace {

std::string ExecJson(uint64_t bid, const std::string& session) {
  return R"({"id": )" + std::to_string(bid) + R"(, "execute": {"session": ")" + session +
         R"(", "code": "1"}})";
}

TEST_F(RouterTest, ASequentialClientPaysNothingAFloodPaysPerMessage) {
  std::vector<Out> out;
  // A start with nothing in flight is free; its sessionStarted ends it.
  EXPECT_TRUE(r_.OnBrowserText(1, R"({"id": 1, "startSession": {}})", &out));
  EXPECT_EQ(r_.InFlight(1), 1u);
  proto::Message started;
  started.set_id(Msg(out[0]).id());
  started.mutable_session_started()->set_session("s");
  r_.OnComputeMessage(Link(out[0]), started, &out);
  EXPECT_EQ(r_.InFlight(1), 0u);
  const size_t link = Link(out[0]);

  // Each execute sent after the previous one's done is free, however many.
  for (uint64_t bid = 2; bid < 500; ++bid) {
    out.clear();
    ASSERT_TRUE(r_.OnBrowserText(1, ExecJson(bid, "s"), &out)) << bid;
    const uint64_t hub_id = Msg(out[0]).id();
    r_.OnComputeMessage(link, Reply(hub_id, "s", "1\n"), &out);
    EXPECT_EQ(r_.InFlight(1), 1u);  // output is not the end
    r_.OnComputeMessage(link, DoneFor(hub_id, "s"), &out);
    ASSERT_EQ(r_.InFlight(1), 0u);
  }

  // Sent while another is in flight: it pays, and so does an interrupt.
  out.clear();
  EXPECT_TRUE(r_.OnBrowserText(1, ExecJson(600, "s"), &out));
  const uint64_t first = Msg(out[0]).id();
  EXPECT_FALSE(r_.OnBrowserText(1, ExecJson(601, "s"), &out));
  EXPECT_FALSE(r_.OnBrowserText(1, R"({"id": 602, "interrupt": {"session": "s"}})", &out));
  EXPECT_EQ(r_.InFlight(1), 3u);
  EXPECT_EQ(r_.InFlight(2), 0u);  // another connection's count is its own
  r_.OnComputeMessage(link, DoneFor(first, "s"), &out);
  EXPECT_EQ(r_.InFlight(1), 2u);
}

TEST_F(RouterTest, WhatIsAnsweredHereAlwaysPays) {
  Start(1, 1, "s");
  std::vector<Out> out;
  EXPECT_FALSE(r_.OnBrowserText(1, "{not json", &out));
  EXPECT_FALSE(r_.OnBrowserText(1, ExecJson(2, "nope"), &out));                         // NOT_FOUND
  EXPECT_FALSE(r_.OnBrowserText(1, R"({"id": 3, "resume": {"session": "s"}})", &out));  // ours
  EXPECT_FALSE(r_.OnBrowserText(1, R"({"id": 4, "getShared": {"id": "x"}})", &out));    // the store
  EXPECT_FALSE(r_.OnBrowserText(
      1, R"({"id": 5, "execute": {"session": "s", "code": ")" + std::string(2000, 'x') + "\"}}",
      &out));  // too large
  EXPECT_EQ(r_.InFlight(1), 0u);
  EXPECT_EQ(r_.pending(), 0u);
}

TEST_F(RouterTest, InFlightFollowsRequestsThroughCloseResumeAndSessionEnd) {
  Start(1, 1, "s");
  const uint64_t a = Exec(r_, 1, 2, "s");
  Exec(r_, 1, 3, "s");
  EXPECT_EQ(r_.InFlight(1), 2u);
  std::vector<Out> out;
  r_.OnBrowserClosed(1, &out, kT0);  // detached: its requests go on, nobody's
  EXPECT_EQ(r_.InFlight(1), 0u);
  EXPECT_EQ(r_.pending(), 2u);
  out = ResumeFrom(r_, 7, 1, "s");  // they are the new connection's now
  EXPECT_EQ(r_.InFlight(7), 2u);
  out.clear();
  r_.OnComputeMessage(links_["s"], DoneFor(a, "s"), &out);
  EXPECT_EQ(r_.InFlight(7), 1u);
  // A resume from another connection takes them over.
  out = ResumeFrom(r_, 8, 1, "s");
  EXPECT_EQ(r_.InFlight(7), 0u);
  EXPECT_EQ(r_.InFlight(8), 1u);
  // The session ends: what waited in it is answered, nothing is left.
  proto::Message ended;
  ended.mutable_session_ended()->set_session("s");
  out.clear();
  r_.OnComputeMessage(links_["s"], ended, &out);
  EXPECT_EQ(r_.InFlight(8), 0u);
  EXPECT_EQ(r_.pending(), 0u);
  EXPECT_FALSE(r_.Busy(8));
}

TEST_F(RouterTest, ALostComputeServerEndsWhatWasInFlightThere) {
  Start(1, 1, "s");
  Exec(r_, 1, 2, "s");
  std::vector<Out> out;
  r_.OnBrowserText(1, R"({"id": 3, "startSession": {}})", &out);
  EXPECT_EQ(r_.InFlight(1), 2u);
  out.clear();
  r_.OnComputeLost(0, "gone", &out);
  r_.OnComputeLost(1, "gone", &out);
  EXPECT_EQ(r_.InFlight(1), 0u);
}

TEST_F(RouterTest, AConnectionThatMisbehavedLosesItsSessionsAtOnce) {
  Start(1, 1, "s");
  Exec(r_, 1, 2, "s");
  std::vector<Out> out;
  r_.OnBrowserClosed(1, &out, kT0, /*keep_sessions=*/false);
  EXPECT_EQ(r_.sessions(), 0u);
  EXPECT_EQ(r_.detached(), 0u);
  EXPECT_EQ(r_.InFlight(1), 0u);
  bool terminated = false;
  for (const Out& o : out) {
    if (auto* c = std::get_if<ToCompute>(&o); c && c->msg.has_terminate()) {
      terminated = c->msg.terminate().session() == "s";
    }
  }
  EXPECT_TRUE(terminated);
  out = ResumeFrom(r_, 2, 1, "s");  // not here: the shard says it is gone
  ASSERT_EQ(out.size(), 1u);
  EXPECT_TRUE(std::holds_alternative<ResumeElsewhere>(out[0]));
}

TEST_F(RouterTest, CodeOverTheLimitIsRefusedUnderItsIdWhateverTheMessageSize) {
  Start(1, 1, "s");
  // Just over the code limit, and far over it (past the JSON envelope).
  for (size_t size : {1001u, 1016u, 6000u, 100000u}) {
    std::vector<Out> out;
    r_.OnBrowserText(
        1, R"({"id": 9, "execute": {"session": "s", "code": ")" + std::string(size, 'x') + "\"}}",
        &out);
    ASSERT_EQ(out.size(), 1u) << size;
    const proto::Message m = Parse(Text(out[0]));
    EXPECT_EQ(m.id(), 9u) << size;
    EXPECT_EQ(m.error().code(), proto::Error::BAD_REQUEST) << size;
    EXPECT_NE(m.error().text().find("code too large"), std::string::npos) << m.error().text();
  }
  // Any other message that large names its request too.
  std::vector<Out> out;
  r_.OnBrowserText(1, R"({"id": 10, "resume": {"session": ")" + std::string(6000, 'x') + "\"}}",
                   &out);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(Parse(Text(out[0])).id(), 10u);
  EXPECT_NE(Parse(Text(out[0])).error().text().find("message too large"), std::string::npos);
}

}  // namespace
}  // namespace salvus::hub
