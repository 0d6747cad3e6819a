// Detached sessions within the per-address cap (address_quota.h): a page
// that vanished with its sessions does not lock its address out for the
// reconnect grace; a start past the cap ends the session detached longest
// ago, on whichever shard's Router holds it.
#include <gtest/gtest.h>

#include "hub/router_test_util.h"

namespace salvus::hub {
namespace {

using std::chrono::seconds;

Router UpRouter(AddressQuota* quota, int owner) {
  Router r(1, {.grace = seconds(120)});
  r.SetLinkUp(0, true);
  r.SetAddressQuota(quota, owner);
  return r;
}

// A start from `conn`: the Router's output.
std::vector<Out> StartFrom(Router& r, uint64_t conn, uint64_t bid) {
  std::vector<Out> out;
  r.OnBrowserText(conn, R"({"id": )" + std::to_string(bid) + R"(, "startSession": {}})", &out);
  return out;
}

// The start in `out` (its last ToCompute) answered with session `name`.
void Started(Router& r, const std::vector<Out>& out, const std::string& name) {
  const ToCompute* start = nullptr;
  for (const Out& o : out) {
    if (auto* c = std::get_if<ToCompute>(&o); c && c->msg.has_start_session()) start = c;
  }
  ASSERT_NE(start, nullptr);
  proto::Message m;
  m.set_id(start->msg.id());
  m.mutable_session_started()->set_session(name);
  std::vector<Out> back;
  r.OnComputeMessage(start->link, m, &back);
}

// The sessions `out` tells compute servers to terminate.
std::vector<std::string> Terminated(const std::vector<Out>& out) {
  std::vector<std::string> t;
  for (const Out& o : out) {
    if (auto* c = std::get_if<ToCompute>(&o); c && c->msg.has_terminate()) {
      t.push_back(c->msg.terminate().session());
    }
  }
  return t;
}

TEST(RouterEvict, AStartPastTheAddressCapEndsItsOldestDetachedSessionOnAnyShard) {
  AddressQuota quota(3);
  Router r0 = UpRouter(&quota, 0);
  Router r1 = UpRouter(&quota, 1);
  r0.SetConnAddress(1, "10.0.0.1");
  Started(r0, StartFrom(r0, 1, 1), "a");
  Started(r0, StartFrom(r0, 1, 2), "b");
  Started(r0, StartFrom(r0, 1, 3), "c");
  EXPECT_EQ(quota.Held("10.0.0.1"), 3u);
  // The page vanishes: its sessions wait for it, keeping their slots.
  std::vector<Out> out;
  r0.OnBrowserClosed(1, &out, kT0);
  EXPECT_EQ(r0.detached(), 3u);
  // A new page from the address, on the other shard: its start goes ahead,
  // and the session detached longest ago ("a") is to end on shard 0.
  r1.SetConnAddress(2, "10.0.0.1");
  out = StartFrom(r1, 2, 1);
  const EvictElsewhere* evict = nullptr;
  for (const Out& o : out) {
    if (auto* e = std::get_if<EvictElsewhere>(&o)) evict = e;
  }
  ASSERT_NE(evict, nullptr);
  EXPECT_EQ(evict->owner, 0);
  EXPECT_EQ(evict->session, "a");
  Started(r1, out, "d");
  EXPECT_EQ(quota.Held("10.0.0.1"), 3u);  // the slot changed hands
  out.clear();
  r0.EvictDetached("a", &out);
  EXPECT_EQ(Terminated(out), std::vector<std::string>{"a"});
  EXPECT_EQ(r0.detached(), 2u);
  EXPECT_EQ(quota.Held("10.0.0.1"), 3u);
  // A resume of it finds it gone.
  out = ResumeFrom(r0, 3, 1, "a");
  ASSERT_EQ(out.size(), 1u);
  EXPECT_TRUE(std::holds_alternative<ResumeElsewhere>(out[0]));
  // On the same shard, the eviction happens at once.
  r0.SetConnAddress(4, "10.0.0.1");
  out = StartFrom(r0, 4, 1);
  EXPECT_EQ(Terminated(out), std::vector<std::string>{"b"});
  Started(r0, out, "e");
  // A session's end (not evicted) gives its slot back as before.
  proto::Message ended;
  ended.mutable_session_ended()->set_session("c");
  out.clear();
  r0.OnComputeMessage(0, ended, &out);
  EXPECT_EQ(quota.Held("10.0.0.1"), 2u);
  Started(r0, StartFrom(r0, 4, 2), "f");
  // Nothing detached is left: past the cap a start is refused.
  out = StartFrom(r1, 2, 2);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(Parse(Text(out[0])).error().code(), proto::Error::RESOURCE_EXHAUSTED);
  EXPECT_EQ(quota.Held("10.0.0.1"), 3u);
  // Another address was never concerned.
  EXPECT_EQ(quota.Held("10.0.0.2"), 0u);
}

// An evicted session resumed before its Router heard of the eviction: the
// resume fails and the session ends there; the eviction then finds nothing.
TEST(RouterEvict, AResumeRacingItsEvictionFindsTheSessionGone) {
  AddressQuota quota(1);
  Router r0 = UpRouter(&quota, 0);
  Router r1 = UpRouter(&quota, 1);
  r0.SetConnAddress(1, "10.0.0.1");
  Started(r0, StartFrom(r0, 1, 1), "a");
  std::vector<Out> out;
  r0.OnBrowserClosed(1, &out, kT0);
  r1.SetConnAddress(2, "10.0.0.1");
  out = StartFrom(r1, 2, 1);  // evicts "a" (posted to shard 0, not there yet)
  Started(r1, out, "b");
  out = ResumeFrom(r0, 3, 7, "a");
  auto got = BrowserGets(out, 3);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].error().code(), proto::Error::NOT_FOUND);
  EXPECT_EQ(Terminated(out), std::vector<std::string>{"a"});
  EXPECT_EQ(r0.sessions(), 0u);
  out.clear();
  r0.EvictDetached("a", &out);
  EXPECT_TRUE(out.empty());
  EXPECT_EQ(quota.Held("10.0.0.1"), 1u);  // "b"'s
  // And a detached session that ends on its own before its eviction
  // arrives does not give back the slot that went to the new session.
  r1.OnBrowserClosed(2, &out, kT0);
  r0.SetConnAddress(4, "10.0.0.1");
  out = StartFrom(r0, 4, 1);  // evicts "b" on shard 1
  Started(r0, out, "c");
  out.clear();
  r1.ExpireDetached(kT0 + seconds(121), &out);  // "b"'s grace ends first
  EXPECT_EQ(Terminated(out), std::vector<std::string>{"b"});
  EXPECT_EQ(quota.Held("10.0.0.1"), 1u);  // "c"'s
}

}  // namespace
}  // namespace salvus::hub
