// The Router: routing, placement, errors, blobs, sharing.
#include <gtest/gtest.h>

#include "core/metrics.h"
#include "core/utf8.h"
#include "hub/router_test_util.h"

namespace salvus::hub {
namespace {

TEST_F(RouterTest, ExecuteRoundTripKeepsTheBrowsersIds) {
  const auto s = Start(1, 7, "s1");
  std::vector<Out> out;
  r_.OnBrowserText(1, R"({"id": "8", "execute": {"session": "s1", "code": "2+2"}})", &out);
  ASSERT_EQ(out.size(), 1u);
  ASSERT_TRUE(std::holds_alternative<ToCompute>(out[0]));
  EXPECT_EQ(Msg(out[0]).execute().code(), "2+2");
  const uint64_t hub_id = Msg(out[0]).id();
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
  EXPECT_EQ(Conn(back[0]), 1u);
  EXPECT_EQ(Parse(Text(back[0])).id(), 8u);
  EXPECT_EQ(Parse(Text(back[0])).output().text(), "4\n");
  EXPECT_TRUE(Parse(Text(back[1])).has_done());
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
  EXPECT_EQ(Link(out[0]), 1u);
  const size_t third = r_.AddLink();
  EXPECT_EQ(third, 2u);
  r_.SetLinkUp(third, true);
  r_.SetLinkReport(third, {1000, 0, 8, 2, 0.0});
  out.clear();
  r_.OnBrowserText(1, R"({"id": 2, "startSession": {}})", &out);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(Link(out[0]), third);
  // Out of rotation: no new sessions there, though it is emptiest.
  r_.SetLinkInRotation(third, false);
  out.clear();
  r_.OnBrowserText(1, R"({"id": 3, "startSession": {}})", &out);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(Link(out[0]), 1u);
}

TEST_F(RouterTest, AStartRefusedAsFullIsTriedOnTheNextServer) {
  std::vector<Out> out;
  r_.OnBrowserText(1, R"({"id": 5, "startSession": {"kernel": "sage"}})", &out);
  ASSERT_EQ(out.size(), 1u);
  const size_t first = Link(out[0]);
  proto::Message full;
  full.set_id(Msg(out[0]).id());
  full.mutable_error()->set_code(proto::Error::UNAVAILABLE);
  full.mutable_error()->set_text("the compute server is full (2 sessions)");
  std::vector<Out> again;
  r_.OnComputeMessage(first, full, &again);
  ASSERT_EQ(again.size(), 1u);
  ASSERT_TRUE(std::holds_alternative<ToCompute>(again[0]));
  EXPECT_NE(Link(again[0]), first);
  EXPECT_EQ(Msg(again[0]).start_session().kernel(), "sage");
  // The second refuses too: the browser gets that error under its own id.
  full.set_id(Msg(again[0]).id());
  std::vector<Out> last;
  r_.OnComputeMessage(Link(again[0]), full, &last);
  ASSERT_EQ(last.size(), 1u);
  ASSERT_TRUE(std::holds_alternative<ToBrowser>(last[0]));
  const auto m = Parse(Text(last[0]));
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
  r_.OnBrowserText(
      1, std::string("{\"id\": 8, \"execute\": {\"code\": \"") + std::string(2000, 'x') + "\"}}",
      &out);
  r_.OnBrowserText(1, "{\"id\": 9, \"execute\": {\"code\": \"\xff\"}}", &out);
  r_.OnBrowserText(1, R"({"id": 10})", &out);
  ASSERT_EQ(out.size(), 9u);
  for (const Out& o : out) {
    ASSERT_TRUE(std::holds_alternative<ToBrowser>(o));
    proto::Message m = Parse(Text(o));
    ASSERT_TRUE(m.has_error()) << Text(o);
    EXPECT_FALSE(m.error().text().empty());
  }
  EXPECT_NE(Parse(Text(out[0])).error().text().find("malformed"), std::string::npos);
  EXPECT_EQ(Parse(Text(out[1])).id(), 3u);  // an unknown type still names its request
  EXPECT_EQ(Parse(Text(out[3])).error().code(), proto::Error::BAD_REQUEST);
  EXPECT_EQ(Parse(Text(out[4])).error().code(), proto::Error::NOT_FOUND);
  EXPECT_EQ(Parse(Text(out[4])).id(), 6u);
  EXPECT_NE(Parse(Text(out[6])).error().text().find("too large"), std::string::npos);
  EXPECT_NE(Parse(Text(out[7])).error().text().find("UTF-8"), std::string::npos);
}

// Found by fuzz/router_fuzz.cc: the library's error message quotes the
// input around the error, cut anywhere, even inside a character; the reply
// was then not UTF-8 (a browser fails a WebSocket on such a text frame).
TEST_F(RouterTest, AMalformedMessagesErrorIsValidUtf8) {
  std::string text = R"({"id": 1, "execute": x ")";
  for (int i = 0; i < 12; ++i) text += "\xCF\xAE";  // U+03EE, 2 bytes
  text += "\"}";
  for (size_t cut = 0; cut < 3; ++cut) {
    std::vector<Out> out;
    r_.OnBrowserText(1, text.substr(cut), &out);
    ASSERT_EQ(out.size(), 1u);
    EXPECT_TRUE(core::IsValidUtf8(Text(out[0]))) << Text(out[0]);
    EXPECT_EQ(Parse(Text(out[0])).error().code(), proto::Error::BAD_REQUEST);
  }
}

// Each error the hub answers is counted by its code (/metrics).
TEST_F(RouterTest, ErrorsAreCountedByCode) {
  auto& bad = core::metrics::Default().counter("salvus_hub_errors_total",
                                               "Errors the hub answered browsers with, by code.",
                                               "code=\"BAD_REQUEST\"");
  const uint64_t before = bad.value();
  std::vector<Out> out;
  r_.OnBrowserText(1, "not json", &out);
  r_.OnBrowserText(1, R"({"id": 2})", &out);
  EXPECT_EQ(bad.value(), before + 2);
  EXPECT_NE(core::metrics::Default().Text().find("salvus_hub_errors_total{code=\"BAD_REQUEST\"}"),
            std::string::npos);
}

TEST_F(RouterTest, AnotherBrowsersSessionIsNotFound) {
  Start(1, 1, "mine");
  std::vector<Out> out;
  r_.OnBrowserText(2, R"({"id": 2, "interrupt": {"session": "mine"}})", &out);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(Parse(Text(out[0])).error().code(), proto::Error::NOT_FOUND);
}

TEST(RouterNoGraceTest, ClosingABrowserTerminatesItsSessions) {
  Router r(1, {.max_code = 1000, .max_share = 1000, .grace = std::chrono::seconds(0)});
  r.SetLinkUp(0, true);
  std::vector<Out> out;
  r.OnBrowserText(1, R"({"id": 1, "startSession": {}})", &out);
  proto::Message started;
  started.set_id(Msg(out[0]).id());
  started.mutable_session_started()->set_session("s");
  out.clear();
  r.OnComputeMessage(0, started, &out);
  out.clear();
  r.OnBrowserClosed(1, &out);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_TRUE(std::holds_alternative<ToCompute>(out[0]));
  EXPECT_EQ(Msg(out[0]).terminate().session(), "s");
  EXPECT_EQ(r.sessions(), 0u);
}

TEST_F(RouterTest, LosingTheComputeServerEndsRequestsWithDone) {
  Start(1, 1, "s");
  std::vector<Out> out;
  r_.OnBrowserText(1, R"({"id": 2, "execute": {"session": "s", "code": "while True: pass"}})",
                   &out);
  out.clear();
  r_.OnComputeLost(links_["s"], "lost the compute server", &out);
  ASSERT_EQ(out.size(), 2u);
  proto::Message done = Parse(Text(out[0]));
  EXPECT_EQ(done.id(), 2u);
  EXPECT_EQ(done.done().status(), proto::Done::DIED);
  EXPECT_TRUE(Parse(Text(out[1])).has_session_ended());
  out.clear();
  r_.OnBrowserText(1, R"({"id": 3, "execute": {"session": "s", "code": "1"}})", &out);
  EXPECT_EQ(Parse(Text(out[0])).error().code(), proto::Error::NOT_FOUND);
}

TEST_F(RouterTest, NoComputeServerUp) {
  r_.SetLinkUp(0, false);
  r_.SetLinkUp(1, false);
  std::vector<Out> out;
  r_.OnBrowserText(1, R"({"id": 1, "startSession": {}})", &out);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(Parse(Text(out[0])).error().code(), proto::Error::UNAVAILABLE);
}

TEST_F(RouterTest, RichOutputReachesTheBrowserAndBlobsStayInTheHub) {
  const auto s = Start(1, 1, "s1");
  std::vector<Out> out;
  r_.OnBrowserText(1, R"j({"id": 2, "execute": {"session": "s1", "code": "plot(x)"}})j", &out);
  ASSERT_EQ(out.size(), 1u);
  const uint64_t hub_id = Msg(out[0]).id();
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
  ASSERT_TRUE(std::holds_alternative<KeepBlob>(back[0]));  // never sent to a browser
  EXPECT_EQ(std::get<KeepBlob>(back[0]).blob.data(), "abc");
  EXPECT_TRUE(std::holds_alternative<ToBrowser>(back[1]));
  EXPECT_EQ(Parse(Text(back[1])).display().blob(), "a9993e364706816aba3e25717850c26c9cd0d89d");
  EXPECT_EQ(Text(back[1]).find("abc"), std::string::npos);
  EXPECT_TRUE(Parse(Text(back[2])).has_done());
  EXPECT_EQ(r_.pending(), 0u);
}

TEST_F(RouterTest, CompletionAndInteractUpdatesGoToTheSessionsComputeServer) {
  const auto s = Start(1, 1, "s1");
  std::vector<Out> out;
  r_.OnBrowserText(1, R"({"id": 2, "complete": {"session": "s1", "code": "facto", "cursor": 5}})",
                   &out);
  r_.OnBrowserText(
      1,
      R"({"id": 3, "interactUpdate": {"session": "s1", "interact": "i1", "values": "{\"n\": 3}"}})",
      &out);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_TRUE(std::holds_alternative<ToCompute>(out[0]));
  EXPECT_EQ(Link(out[0]), links_[s]);
  EXPECT_EQ(Msg(out[0]).complete().cursor(), 5u);
  EXPECT_EQ(Msg(out[1]).interact_update().values(), R"({"n": 3})");
  proto::Message c, d;
  c.set_id(Msg(out[0]).id());
  c.mutable_completions()->add_matches("factor");
  d.set_id(Msg(out[0]).id());
  d.mutable_done();
  std::vector<Out> back;
  r_.OnComputeMessage(links_[s], c, &back);
  r_.OnComputeMessage(links_[s], d, &back);
  ASSERT_EQ(back.size(), 2u);
  EXPECT_EQ(Parse(Text(back[0])).completions().matches(0), "factor");
  EXPECT_EQ(Parse(Text(back[0])).id(), 2u);
  // The compute server dies during the interact update: it ends with done.
  back.clear();
  r_.OnComputeLost(links_[s], "gone", &back);
  bool done_for_3 = false;
  for (auto& b : back) {
    auto m = Parse(Text(b));
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
  EXPECT_TRUE(std::holds_alternative<ToBrowser>(out[0]));
  EXPECT_EQ(Parse(Text(out[0])).error().code(), proto::Error::NOT_FOUND);
  EXPECT_EQ(Parse(Text(out[0])).id(), 9u);
}

TEST_F(RouterTest, SharingGoesToTheStoreAndOversizedSharesAreRefused) {
  std::vector<Out> out;
  r_.OnBrowserText(1, R"j({"id": 4, "share": {"code": "factor(2^64+1)"}})j", &out);
  r_.OnBrowserText(1, R"({"id": 5, "getShared": {"id": "abc123"}})", &out);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_TRUE(std::holds_alternative<ToStore>(out[0]));
  EXPECT_EQ(Msg(out[0]).share().code(), "factor(2^64+1)");
  EXPECT_EQ(Msg(out[0]).id(), 4u);
  EXPECT_TRUE(std::holds_alternative<ToStore>(out[1]));
  out.clear();
  Router small(1, {.max_code = 1000, .max_share = 10});
  small.OnBrowserText(1, R"({"id": 6, "share": {"code": "01234567890"}})", &out);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_TRUE(std::holds_alternative<ToBrowser>(out[0]));
  EXPECT_EQ(Parse(Text(out[0])).error().code(), proto::Error::BAD_REQUEST);
  EXPECT_NE(Parse(Text(out[0])).error().text().find("too large to share"), std::string::npos);
}

}  // namespace
}  // namespace salvus::hub
