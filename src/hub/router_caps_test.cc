// The Router's caps: sessions per connection and per client address (the
// latter shared by the Routers of a hub's shards), and the ceiling of the
// limits a page may ask for.
#include <gtest/gtest.h>

#include "core/session_limits.h"
#include "hub/router_test_util.h"

namespace salvus::hub {
namespace {

// A start from `conn` with browser id `bid`: the Router's output.
std::vector<Out> StartFrom(Router& r, uint64_t conn, uint64_t bid) {
  std::vector<Out> out;
  r.OnBrowserText(conn, R"({"id": )" + std::to_string(bid) + R"(, "startSession": {}})", &out);
  return out;
}

// The compute server's answer to the start in `out` (sessionStarted `name`).
void Started(Router& r, const std::vector<Out>& out, const std::string& name) {
  ASSERT_EQ(out.size(), 1u);
  proto::Message m;
  m.set_id(Msg(out[0]).id());
  m.mutable_session_started()->set_session(name);
  std::vector<Out> back;
  r.OnComputeMessage(Link(out[0]), m, &back);
}

// Whether `out` is a RESOURCE_EXHAUSTED error for browser id `bid`.
void ExpectExhausted(const std::vector<Out>& out, uint64_t bid, const std::string& says) {
  ASSERT_EQ(out.size(), 1u);
  const proto::Message m = Parse(Text(out[0]));
  EXPECT_EQ(m.id(), bid);
  EXPECT_EQ(m.error().code(), proto::Error::RESOURCE_EXHAUSTED) << m.DebugString();
  EXPECT_NE(m.error().text().find(says), std::string::npos) << m.error().text();
}

Router UpRouter(RouterOptions o) {
  Router r(1, o);
  r.SetLinkUp(0, true);
  return r;
}

TEST(RouterCaps, AConnectionHoldsAtMostItsShareOfSessionsStartedOrStarting) {
  Router r = UpRouter({.max_sessions_per_connection = 2});
  Started(r, StartFrom(r, 1, 1), "a");
  auto starting = StartFrom(r, 1, 2);  // not answered yet: it counts
  ASSERT_TRUE(std::holds_alternative<ToCompute>(starting[0]));
  ExpectExhausted(StartFrom(r, 1, 3), 3, "this connection may hold 2 at once");
  // Another connection has its own share.
  Started(r, StartFrom(r, 2, 1), "c");
  // A start that fails gives its place back.
  proto::Message refused;
  refused.set_id(Msg(starting[0]).id());
  refused.mutable_error()->set_code(proto::Error::INTERNAL);
  std::vector<Out> out;
  r.OnComputeMessage(0, refused, &out);
  Started(r, StartFrom(r, 1, 4), "b");
  ExpectExhausted(StartFrom(r, 1, 5), 5, "may hold 2");
  // So does a session that ends.
  proto::Message ended;
  ended.mutable_session_ended()->set_session("a");
  out.clear();
  r.OnComputeMessage(0, ended, &out);
  Started(r, StartFrom(r, 1, 6), "d");
}

// Two Routers (two shards of one hub) and one quota: an address's sessions
// count on every shard, detached ones too, until they end.
TEST(RouterCaps, AClientAddressHoldsAtMostItsShareOverAllShards) {
  AddressQuota quota(3);
  Router r1 = UpRouter({.grace = std::chrono::seconds(60)});
  Router r2 = UpRouter({.grace = std::chrono::seconds(60)});
  for (Router* r : {&r1, &r2}) r->SetAddressQuota(&quota);
  r1.SetConnAddress(1, "10.0.0.1");
  r2.SetConnAddress(2, "10.0.0.1");
  r2.SetConnAddress(3, "10.0.0.2");
  Started(r1, StartFrom(r1, 1, 1), "a");
  Started(r1, StartFrom(r1, 1, 2), "b");
  Started(r2, StartFrom(r2, 2, 1), "c");
  EXPECT_EQ(quota.Held("10.0.0.1"), 3u);
  ExpectExhausted(StartFrom(r2, 2, 2), 2, "3 are open from this client's address");
  ExpectExhausted(StartFrom(r1, 1, 3), 3, "from this client's address");
  Started(r2, StartFrom(r2, 3, 1), "other");  // another address
  // Its page goes away: the sessions wait for it, and keep their places
  // (until a start from the address needs one: router_evict_test.cc).
  std::vector<Out> out;
  r1.OnBrowserClosed(1, &out, kT0);
  EXPECT_EQ(quota.Held("10.0.0.1"), 3u);
  // Their grace period over, they end and free them.
  out.clear();
  r1.ExpireDetached(kT0 + std::chrono::seconds(61), &out);
  EXPECT_EQ(quota.Held("10.0.0.1"), 1u);
  Started(r2, StartFrom(r2, 2, 5), "e");
  // A start no compute server can take gives its place back at once.
  r2.SetLinkUp(0, false);
  out = StartFrom(r2, 2, 6);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(Parse(Text(out[0])).error().code(), proto::Error::UNAVAILABLE);
  EXPECT_EQ(quota.Held("10.0.0.1"), 2u);
}

TEST(RouterCaps, APageCanLowerItsLimitsButNotRaiseThemPastTheHubsCeiling) {
  proto::Limits ceiling;
  ceiling.set_memory_mb(2048);
  ceiling.set_cputime_s(3600);
  Router r = UpRouter({.max_limits = ceiling});
  std::vector<Out> out;
  r.OnBrowserText(1,
                  R"({"id": 1, "startSession": {"limits": {"memoryMb": "10000000",
                      "cputimeS": "Infinity", "walltimeS": 999999999, "processes": 100000,
                      "idleS": "NaN"}}})",
                  &out);
  ASSERT_EQ(out.size(), 1u);
  const proto::Limits& l = Msg(out[0]).start_session().limits();
  EXPECT_EQ(l.memory_mb(), 2048u);
  EXPECT_EQ(l.cputime_s(), 3600);
  // No ceiling here but the absolute one (the compute server's applies next).
  EXPECT_EQ(l.walltime_s(), core::kMaxLimitSeconds);
  EXPECT_EQ(l.processes(), 100000u);
  EXPECT_EQ(l.idle_s(), 0);  // NaN: not asked
  out.clear();
  r.OnBrowserText(1, R"({"id": 2, "startSession": {"limits": {"memoryMb": "100"}}})", &out);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(Msg(out[0]).start_session().limits().memory_mb(), 100u);
}

}  // namespace
}  // namespace salvus::hub
