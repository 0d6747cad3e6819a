// Hub connections: accept, TLS, hello, and the requests of an authenticated
// hub. Any number of hubs may connect; each sees only its own sessions.
#include <signal.h>
#include <spdlog/spdlog.h>

#include "compute/server.h"
#include "compute/server_records.h"
#include "compute/worker_record.h"
#include "core/descriptors.h"
#include "core/log.h"
#include "core/spawn.h"
#include "core/tls_accept.h"
#include "core/token.h"

namespace salvus::compute {

namespace asio = boost::asio;
using asio::ip::tcp;

namespace {

std::string Frame(const proto::Message& m) { return core::EncodeFrame(m); }

}  // namespace

asio::awaitable<void> ComputeServer::AcceptLoop() {
  while (!stopping_) {
    boost::system::error_code ec;
    tcp::socket sock =
        co_await acceptor_.async_accept(asio::redirect_error(asio::use_awaitable, ec));
    if (ec) {
      if (stopping_) break;
      spdlog::warn("accept: {}", ec.message());
      continue;
    }
    AcceptHub(std::move(sock));
  }
}

void ComputeServer::AcceptHub(tcp::socket sock) {
  core::SetCloseOnExec(sock.native_handle());  // asio accepts without it
  boost::system::error_code ec;
  sock.set_option(tcp::no_delay(true), ec);
  std::string peer = "?";
  auto rep = sock.remote_endpoint(ec);
  if (!ec) peer = rep.address().to_string() + ":" + std::to_string(rep.port());
  auto hub = std::make_shared<HubConn>();
  hubs_.insert(hub);
  std::weak_ptr<HubConn> weak = hub;
  core::ConnHandlers handlers{[this, weak](std::string_view body) {
                                if (auto h = weak.lock()) OnHubFrame(h, body);
                              },
                              [this, weak](core::ConnEnd end) {
                                auto hub = weak.lock();
                                if (!hub) return;
                                if (end == core::ConnEnd::kTooBig) {
                                  spdlog::warn("hub {}: frame over {} bytes{}; closing",
                                               hub->conn->peer(), hub->conn->max_frame(),
                                               hub->authenticated ? "" : " before hello");
                                } else if (end == core::ConnEnd::kOverflow) {
                                  spdlog::warn(
                                      "hub {}: over {} bytes wait to be sent to it "
                                      "(it reads nothing); closed",
                                      hub->conn->peer(), opt_.max_hub_queue);
                                }
                                OnHubEnd(hub);
                              }};
  // Until its hello, a peer is anyone: its frames stay small (the limit
  // rises to max_frame once it has authenticated).
  if (tls_) {
    auto conn = std::make_shared<core::TlsFramedConn>(
        asio::ssl::stream<tcp::socket>(std::move(sock), *tls_), peer, core::kMaxHelloFrame);
    hub->conn = conn;
    core::Spawn(io_, core::HandshakeThenStart(conn, handlers, peer, opt_.tls_handshake_timeout),
                "TLS handshake of hub " + peer);
  } else {
    auto conn = std::make_shared<core::FramedConn<tcp::socket>>(std::move(sock), peer,
                                                                core::kMaxHelloFrame);
    hub->conn = conn;
    conn->Start(handlers);
  }
  // A hub must say hello promptly.
  auto t = std::make_shared<asio::steady_timer>(io_, opt_.hello_timeout);
  t->async_wait([t, weak, timeout = opt_.hello_timeout](boost::system::error_code e) {
    auto h = weak.lock();
    if (!e && h && !h->authenticated) {
      spdlog::warn("hub {}: no hello within {} s; closing", h->conn->peer(),
                   std::chrono::duration<double>(timeout).count());
      h->conn->Close();
    }
  });
}

void ComputeServer::Reply(HubConn& hub, uint64_t id, proto::Message&& m) {
  m.set_id(id);
  hub.conn->Send(Frame(m));
}

void ComputeServer::ReplyError(HubConn& hub, uint64_t id, proto::Error::Code code,
                               const std::string& text) {
  proto::Message m;
  m.mutable_error()->set_code(code);
  m.mutable_error()->set_text(text);
  Reply(hub, id, std::move(m));
}

void ComputeServer::OnHubFrame(const std::shared_ptr<HubConn>& hub, std::string_view body) {
  proto::Message m;
  if (!m.ParseFromArray(body.data(), static_cast<int>(body.size()))) {
    spdlog::warn("hub {}: malformed message ({} bytes)", hub->conn->peer(), body.size());
    ReplyError(*hub, 0, proto::Error::BAD_REQUEST,
               "malformed message: not a valid salvus.proto.Message (or invalid UTF-8 in a "
               "text field)");
    if (!hub->authenticated) hub->conn->CloseAfterWrites();
    return;
  }
  const uint64_t id = m.id();
  if (!hub->authenticated) {
    if (!m.has_hello() || !core::TokensEqual(m.hello().token(), opt_.token)) {
      spdlog::warn("hub {}: refused: {}", hub->conn->peer(),
                   m.has_hello() ? "wrong token" : "first message is not hello");
      ReplyError(*hub, id, proto::Error::UNAUTHENTICATED,
                 "refused: the first message must be hello with the cluster token");
      hub->conn->CloseAfterWrites();
      return;
    }
    hub->authenticated = true;
    hub->conn->set_max_frame(opt_.max_frame);
    hub->conn->set_max_queued(opt_.max_hub_queue);
    std::weak_ptr<HubConn> weak = hub;
    hub->conn->SetBacklogMarks(opt_.hub_queue_high, opt_.hub_queue_high / 2,
                               [this, weak](bool backed_up) {
                                 if (auto h = weak.lock()) OnHubBacklog(h, backed_up);
                               });
    spdlog::info("hub {} connected ({})", hub->conn->peer(), m.hello().client());
    proto::Message r;
    r.mutable_hello_ok()->set_server("salvus compute");
    r.mutable_hello_ok()->add_kernels(opt_.kernel);
    Reply(*hub, id, std::move(r));
    return;
  }
  switch (m.body_case()) {
    case proto::Message::kStartSession:
      HandleStart(hub, id, m.start_session());
      return;
    case proto::Message::kExecute:
    case proto::Message::kComplete:
    case proto::Message::kInteractUpdate: {
      // Requests the session's worker answers (outputs, then one done), in order.
      const std::string& session = m.has_execute()    ? m.execute().session()
                                   : m.has_complete() ? m.complete().session()
                                                      : m.interact_update().session();
      SessionRecord* s = FindOwned(*hub, id, session);
      if (s == nullptr) return;
      proto::Message fwd = std::move(m);
      fwd.set_id(id);
      std::string frame = Frame(fwd);
      core::Conn* worker = s->wid == 0 ? nullptr : workers_[s->wid]->conn.get();
      const size_t waiting = worker ? worker->queued_bytes() : s->queued_bytes;
      if (waiting + frame.size() > opt_.max_session_requests) {
        ReplyError(*hub, id, proto::Error::RESOURCE_EXHAUSTED,
                   "too many requests waiting in this session (over " +
                       std::to_string(opt_.max_session_requests >> 20) +
                       " MiB not yet read by it); wait for some to finish");
        return;
      }
      if (worker == nullptr) {
        s->queued_bytes += frame.size();
        s->queued.push_back(std::move(frame));
      } else {
        worker->Send(std::move(frame));
      }
      s->pending.push_back(id);
      ArmDeadline(*s);
      return;
    }
    case proto::Message::kInterrupt: {
      SessionRecord* s = FindOwned(*hub, id, m.interrupt().session());
      if (s == nullptr) return;
      if (!s->pending.empty()) {
        s->interrupt_for = s->pending.front();
        DeliverInterrupt(*s);
      }
      proto::Message r;
      r.mutable_ack();
      Reply(*hub, id, std::move(r));
      return;
    }
    case proto::Message::kTerminate: {
      SessionRecord* s = FindOwned(*hub, id, m.terminate().session());
      if (s == nullptr) return;
      EndSession(s->id, proto::Done::DIED, "the session was terminated", false);
      proto::Message r;
      r.mutable_ack();
      Reply(*hub, id, std::move(r));
      return;
    }
    case proto::Message::kFlow: {
      // No reply; a session that ended meanwhile (or another's) is ignored.
      auto it = sessions_.find(m.flow().session());
      if (it == sessions_.end() || !hub->sessions.count(it->first)) return;
      it->second->paused = m.flow().paused();
      UpdateWorkerReading(*it->second);
      return;
    }
    case proto::Message::kHello:
      ReplyError(*hub, id, proto::Error::BAD_REQUEST, "already authenticated");
      return;
    default:
      ReplyError(*hub, id, proto::Error::BAD_REQUEST,
                 "unexpected message type for a compute server");
      return;
  }
}

SessionRecord* ComputeServer::FindOwned(HubConn& hub, uint64_t id, const std::string& session) {
  auto it = sessions_.find(session);
  if (it == sessions_.end()) {
    ReplyError(hub, id, proto::Error::NOT_FOUND, "no such session: '" + session + "'");
    return nullptr;
  }
  if (!hub.sessions.count(session)) {
    spdlog::warn("hub {}: request for another connection's session {}", hub.conn->peer(),
                 core::LogId(session));
    ReplyError(hub, id, proto::Error::PERMISSION_DENIED,
               "session " + session + " belongs to another connection");
    return nullptr;
  }
  return it->second.get();
}

void ComputeServer::UpdateWorkerReading(const SessionRecord& s) {
  if (s.wid == 0) return;
  auto w = workers_.find(s.wid);
  if (w == workers_.end()) return;
  auto hub = s.owner.lock();
  if (s.paused || (hub && hub->backed_up)) {
    w->second->conn->PauseReading();
  } else {
    w->second->conn->ResumeReading();
  }
}

void ComputeServer::OnHubBacklog(const std::shared_ptr<HubConn>& hub, bool backed_up) {
  hub->backed_up = backed_up;
  spdlog::debug("hub {}: {} bytes wait to be sent to it; {}", hub->conn->peer(),
                hub->conn->queued_bytes(),
                backed_up ? "its sessions' output waits in their workers"
                          : "its sessions' output flows again");
  for (const std::string& id : hub->sessions) {
    if (auto it = sessions_.find(id); it != sessions_.end()) UpdateWorkerReading(*it->second);
  }
}

void ComputeServer::OnHubEnd(const std::shared_ptr<HubConn>& hub) {
  if (hub->authenticated) spdlog::info("hub {} disconnected", hub->conn->peer());
  std::vector<std::string> ids(hub->sessions.begin(), hub->sessions.end());
  for (auto& id : ids) EndSession(id, proto::Done::DIED, "the hub disconnected", false);
  hub->conn->Close();
  hubs_.erase(hub);
}

}  // namespace salvus::compute
