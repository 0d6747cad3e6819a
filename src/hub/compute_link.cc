#include "hub/compute_link.h"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <spdlog/spdlog.h>

#include "core/descriptors.h"
#include "core/spawn.h"
#include "core/tls.h"

namespace salvus::hub {

namespace asio = boost::asio;
using asio::ip::tcp;

ComputeLink::ComputeLink(asio::io_context& io, LinkOptions options, Handlers handlers)
    : io_(io), opt_(std::move(options)), handlers_(std::move(handlers)), wait_(io) {
  if (opt_.tls) ssl_.emplace(core::MakeClientTlsContext({opt_.tls_ca, opt_.tls_insecure}));
}

void ComputeLink::Start() {
  core::Spawn(io_, Run(),
              "link to compute " + opt_.address.host + ":" + std::to_string(opt_.address.port));
}

void ComputeLink::Stop() {
  stopped_ = true;
  wait_.cancel();
  if (conn_) conn_->Close();
}

bool ComputeLink::Send(const proto::Message& m) {
  if (!up_ || !conn_) return false;
  conn_->Send(core::EncodeFrame(m));
  return true;
}

asio::awaitable<void> ComputeLink::Run() {
  const std::string where = opt_.address.host + ":" + std::to_string(opt_.address.port);
  auto backoff = opt_.backoff_min;
  while (!stopped_) {
    boost::system::error_code ec;
    tcp::resolver resolver(io_);
    auto eps = co_await resolver.async_resolve(opt_.address.host, std::to_string(opt_.address.port),
                                               asio::redirect_error(asio::use_awaitable, ec));
    tcp::socket sock(io_);
    if (!ec) co_await asio::async_connect(sock, eps, asio::redirect_error(asio::use_awaitable, ec));
    std::shared_ptr<core::Conn> conn;
    if (!ec) {
      core::SetCloseOnExec(sock.native_handle());  // asio connects without it
      sock.set_option(tcp::no_delay(true), ec);
      if (ssl_) {
        using Tls = asio::ssl::stream<tcp::socket>;
        auto c = std::make_shared<core::FramedConn<Tls>>(Tls(std::move(sock), *ssl_), where,
                                                         core::kDefaultMaxFrame);
        // The certificate is checked before anything is sent: an impostor
        // at the address never sees the hello (the cluster token).
        core::PrepareClientTls(c->stream(), opt_.address.host, opt_.tls_insecure);
        co_await c->stream().async_handshake(asio::ssl::stream_base::client,
                                             asio::redirect_error(asio::use_awaitable, ec));
        conn = c;
      } else {
        conn = std::make_shared<core::FramedConn<tcp::socket>>(std::move(sock), where,
                                                               core::kDefaultMaxFrame);
      }
    }
    if (ec || stopped_) {
      if (!stopped_) {
        spdlog::warn("compute {}: cannot connect: {}{}", where, ec.message(),
                     ssl_ && ec.category() == asio::error::get_ssl_category() &&
                             ERR_GET_REASON(ec.value()) == SSL_R_CERTIFICATE_VERIFY_FAILED
                         ? " (its TLS certificate did not verify against " +
                               (opt_.tls_ca.empty() ? std::string("the system's trusted CAs")
                                                    : opt_.tls_ca) +
                               " for " + opt_.address.host + "; the cluster token was not sent)"
                         : "");
      }
    } else {
      // The read loop ends in on_end; wait for it with the timer.
      auto ended = std::make_shared<bool>(false);
      std::string why = "lost the compute server " + where +
                        " (its connection closed); the session ended, run again for a new one";
      auto* raw = conn.get();
      auto start = [&](auto& typed) {
        typed.Start({[this, where](std::string_view body) {
                       proto::Message m;
                       if (!m.ParseFromArray(body.data(), static_cast<int>(body.size()))) return;
                       if (!up_) {
                         if (m.has_hello_ok()) {
                           up_ = true;
                           spdlog::info("compute {}: connected", where);
                           if (handlers_.on_up) handlers_.on_up();
                         } else if (m.has_error()) {
                           spdlog::error("compute {}: refused: {}", where, m.error().text());
                         }
                         return;
                       }
                       handlers_.on_message(m);
                     },
                     [this, ended](core::ConnEnd) {
                       *ended = true;
                       if (!stopped_) wait_.cancel();
                     }});
      };
      if (ssl_) {
        start(static_cast<core::FramedConn<asio::ssl::stream<tcp::socket>>&>(*raw));
      } else {
        start(static_cast<core::FramedConn<tcp::socket>&>(*raw));
      }
      conn_ = conn;
      proto::Message hello;
      hello.set_id(0);
      hello.mutable_hello()->set_token(opt_.token);
      hello.mutable_hello()->set_client("hub");
      conn->Send(core::EncodeFrame(hello));
      while (!*ended && !stopped_) {
        wait_.expires_at(std::chrono::steady_clock::time_point::max());
        co_await wait_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
      }
      const bool was_up = up_;
      up_ = false;
      conn_.reset();
      conn->Close();
      if (was_up) {
        backoff = opt_.backoff_min;
        spdlog::warn("compute {}: connection lost", where);
        if (handlers_.on_down) handlers_.on_down(why);
      }
    }
    if (stopped_) break;
    wait_.expires_after(backoff);
    co_await wait_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    backoff = std::min(backoff * 2, opt_.backoff_max);
  }
}

}  // namespace salvus::hub
