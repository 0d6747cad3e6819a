#include "hub/router.h"

#include <google/protobuf/util/json_util.h>

#include <limits>

#include "core/utf8.h"

namespace salvus::hub {

namespace pbu = google::protobuf::util;

Router::Router(size_t links, size_t max_code) : max_code_(max_code), link_up_(links, false) {}

void Router::SetLinkUp(size_t link, bool up) {
  if (link < link_up_.size()) link_up_[link] = up;
}

std::string Router::ToJson(const proto::Message& m) {
  std::string s;
  pbu::JsonPrintOptions o;
  o.preserve_proto_field_names = false;  // lowerCamelCase, the proto3 JSON mapping
  (void)pbu::MessageToJsonString(m, &s, o);
  return s;
}

std::string Router::ErrorJson(uint64_t id, proto::Error::Code code, const std::string& text) {
  proto::Message m;
  m.set_id(id);
  m.mutable_error()->set_code(code);
  m.mutable_error()->set_text(text);
  return ToJson(m);
}

void Router::Reply(uint64_t conn, const std::string& text, std::vector<Out>* out) {
  out->push_back({Out::kToBrowser, conn, 0, text, {}});
}

void Router::Forward(uint64_t conn, uint64_t browser_id, size_t link, const std::string& session,
                     proto::Message&& m, std::vector<Out>* out) {
  const uint64_t id = next_id_++;
  pending_[id] = {conn, browser_id, link, m.body_case(), session};
  m.set_id(id);
  Out o{Out::kToCompute, conn, link, {}, {}};
  o.msg = std::move(m);
  out->push_back(std::move(o));
}

void Router::OnBrowserText(uint64_t conn, std::string_view text, std::vector<Out>* out) {
  if (!core::IsValidUtf8(text)) {
    Reply(conn, ErrorJson(0, proto::Error::BAD_REQUEST, "message is not valid UTF-8"), out);
    return;
  }
  if (text.size() > max_code_ + 4096) {
    Reply(conn,
          ErrorJson(0, proto::Error::BAD_REQUEST,
                    "message too large: " + std::to_string(text.size()) + " bytes (limit " +
                        std::to_string(max_code_) + " bytes of code)"),
          out);
    return;
  }
  proto::Message m;
  pbu::JsonParseOptions opts;
  opts.ignore_unknown_fields = false;
  auto st = pbu::JsonStringToMessage(std::string(text), &m, opts);
  if (!st.ok()) {
    // Name the request in the error when its id can still be read.
    proto::Message lenient;
    pbu::JsonParseOptions loose;
    loose.ignore_unknown_fields = true;
    const uint64_t id =
        pbu::JsonStringToMessage(std::string(text), &lenient, loose).ok() ? lenient.id() : 0;
    Reply(conn,
          ErrorJson(id, proto::Error::BAD_REQUEST,
                    "malformed message: " + std::string(st.message().data(), st.message().size())),
          out);
    return;
  }
  const uint64_t bid = m.id();
  auto owned = [&](const std::string& session) -> const Session* {
    auto it = owner_.find(session);
    if (it == owner_.end() || it->second.conn != conn) {
      Reply(conn,
            ErrorJson(bid, proto::Error::NOT_FOUND,
                      session.empty() ? "no session given: start one first"
                                      : "no such session: " + session),
            out);
      return nullptr;
    }
    return &it->second;
  };
  switch (m.body_case()) {
    case proto::Message::kStartSession: {
      // The connected compute server with the fewest of this hub's sessions.
      std::vector<size_t> load(link_up_.size(), 0);
      for (auto& [s, sess] : owner_) ++load[sess.link];
      size_t best = std::numeric_limits<size_t>::max();
      for (size_t i = 0; i < link_up_.size(); ++i) {
        if (link_up_[i] && (best == std::numeric_limits<size_t>::max() || load[i] < load[best])) {
          best = i;
        }
      }
      if (best == std::numeric_limits<size_t>::max()) {
        Reply(conn, ErrorJson(bid, proto::Error::UNAVAILABLE, "no compute server is reachable"),
              out);
        return;
      }
      Forward(conn, bid, best, "", std::move(m), out);
      return;
    }
    case proto::Message::kExecute:
      if (m.execute().code().size() > max_code_) {
        Reply(conn,
              ErrorJson(bid, proto::Error::BAD_REQUEST,
                        "code too large (limit " + std::to_string(max_code_) + " bytes)"),
              out);
        return;
      }
      [[fallthrough]];
    case proto::Message::kInterrupt:
    case proto::Message::kTerminate: {
      const std::string session = m.has_execute()     ? m.execute().session()
                                  : m.has_interrupt() ? m.interrupt().session()
                                                      : m.terminate().session();
      const Session* s = owned(session);
      if (!s) return;
      Forward(conn, bid, s->link, session, std::move(m), out);
      return;
    }
    case proto::Message::BODY_NOT_SET:
      Reply(conn, ErrorJson(bid, proto::Error::BAD_REQUEST, "message has no type"), out);
      return;
    default:
      Reply(conn,
            ErrorJson(bid, proto::Error::BAD_REQUEST,
                      "a browser may send startSession, execute, interrupt or terminate"),
            out);
      return;
  }
}

void Router::OnComputeMessage(size_t link, const proto::Message& in, std::vector<Out>* out) {
  if (in.id() == 0) {
    if (in.has_session_ended()) EndSession(in.session_ended().session(), in.session_ended().reason(), out);
    return;
  }
  auto it = pending_.find(in.id());
  if (it == pending_.end() || it->second.link != link) return;  // its browser left
  Pending p = it->second;
  proto::Message m = in;
  m.set_id(p.browser_id);
  bool finished = true;
  if (m.has_output()) {
    finished = false;
  } else if (m.has_session_started()) {
    const std::string& s = m.session_started().session();
    owner_[s] = {p.conn, link};
    sessions_of_[p.conn].insert(s);
  } else if (m.has_ack() && p.kind == proto::Message::kTerminate) {
    owner_.erase(p.session);
    sessions_of_[p.conn].erase(p.session);
  }
  if (finished) pending_.erase(it);
  Reply(p.conn, ToJson(m), out);
}

void Router::EndSession(const std::string& session, const std::string& why, std::vector<Out>* out) {
  auto it = owner_.find(session);
  if (it == owner_.end()) return;
  const uint64_t conn = it->second.conn;
  // Requests still waiting in that session end now, each with its done.
  for (auto p = pending_.begin(); p != pending_.end();) {
    if (p->second.session == session) {
      proto::Message d;
      d.set_id(p->second.browser_id);
      if (p->second.kind == proto::Message::kExecute) {
        d.mutable_done()->set_session(session);
        d.mutable_done()->set_status(proto::Done::DIED);
        d.mutable_done()->set_text(why);
      } else {
        d.mutable_error()->set_code(proto::Error::UNAVAILABLE);
        d.mutable_error()->set_text(why);
      }
      Reply(conn, ToJson(d), out);
      p = pending_.erase(p);
    } else {
      ++p;
    }
  }
  proto::Message e;
  e.mutable_session_ended()->set_session(session);
  e.mutable_session_ended()->set_reason(why);
  Reply(conn, ToJson(e), out);
  sessions_of_[conn].erase(session);
  owner_.erase(it);
}

void Router::OnComputeLost(size_t link, const std::string& why, std::vector<Out>* out) {
  SetLinkUp(link, false);
  std::vector<std::string> gone;
  for (auto& [s, sess] : owner_) {
    if (sess.link == link) gone.push_back(s);
  }
  for (auto& s : gone) EndSession(s, why, out);
  // Starts that were on their way there.
  for (auto p = pending_.begin(); p != pending_.end();) {
    if (p->second.link == link) {
      Reply(p->second.conn, ErrorJson(p->second.browser_id, proto::Error::UNAVAILABLE, why), out);
      p = pending_.erase(p);
    } else {
      ++p;
    }
  }
}

void Router::OnBrowserClosed(uint64_t conn, std::vector<Out>* out) {
  auto it = sessions_of_.find(conn);
  if (it != sessions_of_.end()) {
    for (const std::string& s : it->second) {
      auto o = owner_.find(s);
      if (o == owner_.end()) continue;
      proto::Message t;
      t.set_id(next_id_++);  // nobody waits for the ack
      t.mutable_terminate()->set_session(s);
      Out x{Out::kToCompute, conn, o->second.link, {}, {}};
      x.msg = std::move(t);
      out->push_back(std::move(x));
      owner_.erase(o);
    }
    sessions_of_.erase(it);
  }
  for (auto p = pending_.begin(); p != pending_.end();) {
    p = p->second.conn == conn ? pending_.erase(p) : std::next(p);
  }
}

}  // namespace salvus::hub
