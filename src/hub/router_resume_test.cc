// The Router when pages reconnect: detached sessions, resume, takeover, expiry.
#include <gtest/gtest.h>

#include "hub/router_test_util.h"

namespace salvus::hub {
namespace {

using std::chrono::seconds;

TEST_F(RouterTest, ADetachedSessionIsResumedWithItsOutputInOrder) {
  const auto s = Start(1, 1, "s1");
  const uint64_t run = Exec(r_, 1, 2, s);
  std::vector<Out> out;
  r_.OnComputeMessage(links_[s], Reply(run, s, "0\n"), &out);
  ASSERT_EQ(BrowserGets(out, 1).size(), 1u);
  out.clear();
  r_.OnBrowserClosed(1, &out, kT0);
  ASSERT_EQ(out.size(), 1u);  // nothing terminated; the shard learns it is detached
  EXPECT_EQ(std::get<SessionDetached>(out[0]).session, s);
  EXPECT_EQ(r_.sessions(), 1u);
  EXPECT_EQ(r_.detached(), 1u);
  out.clear();
  r_.OnComputeMessage(links_[s], Reply(run, s, "1\n"), &out);
  r_.OnComputeMessage(links_[s], Reply(run, s, "2\n"), &out);
  r_.ExpireDetached(kT0 + seconds(119), &out);  // still within the grace period
  EXPECT_TRUE(out.empty());
  out = ResumeFrom(r_, 2, 3, s);
  auto got = BrowserGets(out, 2);
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0].id(), 3u);
  EXPECT_EQ(got[0].session_started().session(), s);
  EXPECT_EQ(got[1].id(), 2u);  // the run's own id, kept across the reconnect
  EXPECT_EQ(got[1].output().text(), "1\n");
  EXPECT_EQ(got[2].output().text(), "2\n");
  EXPECT_EQ(std::get<SessionResumed>(out.back()).session, s);
  EXPECT_EQ(std::get<SessionResumed>(out.back()).conn, 2u);
  EXPECT_EQ(r_.detached(), 0u);
  // From now on replies go straight to the new connection.
  out.clear();
  r_.OnComputeMessage(links_[s], Reply(run, s, "3\n"), &out);
  r_.OnComputeMessage(links_[s], DoneFor(run, s), &out);
  got = BrowserGets(out, 2);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].output().text(), "3\n");
  EXPECT_TRUE(got[1].has_done());
  EXPECT_EQ(r_.pending(), 0u);
  // And the session takes new requests from it (and no longer from the old one).
  const uint64_t next = Exec(r_, 2, 4, s);
  out.clear();
  r_.OnComputeMessage(links_[s], Reply(next, s, "x\n"), &out);
  ASSERT_EQ(BrowserGets(out, 2).size(), 1u);
  EXPECT_EQ(BrowserGets(out, 2)[0].id(), 4u);
  out.clear();
  r_.OnBrowserText(1, R"({"id": 9, "execute": {"session": "s1", "code": "1"}})", &out);
  EXPECT_EQ(Parse(Text(out[0])).error().code(), proto::Error::NOT_FOUND);
}

TEST_F(RouterTest, ADoneWhileDetachedIsKeptToo) {
  const auto s = Start(1, 1, "s1");
  const uint64_t run = Exec(r_, 1, 2, s);
  std::vector<Out> out;
  r_.OnBrowserClosed(1, &out, kT0);
  r_.OnComputeMessage(links_[s], Reply(run, s, "hi\n"), &out);
  r_.OnComputeMessage(links_[s], DoneFor(run, s), &out);
  EXPECT_EQ(r_.pending(), 0u);
  auto got = BrowserGets(ResumeFrom(r_, 2, 5, s), 2);
  ASSERT_EQ(got.size(), 3u);
  EXPECT_TRUE(got[0].has_session_started());
  EXPECT_EQ(got[1].output().text(), "hi\n");
  EXPECT_TRUE(got[2].has_done());
  EXPECT_EQ(got[2].id(), 2u);
}

TEST_F(RouterTest, ResumingAnUnknownSessionLooksElsewhereALiveOneIsTakenOver) {
  const auto s = Start(1, 1, "s1");
  // Unknown here: the shard looks elsewhere (then answers GoneJson).
  auto out = ResumeFrom(r_, 2, 3, "nope");
  ASSERT_EQ(out.size(), 1u);
  EXPECT_TRUE(std::holds_alternative<ResumeElsewhere>(out[0]));
  EXPECT_EQ(Conn(out[0]), 2u);
  EXPECT_EQ(Msg(out[0]).resume().session(), "nope");
  auto gone = Parse(r_.GoneJson(3, "nope"));
  EXPECT_EQ(gone.id(), 3u);
  EXPECT_EQ(gone.error().code(), proto::Error::NOT_FOUND);
  EXPECT_NE(gone.error().text().find("the session is gone"), std::string::npos);
  // Its own connection may ask again: a no-op.
  auto got = BrowserGets(ResumeFrom(r_, 1, 5, s), 1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].session_started().session(), s);
  // A request in flight from connection 1, which then goes silent (half-open).
  out.clear();
  r_.OnBrowserText(1, R"j({"id": "6", "execute": {"session": "s1", "code": "sleep(1)"}})j", &out);
  ASSERT_EQ(out.size(), 1u);
  const uint64_t hub_id = Msg(out[0]).id();
  // Connection 2 resumes it: it is taken over, and connection 1 is told.
  out = ResumeFrom(r_, 2, 4, s);
  auto to1 = BrowserGets(out, 1);
  ASSERT_EQ(to1.size(), 1u);
  EXPECT_EQ(to1[0].error().code(), proto::Error::NOT_FOUND);
  EXPECT_NE(to1[0].error().text().find("resumed on another connection"), std::string::npos);
  got = BrowserGets(out, 2);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].session_started().session(), s);
  EXPECT_TRUE(r_.Busy(2));
  EXPECT_EQ(r_.detached(), 0u);
  // The reply to the request in flight goes to the new connection.
  proto::Message d;
  d.set_id(hub_id);
  d.mutable_done()->set_session(s);
  std::vector<Out> back;
  r_.OnComputeMessage(links_[s], d, &back);
  ASSERT_EQ(back.size(), 1u);
  EXPECT_EQ(Conn(back[0]), 2u);
  EXPECT_EQ(Parse(Text(back[0])).id(), 6u);
  // The old connection no longer owns it.
  out.clear();
  r_.OnBrowserText(1, R"({"id": "7", "execute": {"session": "s1", "code": "1"}})", &out);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(Parse(Text(out[0])).error().code(), proto::Error::NOT_FOUND);
  // Its close later leaves the session alone.
  out.clear();
  r_.OnBrowserClosed(1, &out);
  EXPECT_TRUE(out.empty());
  EXPECT_EQ(r_.sessions(), 1u);
  EXPECT_EQ(r_.detached(), 0u);
}

TEST(RouterObserverTest, ToldOfEverySessionThatStartsAndEnds) {
  Router r(1, {.max_code = 1000, .max_share = 1000, .grace = std::chrono::seconds(0)});
  r.SetLinkUp(0, true);
  std::vector<std::pair<std::string, bool>> seen;
  r.SetSessionObserver([&](const std::string& s, bool here) { seen.emplace_back(s, here); });
  std::vector<Out> out;
  StartOn(r, 1, "s1");
  proto::Message ended;
  ended.mutable_session_ended()->set_session("s1");
  r.OnComputeMessage(0, ended, &out);
  EXPECT_EQ(seen, (std::vector<std::pair<std::string, bool>>{{"s1", true}, {"s1", false}}));
}

TEST_F(RouterTest, ADetachedSessionExpiresAfterTheGracePeriod) {
  const auto s = Start(1, 1, "s1");
  const uint64_t run = Exec(r_, 1, 2, s);
  std::vector<Out> out;
  r_.OnBrowserClosed(1, &out, kT0);
  out.clear();
  r_.ExpireDetached(kT0 + seconds(120), &out);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_TRUE(std::holds_alternative<ToCompute>(out[0]));
  EXPECT_EQ(Link(out[0]), links_[s]);
  EXPECT_EQ(Msg(out[0]).terminate().session(), s);
  EXPECT_EQ(std::get<DetachedSessionEnded>(out[1]).session, s);
  EXPECT_EQ(r_.sessions(), 0u);
  EXPECT_EQ(r_.pending(), 0u);
  EXPECT_EQ(r_.detached(), 0u);
  // Late replies go nowhere; a resume finds nothing.
  out.clear();
  r_.OnComputeMessage(links_[s], Reply(run, s, "late\n"), &out);
  EXPECT_TRUE(out.empty());
  out = ResumeFrom(r_, 2, 3, s);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_TRUE(std::holds_alternative<ResumeElsewhere>(out[0]));
}

TEST_F(RouterTest, ADetachedSessionThatDiesIsGone) {
  const auto s = Start(1, 1, "s1");
  Exec(r_, 1, 2, s);
  std::vector<Out> out;
  r_.OnBrowserClosed(1, &out, kT0);
  out.clear();
  r_.OnComputeLost(links_[s], "lost the compute server", &out);
  ASSERT_EQ(out.size(), 1u);  // nobody to tell but the shard
  EXPECT_EQ(std::get<DetachedSessionEnded>(out[0]).reason, "lost the compute server");
  EXPECT_EQ(r_.sessions(), 0u);
  EXPECT_EQ(r_.pending(), 0u);
  EXPECT_TRUE(std::holds_alternative<ResumeElsewhere>(ResumeFrom(r_, 2, 3, s)[0]));
}

TEST(RouterBufferTest, OutputPastTheCapIsDroppedWithANotice) {
  Router r(1, {.max_code = 1000, .max_share = 1000, .max_buffer = 200});
  r.SetLinkUp(0, true);
  std::vector<Out> out;
  StartOn(r, 1, "s");
  const uint64_t a = Exec(r, 1, 2, "s");
  out.clear();
  r.OnBrowserClosed(1, &out, kT0);
  const std::string line(40, 'x');
  for (int i = 0; i < 10; ++i) r.OnComputeMessage(0, Reply(a, "s", line + "\n"), &out);
  r.OnComputeMessage(0, DoneFor(a, "s"), &out);
  auto got = BrowserGets(ResumeFrom(r, 2, 4, "s"), 2);
  ASSERT_GE(got.size(), 4u);
  EXPECT_TRUE(got[0].has_session_started());
  size_t kept = 0;
  for (size_t i = 1; i + 2 < got.size(); ++i) {
    EXPECT_EQ(got[i].output().text(), line + "\n");
    ++kept;
  }
  EXPECT_GE(kept, 1u);
  EXPECT_LT(kept, 10u);
  const auto& notice = got[got.size() - 2];
  EXPECT_EQ(notice.id(), 2u);
  EXPECT_EQ(notice.output().stream(), proto::Output::STDERR);
  EXPECT_EQ(notice.output().text(), "[" + std::to_string((10 - kept) * 41) +
                                        " bytes of output were lost while disconnected]\n");
  EXPECT_TRUE(got.back().has_done());
}

TEST(RouterBufferTest, ANoticeForARequestStillRunningComesLast) {
  Router r(1, {.max_code = 1000, .max_share = 1000, .max_buffer = 100});
  r.SetLinkUp(0, true);
  std::vector<Out> out;
  StartOn(r, 1, "s");
  const uint64_t a = Exec(r, 1, 2, "s");
  r.OnBrowserClosed(1, &out, kT0);
  r.OnComputeMessage(0, Reply(a, "s", std::string(500, 'y')), &out);
  auto got = BrowserGets(ResumeFrom(r, 2, 3, "s"), 2);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[1].output().text(), "[500 bytes of output were lost while disconnected]\n");
  EXPECT_EQ(r.pending(), 1u);  // still running
}

TEST_F(RouterTest, ASessionStartedAfterItsBrowserLeftIsEnded) {
  std::vector<Out> out;
  r_.OnBrowserText(1, R"({"id": 1, "startSession": {}})", &out);
  const uint64_t hub_id = Msg(out[0]).id();
  const size_t link = Link(out[0]);
  out.clear();
  r_.OnBrowserClosed(1, &out, kT0);
  EXPECT_TRUE(out.empty());
  proto::Message started;
  started.set_id(hub_id);
  started.mutable_session_started()->set_session("orphan");
  r_.OnComputeMessage(link, started, &out);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_TRUE(std::holds_alternative<ToCompute>(out[0]));
  EXPECT_EQ(Msg(out[0]).terminate().session(), "orphan");
  EXPECT_EQ(r_.sessions(), 0u);
  EXPECT_EQ(r_.pending(), 0u);
}

TEST_F(RouterTest, ATerminateSentJustBeforeLeavingEndsTheSession) {
  const auto s = Start(1, 1, "s1");
  std::vector<Out> out;
  r_.OnBrowserText(1, R"({"id": 2, "terminate": {"session": "s1"}})", &out);
  proto::Message ack;
  ack.set_id(Msg(out[0]).id());
  ack.mutable_ack();
  out.clear();
  r_.OnBrowserClosed(1, &out, kT0);  // before the ack
  out.clear();
  r_.OnComputeMessage(links_[s], ack, &out);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(std::get<DetachedSessionEnded>(out[0]).reason, "terminated");
  EXPECT_EQ(r_.sessions(), 0u);
  EXPECT_EQ(r_.detached(), 0u);
  EXPECT_EQ(r_.pending(), 0u);
}

TEST_F(RouterTest, TerminatingAResumedSessionForgetsIt) {
  const auto s = Start(1, 1, "s1");
  std::vector<Out> out;
  r_.OnBrowserClosed(1, &out, kT0);
  ResumeFrom(r_, 2, 2, s);
  EXPECT_TRUE(r_.Busy(2));
  out.clear();
  r_.OnBrowserText(2, R"({"id": 3, "terminate": {"session": "s1"}})", &out);
  ASSERT_EQ(out.size(), 1u);
  proto::Message ack;
  ack.set_id(Msg(out[0]).id());
  ack.mutable_ack();
  out.clear();
  r_.OnComputeMessage(links_[s], ack, &out);
  ASSERT_EQ(BrowserGets(out, 2).size(), 1u);
  EXPECT_EQ(r_.sessions(), 0u);
  EXPECT_FALSE(r_.Busy(2));
}

}  // namespace
}  // namespace salvus::hub
