// What the Router tests share: a fixture with two compute links up, and
// helpers to read the Router's output and to drive sessions.
#pragma once

#include <google/protobuf/util/json_util.h>
#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <string>
#include <variant>
#include <vector>

#include "hub/router.h"

namespace salvus::hub {

inline proto::Message Parse(const std::string& json) {
  proto::Message m;
  EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(json, &m).ok()) << json;
  return m;
}

// The fields of an Out, whichever alternative has them (std::get throws,
// failing the test, when `o` has none).
inline const proto::Message& Msg(const Out& o) {
  if (auto* c = std::get_if<ToCompute>(&o)) return c->msg;
  if (auto* s = std::get_if<ToStore>(&o)) return s->msg;
  return std::get<ResumeElsewhere>(o).msg;
}
inline const std::string& Text(const Out& o) { return std::get<ToBrowser>(o).text; }
inline size_t Link(const Out& o) { return std::get<ToCompute>(o).link; }
inline uint64_t Conn(const Out& o) {
  if (auto* r = std::get_if<ResumeElsewhere>(&o)) return r->conn;
  return std::get<ToBrowser>(o).conn;
}

// Starts session `name` for browser `conn` on a Router whose link 0 is up.
inline void StartOn(Router& r, uint64_t conn, const std::string& name) {
  std::vector<Out> out;
  r.OnBrowserText(conn, R"({"id": 1, "startSession": {}})", &out);
  ASSERT_EQ(out.size(), 1u);
  proto::Message started;
  started.set_id(Msg(out[0]).id());
  started.mutable_session_started()->set_session(name);
  r.OnComputeMessage(0, started, &out);
}

class RouterTest : public ::testing::Test {
 protected:
  RouterTest() : r_(2, {.max_code = 1000}) {
    r_.SetLinkUp(0, true);
    r_.SetLinkUp(1, true);
  }
  // Starts a session for `conn`; returns its id.
  std::string Start(uint64_t conn, uint64_t bid, const std::string& name) {
    std::vector<Out> out;
    r_.OnBrowserText(conn, R"({"id": )" + std::to_string(bid) + R"(, "startSession": {}})", &out);
    EXPECT_EQ(out.size(), 1u);
    EXPECT_TRUE(std::holds_alternative<ToCompute>(out[0]));
    proto::Message reply;
    reply.set_id(Msg(out[0]).id());
    reply.mutable_session_started()->set_session(name);
    std::vector<Out> back;
    r_.OnComputeMessage(Link(out[0]), reply, &back);
    EXPECT_EQ(back.size(), 1u);
    EXPECT_EQ(Parse(Text(back[0])).id(), bid);
    links_[name] = Link(out[0]);
    return name;
  }
  Router r_;
  std::map<std::string, size_t> links_;
};

inline constexpr Router::Clock::time_point kT0{};

// Replies to browsers in `out`, parsed.
inline std::vector<proto::Message> BrowserGets(const std::vector<Out>& out, uint64_t conn) {
  std::vector<proto::Message> r;
  for (const Out& o : out) {
    if (auto* b = std::get_if<ToBrowser>(&o); b && b->conn == conn) r.push_back(Parse(b->text));
  }
  return r;
}

inline proto::Message Reply(uint64_t hub_id, const std::string& session, const std::string& text) {
  proto::Message m;
  m.set_id(hub_id);
  m.mutable_output()->set_session(session);
  m.mutable_output()->set_text(text);
  return m;
}

inline proto::Message DoneFor(uint64_t hub_id, const std::string& session) {
  proto::Message m;
  m.set_id(hub_id);
  m.mutable_done()->set_session(session);
  return m;
}

// Sends an execute from `conn`; returns its hub id.
inline uint64_t Exec(Router& r, uint64_t conn, uint64_t bid, const std::string& session) {
  std::vector<Out> out;
  r.OnBrowserText(conn,
                  R"({"id": )" + std::to_string(bid) + R"(, "execute": {"session": ")" + session +
                      R"(", "code": "1"}})",
                  &out);
  EXPECT_EQ(out.size(), 1u);
  EXPECT_TRUE(std::holds_alternative<ToCompute>(out[0]));
  return Msg(out[0]).id();
}

inline std::vector<Out> ResumeFrom(Router& r, uint64_t conn, uint64_t bid,
                                   const std::string& session) {
  std::vector<Out> out;
  r.OnBrowserText(
      conn,
      R"({"id": )" + std::to_string(bid) + R"(, "resume": {"session": ")" + session + R"("}})",
      &out);
  return out;
}

}  // namespace salvus::hub
