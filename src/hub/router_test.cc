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

TEST_F(RouterTest, ClosingABrowserTerminatesItsSessions) {
  Start(1, 1, "s");
  std::vector<Out> out;
  r_.OnBrowserClosed(1, &out);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].kind, Out::kToCompute);
  EXPECT_EQ(out[0].msg.terminate().session(), "s");
  EXPECT_EQ(r_.sessions(), 0u);
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

}  // namespace
}  // namespace salvus::hub
