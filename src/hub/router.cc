#include "hub/router.h"

#include <google/protobuf/util/json_util.h>

#include <limits>

#include "core/json.h"
#include "core/json_read.h"
#include "core/session_limits.h"
#include "core/utf8.h"

namespace salvus::hub {

namespace pbu = google::protobuf::util;

Router::Router(size_t links, RouterOptions options)
    : opt_(options), links_(links), full_since_(links) {}

std::string Router::SessionOf(const proto::Message& m) {
  switch (m.body_case()) {
    case proto::Message::kExecute:
      return m.execute().session();
    case proto::Message::kComplete:
      return m.complete().session();
    case proto::Message::kInteractUpdate:
      return m.interact_update().session();
    case proto::Message::kInterrupt:
      return m.interrupt().session();
    case proto::Message::kTerminate:
      return m.terminate().session();
    default:
      return {};
  }
}

void Router::Forget(std::unordered_map<std::string, Session>::iterator it) {
  if (observer_) observer_(it->first, false);
  if (it->second.conn == 0 && quota_ != nullptr && !it->second.address.empty()) {
    quota_->GiveDetached(it->second.address, it->first);  // unless it was evicted
  } else {
    GiveSessionSlot(it->second.address);
  }
  --links_[it->second.link].own_sessions;
  owner_.erase(it);
}

void Router::SetLinkUp(size_t link, bool up) {
  if (link < links_.size()) links_[link].up = up;
}

size_t Router::AddLink() {
  links_.emplace_back();
  full_since_.emplace_back();
  return links_.size() - 1;
}

void Router::RemoveLink(size_t link) {
  if (link < links_.size()) links_[link].removed = true;
}

void Router::SetLinkReport(size_t link, const Report& r) {
  if (link >= links_.size()) return;
  LinkLoad& l = links_[link];
  if (l.reported && l.report_ms == r.time_ms) return;  // seen it
  l.reported = true;
  l.report_ms = r.time_ms;
  l.sessions = r.sessions;
  l.max_sessions = r.max_sessions;
  l.cpus = r.cpus;
  l.load1 = r.load1;
  // The report counts what was started before it (closely enough: a start
  // that it missed and that overfills the server is refused there and
  // tried elsewhere).
  l.started_since_report = 0;
  l.full = false;
}

void Router::SetLinkInRotation(size_t link, bool in) {
  if (link < links_.size()) links_[link].in_rotation = in;
}

std::string Router::TakeSessionSlot(uint64_t conn, std::string* address, std::vector<Out>* out) {
  if (opt_.max_sessions_per_connection != 0) {
    size_t held = 0;
    if (auto it = sessions_of_.find(conn); it != sessions_of_.end()) held = it->second.size();
    for (auto& [id, p] : pending_) {
      if (p.conn == conn && p.kind == proto::Message::kStartSession) ++held;
    }
    if (held >= opt_.max_sessions_per_connection) {
      return "too many sessions: this connection may hold " +
             std::to_string(opt_.max_sessions_per_connection) +
             " at once (terminate one first, or use another connection)";
    }
  }
  address->clear();
  auto a = address_of_.find(conn);
  if (quota_ == nullptr || a == address_of_.end() || a->second.empty()) return "";
  const AddressQuota::Taken t = quota_->TakeOrEvict(a->second);
  if (!t.ok) {
    return "too many sessions: " + std::to_string(quota_->max()) +
           " are open from this client's address (terminate one first)";
  }
  *address = a->second;
  if (t.evicted && t.evicted->owner == owner_tag_) {
    EvictDetached(t.evicted->session, out);
  } else if (t.evicted) {
    out->emplace_back(EvictElsewhere{t.evicted->owner, t.evicted->session});
  }
  return "";
}

void Router::GiveSessionSlot(const std::string& address) {
  if (quota_ != nullptr && !address.empty()) quota_->Give(address);
}

bool Router::PlaceStart(uint64_t conn, uint64_t browser_id,
                        std::shared_ptr<proto::StartSession> start, std::vector<size_t> tried,
                        const std::string& address, std::vector<Out>* out) {
  // A refusal says "full" for a while only: sessions end meanwhile.
  const auto now = Clock::now();
  for (size_t i = 0; i < links_.size(); ++i) {
    LinkLoad& l = links_[i];
    if (l.full && now - full_since_[i] > opt_.full_for) l.full = false;
  }
  const auto best = PickLink(links_, tried);
  if (!best) return false;
  ++links_[*best].started_since_report;
  const uint64_t id = next_id_++;
  tried.push_back(*best);
  AddPending(id, {conn, browser_id, *best, proto::Message::kStartSession, "", start,
                  std::move(tried), address});
  ToCompute o{*best, {}};
  o.msg.set_id(id);
  *o.msg.mutable_start_session() = *start;
  out->emplace_back(std::move(o));
  return true;
}

std::string Router::ToJson(const proto::Message& m) { return core::ProtoJson(m); }

std::string Router::ErrorJson(uint64_t id, proto::Error::Code code, const std::string& text) {
  CountError(code);
  proto::Message m;
  m.set_id(id);
  m.mutable_error()->set_code(code);
  m.mutable_error()->set_text(text);
  return ToJson(m);
}

void Router::Reply(uint64_t conn, const std::string& text, std::vector<Out>* out) {
  out->emplace_back(ToBrowser{conn, text});
}

bool Router::Busy(uint64_t conn) const {
  if (auto it = sessions_of_.find(conn); it != sessions_of_.end() && !it->second.empty()) {
    return true;
  }
  return InFlight(conn) > 0;
}

size_t Router::InFlight(uint64_t conn) const {
  auto it = in_flight_.find(conn);
  return it == in_flight_.end() ? 0 : it->second;
}

void Router::AddPending(uint64_t id, Pending p) {
  if (p.conn != 0) ++in_flight_[p.conn];
  p.since = std::chrono::steady_clock::now();
  RequestMetrics(p.kind).requests.Add();
  pending_[id] = std::move(p);
}

Router::PendingMap::iterator Router::ErasePending(PendingMap::iterator it) {
  SetPendingConn(it->second, 0);
  RequestMetrics(it->second.kind)
      .seconds.Observe(
          std::chrono::duration<double>(std::chrono::steady_clock::now() - it->second.since)
              .count());
  return pending_.erase(it);
}

void Router::SetPendingConn(Pending& p, uint64_t conn) {
  if (p.conn == conn) return;
  if (p.conn != 0) {
    auto it = in_flight_.find(p.conn);
    if (--it->second == 0) in_flight_.erase(it);
  }
  p.conn = conn;
  if (conn != 0) ++in_flight_[conn];
}

void Router::Terminate(const std::string& session, size_t link, std::vector<Out>* out) {
  proto::Message t;
  t.set_id(next_id_++);  // nobody waits for the ack
  t.mutable_terminate()->set_session(session);
  out->emplace_back(ToCompute{link, std::move(t)});
}

void Router::Forward(uint64_t conn, uint64_t browser_id, size_t link, const std::string& session,
                     proto::Message&& m, std::vector<Out>* out) {
  const uint64_t id = next_id_++;
  AddPending(id, {conn, browser_id, link, m.body_case(), session, {}, {}, {}});
  m.set_id(id);
  out->emplace_back(ToCompute{link, std::move(m)});
}

bool Router::OnBrowserText(uint64_t conn, std::string_view text, std::vector<Out>* out) {
  const bool idle = InFlight(conn) == 0;
  const size_t before = out->size();
  Route(conn, text, out);
  if (!idle) return false;
  for (size_t i = before; i < out->size(); ++i) {
    if (std::holds_alternative<ToCompute>((*out)[i])) return true;
  }
  return false;
}

void Router::Route(uint64_t conn, std::string_view text, std::vector<Out>* out) {
  if (!core::IsValidUtf8(text)) {
    Reply(conn, ErrorJson(0, proto::Error::BAD_REQUEST, "message is not valid UTF-8"), out);
    return;
  }
  proto::Message m;
  // The common messages are read directly (core/json_read); the library
  // reads the rest, and names what is wrong with a malformed one.
  if (!core::ReadProtoJsonFast(text, &m)) {
    m.Clear();
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
      // The library quotes the input around the error, cut anywhere (even
      // inside a character): repaired, since a reply must be UTF-8.
      std::string why = "malformed message: ";
      core::Utf8Sanitizer utf8;
      utf8.Feed(std::string_view(st.message().data(), st.message().size()), &why);
      utf8.Finish(&why);
      Reply(conn, ErrorJson(id, proto::Error::BAD_REQUEST, why), out);
      return;
    }
  }
  const uint64_t bid = m.id();
  // Too large, whatever it holds: refused under its request's id. (Only a
  // message over the WebSocket's limit, HubOptions::max_message, closes the
  // connection: it is never read.)
  const size_t code = m.has_execute()           ? m.execute().code().size()
                      : m.has_complete()        ? m.complete().code().size()
                      : m.has_interact_update() ? m.interact_update().values().size()
                                                : 0;
  if (code > opt_.max_code || text.size() > opt_.max_code + opt_.envelope) {
    Reply(conn,
          ErrorJson(bid, proto::Error::BAD_REQUEST,
                    code > opt_.max_code
                        ? "code too large (limit " + std::to_string(opt_.max_code) + " bytes)"
                        : "message too large: " + std::to_string(text.size()) + " bytes (limit " +
                              std::to_string(opt_.max_code) + " bytes of code)"),
          out);
    return;
  }
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
      std::string address;
      if (std::string no = TakeSessionSlot(conn, &address, out); !no.empty()) {
        Reply(conn, ErrorJson(bid, proto::Error::RESOURCE_EXHAUSTED, no), out);
        return;
      }
      // A page may lower its limits, never raise them past the hub's ceiling.
      auto start = std::make_shared<proto::StartSession>(std::move(*m.mutable_start_session()));
      *start->mutable_limits() = core::LowerToCeiling(start->limits(), opt_.max_limits);
      // The emptiest compute server that is up and in rotation (placement.h).
      if (!PlaceStart(conn, bid, std::move(start), {}, address, out)) {
        GiveSessionSlot(address);
        Reply(conn, ErrorJson(bid, proto::Error::UNAVAILABLE, "no compute server is reachable"),
              out);
      }
      return;
    }
    case proto::Message::kExecute:
    case proto::Message::kComplete:
    case proto::Message::kInteractUpdate:
    case proto::Message::kInterrupt:
    case proto::Message::kTerminate: {
      const std::string session = SessionOf(m);
      const Session* s = owned(session);
      if (!s) return;
      Forward(conn, bid, s->link, session, std::move(m), out);
      return;
    }
    case proto::Message::kResume:
      Resume(conn, bid, std::move(m), out);
      return;
    case proto::Message::kShare:
      if (m.share().code().size() + m.share().interact_state().size() > opt_.max_share) {
        Reply(conn,
              ErrorJson(bid, proto::Error::BAD_REQUEST,
                        "too large to share (limit " + std::to_string(opt_.max_share) + " bytes)"),
              out);
        return;
      }
      [[fallthrough]];
    case proto::Message::kGetShared: {
      out->emplace_back(ToStore{conn, std::move(m)});
      return;
    }
    case proto::Message::BODY_NOT_SET:
      Reply(conn, ErrorJson(bid, proto::Error::BAD_REQUEST, "message has no type"), out);
      return;
    default:
      Reply(conn,
            ErrorJson(bid, proto::Error::BAD_REQUEST,
                      "a browser may send startSession, resume, execute, complete, "
                      "interactUpdate, interrupt, terminate, share or getShared"),
            out);
      return;
  }
}

void Router::OnComputeMessage(size_t link, const proto::Message& in, std::vector<Out>* out) {
  if (in.id() == 0) {
    if (in.has_session_ended())
      EndSession(in.session_ended().session(), in.session_ended().reason(), out);
    return;
  }
  auto it = pending_.find(in.id());
  if (it == pending_.end() || it->second.link != link) return;  // its browser left
  Pending p = it->second;
  if (in.has_error() && in.error().code() == proto::Error::UNAVAILABLE && p.start && p.conn != 0) {
    // Full (or without that kernel): the next emptiest server may take it.
    links_[link].full = true;
    full_since_[link] = Clock::now();
    ErasePending(it);
    if (!PlaceStart(p.conn, p.browser_id, p.start, p.tried, p.address, out)) {
      GiveSessionSlot(p.address);
      proto::Message m = in;
      m.set_id(p.browser_id);
      Reply(p.conn, ToJson(m), out);
    }
    return;
  }
  proto::Message m = in;
  m.set_id(p.browser_id);
  bool finished = true;
  if (m.has_blob()) {  // kept by the hub, fetched by browsers at /blobs/<sha1>
    out->emplace_back(KeepBlob{std::move(*m.mutable_blob())});
    return;
  }
  if (m.has_output() || m.has_display() || m.has_completions()) {
    finished = false;
  } else if (m.has_session_started()) {
    const std::string& s = m.session_started().session();
    if (p.conn == 0) {  // its browser left before it started: nobody can use it
      ErasePending(it);
      GiveSessionSlot(p.address);
      Terminate(s, link, out);
      return;
    }
    auto [at, added] = owner_.try_emplace(s);
    Session& sess = at->second;
    if (!added) {
      --links_[sess.link].own_sessions;
      GiveSessionSlot(sess.address);
    }
    sess.address = p.address;
    ++links_[link].own_sessions;
    if (observer_) observer_(s, true);
    sess.conn = p.conn;
    sess.link = link;
    sess.limits = m.session_started().limits();
    sessions_of_[p.conn].insert(s);
    if (backed_up_.count(p.conn)) SetPaused(s, sess, true, out);
  } else if (m.has_ack() && p.kind == proto::Message::kTerminate) {
    if (auto o = owner_.find(p.session); o != owner_.end()) {
      if (o->second.conn == 0) {  // its page asked, then left
        --detached_;
        out->emplace_back(DetachedSessionEnded{p.session, "terminated"});
      } else {
        sessions_of_[o->second.conn].erase(p.session);
      }
      Forget(o);
    }
  }
  if (finished) {
    // A start answered by anything but sessionStarted gives its slot back.
    if (p.kind == proto::Message::kStartSession && !m.has_session_started()) {
      GiveSessionSlot(p.address);
    }
    ErasePending(it);
  }
  if (p.conn != 0) {
    Reply(p.conn, ToJson(m), out);
  } else if (auto o = owner_.find(p.session); o != owner_.end() && o->second.conn == 0) {
    Buffer(o->second, p.session, m);
  }
}

void Router::EndSession(const std::string& session, const std::string& why, std::vector<Out>* out) {
  auto it = owner_.find(session);
  if (it == owner_.end()) return;
  const uint64_t conn = it->second.conn;
  if (conn == 0) {  // detached: nobody to tell; a resume will find it gone
    for (auto p = pending_.begin(); p != pending_.end();) {
      p = p->second.session == session ? ErasePending(p) : std::next(p);
    }
    out->emplace_back(DetachedSessionEnded{session, why});
    --detached_;
    Forget(it);
    return;
  }
  // Requests still waiting in that session end now, each with its done.
  for (auto p = pending_.begin(); p != pending_.end();) {
    if (p->second.session == session) {
      proto::Message d;
      d.set_id(p->second.browser_id);
      if (p->second.kind == proto::Message::kExecute ||
          p->second.kind == proto::Message::kComplete ||
          p->second.kind == proto::Message::kInteractUpdate) {
        d.mutable_done()->set_session(session);
        d.mutable_done()->set_status(proto::Done::DIED);
        d.mutable_done()->set_text(why);
      } else {
        d.mutable_error()->set_code(proto::Error::UNAVAILABLE);
        d.mutable_error()->set_text(why);
      }
      Reply(conn, ToJson(d), out);
      p = ErasePending(p);
    } else {
      ++p;
    }
  }
  proto::Message e;
  e.mutable_session_ended()->set_session(session);
  e.mutable_session_ended()->set_reason(why);
  Reply(conn, ToJson(e), out);
  sessions_of_[conn].erase(session);
  Forget(it);
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
      if (p->second.conn != 0) {
        Reply(p->second.conn, ErrorJson(p->second.browser_id, proto::Error::UNAVAILABLE, why), out);
      }
      if (p->second.kind == proto::Message::kStartSession) GiveSessionSlot(p->second.address);
      p = ErasePending(p);
    } else {
      ++p;
    }
  }
}

}  // namespace salvus::hub
