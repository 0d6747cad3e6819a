// The Router's side of reconnecting pages (router.h): a closed browser's
// sessions detach and buffer their replies; a resume takes them back (or
// over, from a connection presumed dead); the grace period ends the rest.
#include <set>
#include <string>
#include <utility>

#include "hub/router.h"

namespace salvus::hub {

std::string Router::GoneJson(uint64_t id, const std::string& session) const {
  return ErrorJson(id, proto::Error::NOT_FOUND,
                   "the session is gone: " + session +
                       " ended, or its page was away longer than "
                       "the " +
                       std::to_string(opt_.grace.count() / 1000) + " s reconnect grace period");
}

std::string Router::LostNotice(const std::string& session, uint64_t bid, size_t bytes) {
  proto::Message n;
  n.set_id(bid);
  n.mutable_output()->set_session(session);
  n.mutable_output()->set_stream(proto::Output::STDERR);
  n.mutable_output()->set_text("[" + std::to_string(bytes) +
                               " bytes of output were lost while disconnected]\n");
  return ToJson(n);
}

void Router::Buffer(Session& s, const std::string& session, const proto::Message& m) {
  std::string text = ToJson(m);
  if (m.has_output() || m.has_display()) {
    // Past the cap a request's output is dropped (from then on, so what is
    // kept stays in order) and one notice stands for it.
    auto l = s.lost.find(m.id());
    if (l != s.lost.end() || s.buffered + text.size() > opt_.max_buffer) {
      s.lost[m.id()] += m.has_output() ? m.output().text().size() : text.size();
      return;
    }
  } else if (auto l = s.lost.find(m.id()); l != s.lost.end()) {
    // The request ends: its notice goes before its done.
    std::string notice = LostNotice(session, l->first, l->second);
    s.buffered += notice.size();
    s.buffer.push_back(std::move(notice));
    s.lost.erase(l);
  }
  s.buffered += text.size();
  s.buffer.push_back(std::move(text));
}

void Router::Resume(uint64_t conn, uint64_t bid, proto::Message&& m, std::vector<Out>* out) {
  const std::string session = m.resume().session();
  auto it = owner_.find(session);
  if (session.empty() || it == owner_.end()) {
    // Not here: the shard looks for it on the others.
    out->emplace_back(ResumeElsewhere{conn, std::move(m)});
    return;
  }
  Session& s = it->second;
  proto::Message ok;
  ok.set_id(bid);
  ok.mutable_session_started()->set_session(session);
  *ok.mutable_session_started()->mutable_limits() = s.limits;
  if (s.conn == conn) {  // already ours
    Reply(conn, ToJson(ok), out);
    return;
  }
  const bool was_detached = s.conn == 0;
  if (was_detached && quota_ != nullptr && !s.address.empty() &&
      !quota_->Attach(s.address, session)) {
    // A start from its address took its slot meanwhile (its Router is
    // about to end it): it is gone.
    s.address.clear();  // the slot is the new session's
    EndDetached(it, "evicted: a new session from its address took its place", out);
    Reply(conn, GoneJson(bid, session), out);
    return;
  }
  if (!was_detached) {
    // Still attached to a connection the hub thinks alive: its page lost it
    // without a word (a half-open TCP connection, e.g. after a network
    // change) and comes back on a new one. The session id is the secret that
    // grants a session, so the new connection takes it over.
    sessions_of_[s.conn].erase(session);
    Reply(s.conn,
          ErrorJson(0, proto::Error::NOT_FOUND,
                    "session " + session + " was resumed on another connection"),
          out);
  } else {
    --detached_;
  }
  s.conn = conn;
  sessions_of_[conn].insert(session);
  for (auto& [id, p] : pending_) {
    if (p.session == session) SetPendingConn(p, conn);
  }
  SetPaused(session, s, backed_up_.count(conn) > 0, out);
  Reply(conn, ToJson(ok), out);
  if (!was_detached) return;
  // What came meanwhile, in order; then notices for requests still running
  // whose output was cut.
  for (const std::string& text : s.buffer) Reply(conn, text, out);
  for (auto& [id, bytes] : s.lost) Reply(conn, LostNotice(session, id, bytes), out);
  s.buffer.clear();
  s.buffered = 0;
  s.lost.clear();
  out->emplace_back(SessionResumed{conn, session});
}

void Router::OnBrowserClosed(uint64_t conn, std::vector<Out>* out, Clock::time_point now,
                             bool keep_sessions) {
  std::set<std::string> kept;
  if (auto it = sessions_of_.find(conn); it != sessions_of_.end()) {
    for (const std::string& s : it->second) {
      auto o = owner_.find(s);
      if (o == owner_.end()) continue;
      if (!keep_sessions || opt_.grace.count() <= 0) {
        Terminate(s, o->second.link, out);
        Forget(o);
        continue;
      }
      SetPaused(s, o->second, false, out);  // its output goes to its buffer (capped)
      o->second.conn = 0;
      o->second.deadline = now + opt_.grace;
      ++detached_;
      if (quota_ != nullptr && !o->second.address.empty()) {
        quota_->Detach(o->second.address, s, owner_tag_);
      }
      kept.insert(s);
      out->emplace_back(SessionDetached{s});
    }
    sessions_of_.erase(it);
  }
  address_of_.erase(conn);
  backed_up_.erase(conn);
  for (auto p = pending_.begin(); p != pending_.end();) {
    if (p->second.conn != conn) {
      ++p;
    } else if (kept.count(p->second.session) || p->second.kind == proto::Message::kStartSession) {
      SetPendingConn(p->second, 0);  // replies are buffered; a session started now is ended
      ++p;
    } else {
      p = ErasePending(p);
    }
  }
}

void Router::ExpireDetached(Clock::time_point now, std::vector<Out>* out) {
  if (detached_ == 0) return;
  std::vector<std::string> expired;
  for (auto& [s, sess] : owner_) {
    if (sess.conn == 0 && sess.deadline <= now) expired.push_back(s);
  }
  for (const std::string& s : expired) {
    EndDetached(owner_.find(s), "its page did not come back within the reconnect grace period",
                out);
  }
}

void Router::EndDetached(std::unordered_map<std::string, Session>::iterator it,
                         const std::string& why, std::vector<Out>* out) {
  const std::string s = it->first;
  for (auto p = pending_.begin(); p != pending_.end();) {
    p = p->second.session == s ? ErasePending(p) : std::next(p);
  }
  Terminate(s, it->second.link, out);
  out->emplace_back(DetachedSessionEnded{s, why});
  --detached_;
  Forget(it);
}

void Router::EvictDetached(const std::string& session, std::vector<Out>* out) {
  auto it = owner_.find(session);
  // Resumed meanwhile it would have found itself evicted (Attach), and ended.
  if (it == owner_.end() || it->second.conn != 0) return;
  it->second.address.clear();  // its slot went to the new session
  EndDetached(it,
              "evicted: a new session from its address needed its place (" +
                  std::to_string(quota_ ? quota_->max() : 0) + " per address)",
              out);
}

void Router::SetPaused(const std::string& session, Session& s, bool paused, std::vector<Out>* out) {
  if (s.paused == paused) return;
  s.paused = paused;
  proto::Message f;
  f.set_id(next_id_++);  // nobody waits for an answer: there is none
  f.mutable_flow()->set_session(session);
  f.mutable_flow()->set_paused(paused);
  out->emplace_back(ToCompute{s.link, std::move(f)});
}

void Router::SetConnBackedUp(uint64_t conn, bool backed_up, std::vector<Out>* out) {
  if (backed_up) {
    if (!address_of_.count(conn)) return;  // closed meanwhile
    backed_up_.insert(conn);
  } else {
    backed_up_.erase(conn);
  }
  auto it = sessions_of_.find(conn);
  if (it == sessions_of_.end()) return;
  for (const std::string& s : it->second) {
    if (auto o = owner_.find(s); o != owner_.end()) SetPaused(s, o->second, backed_up, out);
  }
}

}  // namespace salvus::hub
