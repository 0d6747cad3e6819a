#include "hub/router.h"

#include <google/protobuf/util/json_util.h>
#include <gtest/gtest.h>

namespace salvus::hub {
namespace {

proto::Message Parse(const std::string& json) {
  proto::Message m;
  EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(json, &m).ok()) << json;
  return m;
}

// Starts session `name` for browser `conn` on a Router whose link 0 is up.
void StartOn(Router& r, uint64_t conn, const std::string& name) {
  std::vector<Out> out;
  r.OnBrowserText(conn, R"({"id": 1, "startSession": {}})", &out);
  ASSERT_EQ(out.size(), 1u);
  proto::Message started;
  started.set_id(out[0].msg.id());
  started.mutable_session_started()->set_session(name);
  r.OnComputeMessage(0, started, &out);
}

class RouterTest : public ::testing::Test {
 protected:
  RouterTest() : r_(2, 1000) {
    r_.SetLinkUp(0, true);
    r_.SetLinkUp(1, true);
  }
  // Starts a session for `conn`; returns its id.
  std::string Start(uint64_t conn, uint64_t bid, const std::string& name) {
    std::vector<Out> out;
    r_.OnBrowserText(conn, R"({"id": )" + std::to_string(bid) + R"(, "startSession": {}})", &out);
    EXPECT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0].kind, Out::kToCompute);
    proto::Message reply;
    reply.set_id(out[0].msg.id());
    reply.mutable_session_started()->set_session(name);
    std::vector<Out> back;
    r_.OnComputeMessage(out[0].link, reply, &back);
    EXPECT_EQ(back.size(), 1u);
    EXPECT_EQ(Parse(back[0].text).id(), bid);
    links_[name] = out[0].link;
    return name;
  }
  Router r_;
  std::map<std::string, size_t> links_;
};

TEST_F(RouterTest, ExecuteRoundTripKeepsTheBrowsersIds) {
  const auto s = Start(1, 7, "s1");
  std::vector<Out> out;
  r_.OnBrowserText(1, R"({"id": "8", "execute": {"session": "s1", "code": "2+2"}})", &out);
  ASSERT_EQ(out.size(), 1u);
  ASSERT_EQ(out[0].kind, Out::kToCompute);
  EXPECT_EQ(out[0].msg.execute().code(), "2+2");
  const uint64_t hub_id = out[0].msg.id();
  proto::Message o;
  o.set_id(hub_id);
  o.mutable_output()->set_session(s);
  o.mutable_output()->set_text("4\n");
  proto::Message d;
  d.set_id(hub_id);
  d.mutable_done()->set_session(s);
  std::vector<Out> back;
  r_.OnComputeMessage(links_[s], o, &back);
  r_.OnComputeMessage(links_[s], d, &back);
  ASSERT_EQ(back.size(), 2u);
  EXPECT_EQ(back[0].conn, 1u);
  EXPECT_EQ(Parse(back[0].text).id(), 8u);
  EXPECT_EQ(Parse(back[0].text).output().text(), "4\n");
  EXPECT_TRUE(Parse(back[1].text).has_done());
  EXPECT_EQ(r_.pending(), 0u);
}

TEST_F(RouterTest, SessionsSpreadOverComputeServers) {
  Start(1, 1, "a");
  Start(1, 2, "b");
  EXPECT_NE(links_["a"], links_["b"]);
}

TEST_F(RouterTest, EachLinkCountsTheSessionsItHoldsAsTheyStartAndEnd) {
  for (int i = 0; i < 6; ++i) Start(1, 10 + i, "s" + std::to_string(i));
  EXPECT_EQ(r_.link(0).own_sessions + r_.link(1).own_sessions, 6u);
  EXPECT_EQ(r_.link(0).own_sessions, 3u);  // fewest sessions first: they alternate
  const size_t lost = links_["s0"];
  std::vector<Out> out;
  r_.OnComputeLost(lost, "gone", &out);
  EXPECT_EQ(r_.link(lost).own_sessions, 0u);
  EXPECT_EQ(r_.link(1 - lost).own_sessions, 3u);
  r_.SetLinkUp(lost, true);
  out.clear();
  r_.OnBrowserClosed(1, &out);  // detached: still held
  EXPECT_EQ(r_.link(1 - lost).own_sessions, 3u);
  out.clear();
  r_.ExpireDetached(std::chrono::steady_clock::now() + std::chrono::hours(1), &out);
  EXPECT_EQ(r_.link(1 - lost).own_sessions, 0u);
  EXPECT_EQ(r_.sessions(), 0u);
}

TEST_F(RouterTest, StartsGoByReportedLoadAndAddedLinksTakeSessions) {
  // Link 0 reports 7 of 8 in use, link 1 1 of 8; a third link is learnt later.
  r_.SetLinkReport(0, {1000, 7, 8, 2, 0.0});
  r_.SetLinkReport(1, {1000, 1, 8, 2, 0.0});
  std::vector<Out> out;
  r_.OnBrowserText(1, R"({"id": 1, "startSession": {}})", &out);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].link, 1u);
  const size_t third = r_.AddLink();
  EXPECT_EQ(third, 2u);
  r_.SetLinkUp(third, true);
  r_.SetLinkReport(third, {1000, 0, 8, 2, 0.0});
  out.clear();
  r_.OnBrowserText(1, R"({"id": 2, "startSession": {}})", &out);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].link, third);
  // Out of rotation: no new sessions there, though it is emptiest.
  r_.SetLinkInRotation(third, false);
  out.clear();
  r_.OnBrowserText(1, R"({"id": 3, "startSession": {}})", &out);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].link, 1u);
}

TEST_F(RouterTest, AStartRefusedAsFullIsTriedOnTheNextServer) {
  std::vector<Out> out;
  r_.OnBrowserText(1, R"({"id": 5, "startSession": {"kernel": "sage"}})", &out);
  ASSERT_EQ(out.size(), 1u);
  const size_t first = out[0].link;
  proto::Message full;
  full.set_id(out[0].msg.id());
  full.mutable_error()->set_code(proto::Error::UNAVAILABLE);
  full.mutable_error()->set_text("the compute server is full (2 sessions)");
  std::vector<Out> again;
  r_.OnComputeMessage(first, full, &again);
  ASSERT_EQ(again.size(), 1u);
  ASSERT_EQ(again[0].kind, Out::kToCompute);
  EXPECT_NE(again[0].link, first);
  EXPECT_EQ(again[0].msg.start_session().kernel(), "sage");
  // The second refuses too: the browser gets that error under its own id.
  full.set_id(again[0].msg.id());
  std::vector<Out> last;
  r_.OnComputeMessage(again[0].link, full, &last);
  ASSERT_EQ(last.size(), 1u);
  ASSERT_EQ(last[0].kind, Out::kToBrowser);
  const auto m = Parse(last[0].text);
  EXPECT_EQ(m.id(), 5u);
  EXPECT_EQ(m.error().code(), proto::Error::UNAVAILABLE);
  EXPECT_EQ(r_.pending(), 0u);
}

TEST_F(RouterTest, BadInputGetsClearErrors) {
  std::vector<Out> out;
  r_.OnBrowserText(1, "{not json", &out);
  r_.OnBrowserText(1, R"({"id": 3, "bogus": {}})", &out);
  r_.OnBrowserText(1, R"({"id": 4, "doneee": 1})", &out);
  r_.OnBrowserText(1, R"({"id": 5, "output": {"text": "x"}})", &out);
  r_.OnBrowserText(1, R"({"id": 6, "execute": {"session": "nope", "code": "1"}})", &out);
  r_.OnBrowserText(1, R"({"id": 7, "execute": {"code": "1"}})", &out);
  r_.OnBrowserText(1, std::string("{\"id\": 8, \"execute\": {\"code\": \"") + std::string(2000, 'x') + "\"}}", &out);
  r_.OnBrowserText(1, "{\"id\": 9, \"execute\": {\"code\": \"\xff\"}}", &out);
  r_.OnBrowserText(1, R"({"id": 10})", &out);
  ASSERT_EQ(out.size(), 9u);
  for (const Out& o : out) {
    ASSERT_EQ(o.kind, Out::kToBrowser);
    proto::Message m = Parse(o.text);
    ASSERT_TRUE(m.has_error()) << o.text;
    EXPECT_FALSE(m.error().text().empty());
  }
  EXPECT_NE(Parse(out[0].text).error().text().find("malformed"), std::string::npos);
  EXPECT_EQ(Parse(out[1].text).id(), 3u);  // an unknown type still names its request
  EXPECT_EQ(Parse(out[3].text).error().code(), proto::Error::BAD_REQUEST);
  EXPECT_EQ(Parse(out[4].text).error().code(), proto::Error::NOT_FOUND);
  EXPECT_EQ(Parse(out[4].text).id(), 6u);
  EXPECT_NE(Parse(out[6].text).error().text().find("too large"), std::string::npos);
  EXPECT_NE(Parse(out[7].text).error().text().find("UTF-8"), std::string::npos);
}

TEST_F(RouterTest, AnotherBrowsersSessionIsNotFound) {
  Start(1, 1, "mine");
  std::vector<Out> out;
  r_.OnBrowserText(2, R"({"id": 2, "interrupt": {"session": "mine"}})", &out);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(Parse(out[0].text).error().code(), proto::Error::NOT_FOUND);
}

TEST(RouterNoGraceTest, ClosingABrowserTerminatesItsSessions) {
  Router r(1, 1000, 1000, std::chrono::seconds(0));
  r.SetLinkUp(0, true);
  std::vector<Out> out;
  r.OnBrowserText(1, R"({"id": 1, "startSession": {}})", &out);
  proto::Message started;
  started.set_id(out[0].msg.id());
  started.mutable_session_started()->set_session("s");
  out.clear();
  r.OnComputeMessage(0, started, &out);
  out.clear();
  r.OnBrowserClosed(1, &out);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].kind, Out::kToCompute);
  EXPECT_EQ(out[0].msg.terminate().session(), "s");
  EXPECT_EQ(r.sessions(), 0u);
}

TEST_F(RouterTest, LosingTheComputeServerEndsRequestsWithDone) {
  Start(1, 1, "s");
  std::vector<Out> out;
  r_.OnBrowserText(1, R"({"id": 2, "execute": {"session": "s", "code": "while True: pass"}})", &out);
  out.clear();
  r_.OnComputeLost(links_["s"], "lost the compute server", &out);
  ASSERT_EQ(out.size(), 2u);
  proto::Message done = Parse(out[0].text);
  EXPECT_EQ(done.id(), 2u);
  EXPECT_EQ(done.done().status(), proto::Done::DIED);
  EXPECT_TRUE(Parse(out[1].text).has_session_ended());
  out.clear();
  r_.OnBrowserText(1, R"({"id": 3, "execute": {"session": "s", "code": "1"}})", &out);
  EXPECT_EQ(Parse(out[0].text).error().code(), proto::Error::NOT_FOUND);
}

TEST_F(RouterTest, NoComputeServerUp) {
  r_.SetLinkUp(0, false);
  r_.SetLinkUp(1, false);
  std::vector<Out> out;
  r_.OnBrowserText(1, R"({"id": 1, "startSession": {}})", &out);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(Parse(out[0].text).error().code(), proto::Error::UNAVAILABLE);
}

TEST_F(RouterTest, RichOutputReachesTheBrowserAndBlobsStayInTheHub) {
  const auto s = Start(1, 1, "s1");
  std::vector<Out> out;
  r_.OnBrowserText(1, R"j({"id": 2, "execute": {"session": "s1", "code": "plot(x)"}})j", &out);
  ASSERT_EQ(out.size(), 1u);
  const uint64_t hub_id = out[0].msg.id();
  proto::Message blob, display, done;
  blob.set_id(hub_id);
  blob.mutable_blob()->set_sha1("a9993e364706816aba3e25717850c26c9cd0d89d");
  blob.mutable_blob()->set_data("abc");
  display.set_id(hub_id);
  display.mutable_display()->set_mime("image/png");
  display.mutable_display()->set_blob("a9993e364706816aba3e25717850c26c9cd0d89d");
  done.set_id(hub_id);
  done.mutable_done();
  std::vector<Out> back;
  r_.OnComputeMessage(links_[s], blob, &back);
  r_.OnComputeMessage(links_[s], display, &back);
  EXPECT_EQ(r_.pending(), 1u);  // a display does not end the request
  r_.OnComputeMessage(links_[s], done, &back);
  ASSERT_EQ(back.size(), 3u);
  EXPECT_EQ(back[0].kind, Out::kBlob);  // never sent to a browser
  EXPECT_EQ(back[0].msg.blob().data(), "abc");
  EXPECT_EQ(back[1].kind, Out::kToBrowser);
  EXPECT_EQ(Parse(back[1].text).display().blob(), "a9993e364706816aba3e25717850c26c9cd0d89d");
  EXPECT_EQ(back[1].text.find("abc"), std::string::npos);
  EXPECT_TRUE(Parse(back[2].text).has_done());
  EXPECT_EQ(r_.pending(), 0u);
}

TEST_F(RouterTest, CompletionAndInteractUpdatesGoToTheSessionsComputeServer) {
  const auto s = Start(1, 1, "s1");
  std::vector<Out> out;
  r_.OnBrowserText(1, R"({"id": 2, "complete": {"session": "s1", "code": "facto", "cursor": 5}})",
                   &out);
  r_.OnBrowserText(
      1, R"({"id": 3, "interactUpdate": {"session": "s1", "interact": "i1", "values": "{\"n\": 3}"}})",
      &out);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].kind, Out::kToCompute);
  EXPECT_EQ(out[0].link, links_[s]);
  EXPECT_EQ(out[0].msg.complete().cursor(), 5u);
  EXPECT_EQ(out[1].msg.interact_update().values(), R"({"n": 3})");
  proto::Message c, d;
  c.set_id(out[0].msg.id());
  c.mutable_completions()->add_matches("factor");
  d.set_id(out[0].msg.id());
  d.mutable_done();
  std::vector<Out> back;
  r_.OnComputeMessage(links_[s], c, &back);
  r_.OnComputeMessage(links_[s], d, &back);
  ASSERT_EQ(back.size(), 2u);
  EXPECT_EQ(Parse(back[0].text).completions().matches(0), "factor");
  EXPECT_EQ(Parse(back[0].text).id(), 2u);
  // The compute server dies during the interact update: it ends with done.
  back.clear();
  r_.OnComputeLost(links_[s], "gone", &back);
  bool done_for_3 = false;
  for (auto& b : back) {
    auto m = Parse(b.text);
    if (m.id() == 3 && m.has_done()) done_for_3 = m.done().status() == proto::Done::DIED;
  }
  EXPECT_TRUE(done_for_3);
}

TEST_F(RouterTest, InteractUpdateForAnotherBrowsersSessionIsRefused) {
  Start(1, 1, "s1");
  std::vector<Out> out;
  r_.OnBrowserText(
      2, R"({"id": 9, "interactUpdate": {"session": "s1", "interact": "x", "values": "{}"}})",
      &out);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].kind, Out::kToBrowser);
  EXPECT_EQ(Parse(out[0].text).error().code(), proto::Error::NOT_FOUND);
  EXPECT_EQ(Parse(out[0].text).id(), 9u);
}

TEST_F(RouterTest, SharingGoesToTheStoreAndOversizedSharesAreRefused) {
  std::vector<Out> out;
  r_.OnBrowserText(1, R"j({"id": 4, "share": {"code": "factor(2^64+1)"}})j", &out);
  r_.OnBrowserText(1, R"({"id": 5, "getShared": {"id": "abc123"}})", &out);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].kind, Out::kToStore);
  EXPECT_EQ(out[0].msg.share().code(), "factor(2^64+1)");
  EXPECT_EQ(out[0].msg.id(), 4u);
  EXPECT_EQ(out[1].kind, Out::kToStore);
  out.clear();
  Router small(1, 1000, 10);
  small.OnBrowserText(1, R"({"id": 6, "share": {"code": "01234567890"}})", &out);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].kind, Out::kToBrowser);
  EXPECT_EQ(Parse(out[0].text).error().code(), proto::Error::BAD_REQUEST);
  EXPECT_NE(Parse(out[0].text).error().text().find("too large to share"), std::string::npos);
}

// ---- Reconnecting: detached sessions, resume, expiry ----

using std::chrono::seconds;
const Router::Clock::time_point kT0{};

// Replies to browsers in `out`, parsed.
std::vector<proto::Message> ToBrowser(const std::vector<Out>& out, uint64_t conn) {
  std::vector<proto::Message> r;
  for (const Out& o : out) {
    if (o.kind == Out::kToBrowser && o.conn == conn) r.push_back(Parse(o.text));
  }
  return r;
}

proto::Message Reply(uint64_t hub_id, const std::string& session, const std::string& text) {
  proto::Message m;
  m.set_id(hub_id);
  m.mutable_output()->set_session(session);
  m.mutable_output()->set_text(text);
  return m;
}

proto::Message DoneFor(uint64_t hub_id, const std::string& session) {
  proto::Message m;
  m.set_id(hub_id);
  m.mutable_done()->set_session(session);
  return m;
}

// Sends an execute from `conn`; returns its hub id.
uint64_t Exec(Router& r, uint64_t conn, uint64_t bid, const std::string& session) {
  std::vector<Out> out;
  r.OnBrowserText(conn,
                  R"({"id": )" + std::to_string(bid) + R"(, "execute": {"session": ")" + session +
                      R"(", "code": "1"}})",
                  &out);
  EXPECT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].kind, Out::kToCompute);
  return out[0].msg.id();
}

std::vector<Out> ResumeFrom(Router& r, uint64_t conn, uint64_t bid, const std::string& session) {
  std::vector<Out> out;
  r.OnBrowserText(conn,
                  R"({"id": )" + std::to_string(bid) + R"(, "resume": {"session": ")" + session +
                      R"("}})",
                  &out);
  return out;
}

TEST_F(RouterTest, ADetachedSessionIsResumedWithItsOutputInOrder) {
  const auto s = Start(1, 1, "s1");
  const uint64_t run = Exec(r_, 1, 2, s);
  std::vector<Out> out;
  r_.OnComputeMessage(links_[s], Reply(run, s, "0\n"), &out);
  ASSERT_EQ(ToBrowser(out, 1).size(), 1u);
  out.clear();
  r_.OnBrowserClosed(1, &out, kT0);
  ASSERT_EQ(out.size(), 1u);  // nothing terminated; the shard learns it is detached
  EXPECT_EQ(out[0].kind, Out::kDetached);
  EXPECT_EQ(out[0].text, s);
  EXPECT_EQ(r_.sessions(), 1u);
  EXPECT_EQ(r_.detached(), 1u);
  out.clear();
  r_.OnComputeMessage(links_[s], Reply(run, s, "1\n"), &out);
  r_.OnComputeMessage(links_[s], Reply(run, s, "2\n"), &out);
  r_.ExpireDetached(kT0 + seconds(119), &out);  // still within the grace period
  EXPECT_TRUE(out.empty());
  out = ResumeFrom(r_, 2, 3, s);
  auto got = ToBrowser(out, 2);
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0].id(), 3u);
  EXPECT_EQ(got[0].session_started().session(), s);
  EXPECT_EQ(got[1].id(), 2u);  // the run's own id, kept across the reconnect
  EXPECT_EQ(got[1].output().text(), "1\n");
  EXPECT_EQ(got[2].output().text(), "2\n");
  EXPECT_EQ(out.back().kind, Out::kUndetached);
  EXPECT_EQ(r_.detached(), 0u);
  // From now on replies go straight to the new connection.
  out.clear();
  r_.OnComputeMessage(links_[s], Reply(run, s, "3\n"), &out);
  r_.OnComputeMessage(links_[s], DoneFor(run, s), &out);
  got = ToBrowser(out, 2);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].output().text(), "3\n");
  EXPECT_TRUE(got[1].has_done());
  EXPECT_EQ(r_.pending(), 0u);
  // And the session takes new requests from it (and no longer from the old one).
  const uint64_t next = Exec(r_, 2, 4, s);
  out.clear();
  r_.OnComputeMessage(links_[s], Reply(next, s, "x\n"), &out);
  ASSERT_EQ(ToBrowser(out, 2).size(), 1u);
  EXPECT_EQ(ToBrowser(out, 2)[0].id(), 4u);
  out.clear();
  r_.OnBrowserText(1, R"({"id": 9, "execute": {"session": "s1", "code": "1"}})", &out);
  EXPECT_EQ(Parse(out[0].text).error().code(), proto::Error::NOT_FOUND);
}

TEST_F(RouterTest, ADoneWhileDetachedIsKeptToo) {
  const auto s = Start(1, 1, "s1");
  const uint64_t run = Exec(r_, 1, 2, s);
  std::vector<Out> out;
  r_.OnBrowserClosed(1, &out, kT0);
  r_.OnComputeMessage(links_[s], Reply(run, s, "hi\n"), &out);
  r_.OnComputeMessage(links_[s], DoneFor(run, s), &out);
  EXPECT_EQ(r_.pending(), 0u);
  auto got = ToBrowser(ResumeFrom(r_, 2, 5, s), 2);
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
  EXPECT_EQ(out[0].kind, Out::kResumeElsewhere);
  EXPECT_EQ(out[0].conn, 2u);
  EXPECT_EQ(out[0].msg.resume().session(), "nope");
  auto gone = Parse(r_.GoneJson(3, "nope"));
  EXPECT_EQ(gone.id(), 3u);
  EXPECT_EQ(gone.error().code(), proto::Error::NOT_FOUND);
  EXPECT_NE(gone.error().text().find("the session is gone"), std::string::npos);
  // Its own connection may ask again: a no-op.
  auto got = ToBrowser(ResumeFrom(r_, 1, 5, s), 1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].session_started().session(), s);
  // A request in flight from connection 1, which then goes silent (half-open).
  out.clear();
  r_.OnBrowserText(1, R"j({"id": "6", "execute": {"session": "s1", "code": "sleep(1)"}})j", &out);
  ASSERT_EQ(out.size(), 1u);
  const uint64_t hub_id = out[0].msg.id();
  // Connection 2 resumes it: it is taken over, and connection 1 is told.
  out = ResumeFrom(r_, 2, 4, s);
  auto to1 = ToBrowser(out, 1);
  ASSERT_EQ(to1.size(), 1u);
  EXPECT_EQ(to1[0].error().code(), proto::Error::NOT_FOUND);
  EXPECT_NE(to1[0].error().text().find("resumed on another connection"), std::string::npos);
  got = ToBrowser(out, 2);
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
  EXPECT_EQ(back[0].conn, 2u);
  EXPECT_EQ(Parse(back[0].text).id(), 6u);
  // The old connection no longer owns it.
  out.clear();
  r_.OnBrowserText(1, R"({"id": "7", "execute": {"session": "s1", "code": "1"}})", &out);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(Parse(out[0].text).error().code(), proto::Error::NOT_FOUND);
  // Its close later leaves the session alone.
  out.clear();
  r_.OnBrowserClosed(1, &out);
  EXPECT_TRUE(out.empty());
  EXPECT_EQ(r_.sessions(), 1u);
  EXPECT_EQ(r_.detached(), 0u);
}

TEST(RouterObserverTest, ToldOfEverySessionThatStartsAndEnds) {
  Router r(1, 1000, 1000, std::chrono::seconds(0));
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
  EXPECT_EQ(out[0].kind, Out::kToCompute);
  EXPECT_EQ(out[0].link, links_[s]);
  EXPECT_EQ(out[0].msg.terminate().session(), s);
  EXPECT_EQ(out[1].kind, Out::kUndetached);
  EXPECT_TRUE(out[1].msg.has_session_ended());
  EXPECT_EQ(r_.sessions(), 0u);
  EXPECT_EQ(r_.pending(), 0u);
  EXPECT_EQ(r_.detached(), 0u);
  // Late replies go nowhere; a resume finds nothing.
  out.clear();
  r_.OnComputeMessage(links_[s], Reply(run, s, "late\n"), &out);
  EXPECT_TRUE(out.empty());
  out = ResumeFrom(r_, 2, 3, s);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].kind, Out::kResumeElsewhere);
}

TEST_F(RouterTest, ADetachedSessionThatDiesIsGone) {
  const auto s = Start(1, 1, "s1");
  Exec(r_, 1, 2, s);
  std::vector<Out> out;
  r_.OnBrowserClosed(1, &out, kT0);
  out.clear();
  r_.OnComputeLost(links_[s], "lost the compute server", &out);
  ASSERT_EQ(out.size(), 1u);  // nobody to tell but the shard
  EXPECT_EQ(out[0].kind, Out::kUndetached);
  EXPECT_EQ(r_.sessions(), 0u);
  EXPECT_EQ(r_.pending(), 0u);
  EXPECT_EQ(ResumeFrom(r_, 2, 3, s)[0].kind, Out::kResumeElsewhere);
}

TEST(RouterBufferTest, OutputPastTheCapIsDroppedWithANotice) {
  Router r(1, 1000, 1000, seconds(120), /*max_buffer=*/200);
  r.SetLinkUp(0, true);
  std::vector<Out> out;
  StartOn(r, 1, "s");
  const uint64_t a = Exec(r, 1, 2, "s");
  out.clear();
  r.OnBrowserClosed(1, &out, kT0);
  const std::string line(40, 'x');
  for (int i = 0; i < 10; ++i) r.OnComputeMessage(0, Reply(a, "s", line + "\n"), &out);
  r.OnComputeMessage(0, DoneFor(a, "s"), &out);
  auto got = ToBrowser(ResumeFrom(r, 2, 4, "s"), 2);
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
  Router r(1, 1000, 1000, seconds(120), /*max_buffer=*/100);
  r.SetLinkUp(0, true);
  std::vector<Out> out;
  StartOn(r, 1, "s");
  const uint64_t a = Exec(r, 1, 2, "s");
  r.OnBrowserClosed(1, &out, kT0);
  r.OnComputeMessage(0, Reply(a, "s", std::string(500, 'y')), &out);
  auto got = ToBrowser(ResumeFrom(r, 2, 3, "s"), 2);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[1].output().text(), "[500 bytes of output were lost while disconnected]\n");
  EXPECT_EQ(r.pending(), 1u);  // still running
}

TEST_F(RouterTest, ASessionStartedAfterItsBrowserLeftIsEnded) {
  std::vector<Out> out;
  r_.OnBrowserText(1, R"({"id": 1, "startSession": {}})", &out);
  const uint64_t hub_id = out[0].msg.id();
  const size_t link = out[0].link;
  out.clear();
  r_.OnBrowserClosed(1, &out, kT0);
  EXPECT_TRUE(out.empty());
  proto::Message started;
  started.set_id(hub_id);
  started.mutable_session_started()->set_session("orphan");
  r_.OnComputeMessage(link, started, &out);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].kind, Out::kToCompute);
  EXPECT_EQ(out[0].msg.terminate().session(), "orphan");
  EXPECT_EQ(r_.sessions(), 0u);
  EXPECT_EQ(r_.pending(), 0u);
}

TEST_F(RouterTest, ATerminateSentJustBeforeLeavingEndsTheSession) {
  const auto s = Start(1, 1, "s1");
  std::vector<Out> out;
  r_.OnBrowserText(1, R"({"id": 2, "terminate": {"session": "s1"}})", &out);
  proto::Message ack;
  ack.set_id(out[0].msg.id());
  ack.mutable_ack();
  out.clear();
  r_.OnBrowserClosed(1, &out, kT0);  // before the ack
  out.clear();
  r_.OnComputeMessage(links_[s], ack, &out);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].kind, Out::kUndetached);
  EXPECT_TRUE(out[0].msg.has_session_ended());
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
  ack.set_id(out[0].msg.id());
  ack.mutable_ack();
  out.clear();
  r_.OnComputeMessage(links_[s], ack, &out);
  ASSERT_EQ(ToBrowser(out, 2).size(), 1u);
  EXPECT_EQ(r_.sessions(), 0u);
  EXPECT_FALSE(r_.Busy(2));
}

}  // namespace
}  // namespace salvus::hub
