#include "vault/server.h"

#include <spdlog/spdlog.h>

#include <chrono>
#include <cstdio>
#include <fstream>

#include "core/conn.h"
#include "core/descriptors.h"
#include "core/spawn.h"
#include "core/tls.h"
#include "core/tls_accept.h"
#include "core/token.h"
#include "vault/vault_metrics.h"

namespace salvus::vault {

namespace asio = boost::asio;
using asio::ip::tcp;

struct VaultServer::HubConn {
  std::shared_ptr<core::Conn> conn;
  bool authenticated = false;
  size_t mails_in_flight = 0;
  std::unique_ptr<asio::steady_timer> hello_deadline;  // cancelled by hello or the end
};

namespace {

// A request answered (`ok`: not an Error reply, or a mail sent), by kind.
void CountRequest(proto::VaultRequest::BodyCase body, bool ok) {
  VaultMetrics& m = Metrics();
  switch (body) {
    case proto::VaultRequest::kRegisterEmail:
      (ok ? m.register_ok : m.register_error).Add();
      return;
    case proto::VaultRequest::kLookup:
      (ok ? m.lookup_ok : m.lookup_error).Add();
      return;
    case proto::VaultRequest::kSendMail:
      (ok ? m.send_mail_ok : m.send_mail_error).Add();
      return;
    case proto::VaultRequest::kGetPublicKey:
      if (ok) {
        m.public_key.Add();
        return;
      }
      break;
    default:
      break;
  }
  m.other_error.Add();
}

}  // namespace

VaultServer::VaultServer(asio::io_context& io, ServerOptions o, VaultService& service,
                         Mailer& mailer)
    : io_(io), opt_(std::move(o)), service_(service), mailer_(mailer), acceptor_(io) {
  if (!opt_.tls_cert.empty()) tls_.emplace(core::MakeServerTlsContext(opt_.tls_cert, opt_.tls_key));
}

VaultServer::~VaultServer() { *alive_ = false; }

asio::awaitable<void> VaultServer::Run() {
  tcp::endpoint ep(asio::ip::make_address(opt_.listen.host), opt_.listen.port);
  acceptor_.open(ep.protocol());
  core::SetCloseOnExec(acceptor_.native_handle());
  acceptor_.set_option(asio::socket_base::reuse_address(true));
  acceptor_.bind(ep);
  acceptor_.listen();
  port_ = acceptor_.local_endpoint().port();
  spdlog::info("vault listening on {}:{}{}", opt_.listen.host, port_,
               tls_ ? " (TLS)" : " (plain TCP, loopback only)");
  if (!opt_.port_file.empty()) {
    const std::string tmp = opt_.port_file + ".tmp";
    std::ofstream(tmp) << port_ << "\n";
    std::rename(tmp.c_str(), opt_.port_file.c_str());
  }
  while (!stopping_) {
    boost::system::error_code ec;
    tcp::socket sock =
        co_await acceptor_.async_accept(asio::redirect_error(asio::use_awaitable, ec));
    if (ec) {
      if (stopping_) break;
      spdlog::warn("accept: {}", ec.message());
      continue;
    }
    Accept(std::move(sock));
  }
}

void VaultServer::Stop() {
  stopping_ = true;
  boost::system::error_code ec;
  acceptor_.close(ec);
  for (const auto& h : hubs_) h->conn->Close();
}

void VaultServer::Accept(tcp::socket sock) {
  core::SetCloseOnExec(sock.native_handle());
  boost::system::error_code ec;
  std::string peer = "?";
  auto rep = sock.remote_endpoint(ec);
  if (!ec) peer = rep.address().to_string() + ":" + std::to_string(rep.port());
  if (hubs_.size() >= opt_.max_connections) {
    spdlog::warn("hub {}: refused: {} connections already", peer, opt_.max_connections);
    Metrics().refused_full.Add();
    return;  // closes the socket
  }
  auto hub = std::make_shared<HubConn>();
  hubs_.insert(hub);
  Metrics().hubs.Add(1);
  std::weak_ptr<HubConn> weak = hub;
  core::ConnHandlers handlers{[this, weak](std::string_view body) {
                                if (auto h = weak.lock()) OnFrame(h, body);
                              },
                              [this, weak](core::ConnEnd end) {
                                auto h = weak.lock();
                                if (!h) return;
                                if (end == core::ConnEnd::kTooBig && !h->authenticated) {
                                  Metrics().refused_too_big.Add();
                                }
                                if (end == core::ConnEnd::kTooBig) {
                                  spdlog::warn("hub {}: frame over {} bytes{}; closed",
                                               h->conn->peer(), h->conn->max_frame(),
                                               h->authenticated ? "" : " before hello");
                                } else if (end == core::ConnEnd::kOverflow) {
                                  spdlog::warn("hub {}: over {} bytes wait for it; closed",
                                               h->conn->peer(), opt_.max_queued);
                                } else if (h->authenticated) {
                                  spdlog::info("hub {} disconnected", h->conn->peer());
                                }
                                h->conn->Close();
                                h->hello_deadline->cancel();
                                if (hubs_.erase(h) != 0) Metrics().hubs.Add(-1);
                              }};
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
  hub->hello_deadline = std::make_unique<asio::steady_timer>(io_, opt_.hello_timeout);
  hub->hello_deadline->async_wait([weak](boost::system::error_code e) {
    auto h = weak.lock();
    if (!e && h && !h->authenticated) {
      spdlog::warn("hub {}: no hello in time; closed", h->conn->peer());
      Metrics().refused_no_hello.Add();
      h->conn->Close();
    }
  });
}

void VaultServer::Reply(HubConn& hub, const proto::VaultReply& r) {
  hub.conn->Send(core::EncodeFrame(r));
}

void VaultServer::OnFrame(const std::shared_ptr<HubConn>& hub, std::string_view body) {
  proto::VaultRequest m;
  if (!m.ParseFromArray(body.data(), static_cast<int>(body.size()))) {
    spdlog::warn("hub {}: malformed message ({} bytes)", hub->conn->peer(), body.size());
    if (hub->authenticated) {
      Metrics().other_error.Add();
    } else {
      Metrics().refused_malformed.Add();
    }
    Reply(*hub,
          VaultService::ErrorReply(0, proto::Error::BAD_REQUEST,
                                   "malformed message: not a valid salvus.proto.VaultRequest"));
    if (!hub->authenticated) hub->conn->CloseAfterWrites();
    return;
  }
  if (!hub->authenticated) {
    if (!m.has_hello() || !core::TokensEqual(m.hello().token(), opt_.token)) {
      spdlog::warn("hub {}: refused: {}", hub->conn->peer(),
                   m.has_hello() ? "wrong token" : "first message is not hello");
      Metrics().refused_token.Add();
      Reply(*hub, VaultService::ErrorReply(
                      m.id(), proto::Error::UNAUTHENTICATED,
                      "refused: the first message must be hello with the cluster token"));
      hub->conn->CloseAfterWrites();
      return;
    }
    hub->authenticated = true;
    hub->hello_deadline->cancel();
    hub->conn->set_max_frame(opt_.max_frame);
    hub->conn->set_max_queued(opt_.max_queued);
    spdlog::info("hub {} connected ({})", hub->conn->peer(), m.hello().client().substr(0, 64));
    proto::VaultReply r;
    r.set_id(m.id());
    r.mutable_hello_ok()->set_server("salvus vault");
    Reply(*hub, r);
    return;
  }
  if (m.has_send_mail() && hub->mails_in_flight >= opt_.max_mails_in_flight) {
    CountRequest(m.body_case(), false);
    Reply(*hub, VaultService::ErrorReply(m.id(), proto::Error::RESOURCE_EXHAUSTED,
                                         "over " + std::to_string(opt_.max_mails_in_flight) +
                                             " mails in flight on this connection; wait"));
    return;
  }
  const auto began = std::chrono::steady_clock::now();
  auto out = service_.Handle(m, std::time(nullptr));
  Metrics().seconds.Observe(
      std::chrono::duration<double>(std::chrono::steady_clock::now() - began).count());
  if (auto* r = std::get_if<proto::VaultReply>(&out)) {
    CountRequest(m.body_case(), !r->has_error());
    Reply(*hub, *r);
    return;
  }
  MailJob& job = std::get<MailJob>(out);
  const uint64_t id = m.id();
  const std::string account = m.send_mail().account_id();
  std::weak_ptr<HubConn> weak = hub;
  auto done = [this, alive = alive_, weak, id, account](std::expected<std::string, std::string> r) {
    asio::post(io_, [this, alive, weak, id, account, r = std::move(r)] {
      if (!*alive) return;
      auto h = weak.lock();
      if (h) --h->mails_in_flight;
      proto::VaultReply reply;
      if (r) {
        spdlog::info("mail for account {} sent: {}", account, *r);
        Metrics().mails_sent.Add();
        CountRequest(proto::VaultRequest::kSendMail, true);
        reply.set_id(id);
        reply.mutable_mail_sent();
      } else {
        spdlog::warn("mail for account {} failed: {}", account, r.error());
        Metrics().mails_failed.Add();
        CountRequest(proto::VaultRequest::kSendMail, false);
        reply = VaultService::ErrorReply(id, proto::Error::UNAVAILABLE, r.error());
      }
      if (h && !h->conn->closed()) Reply(*h, reply);
    });
  };
  ++hub->mails_in_flight;
  if (!mailer_.Submit(std::move(job.to), std::move(job.message), std::move(done))) {
    --hub->mails_in_flight;
    Metrics().mails_queue_full.Add();
    CountRequest(proto::VaultRequest::kSendMail, false);
    Reply(*hub, VaultService::ErrorReply(id, proto::Error::UNAVAILABLE,
                                         "the vault's mail queue is full; try later"));
  }
}

}  // namespace salvus::vault
