#include "hub/connection.h"

#include <spdlog/spdlog.h>

#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>

#include "hub/coalescing_stream.h"
#include "hub/http_handler.h"
#include "hub/origin.h"
#include "hub/proxy_protocol.h"
#include "hub/shard.h"
#include "hub/ws_session.h"

namespace salvus::hub {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using asio::ip::tcp;

namespace {

// How long, and how much, a connection that gets an error before its
// request was read is still read from (and dropped) after the answer, so
// that closing with unread data (a TCP reset) does not destroy the answer
// before the client reads it.
constexpr auto kLingerTime = std::chrono::seconds(1);
constexpr size_t kLingerBytes = 4 << 20;

template <class Stream>
asio::awaitable<void> AnswerAndLinger(Stream& stream, HttpResponse res) {
  boost::system::error_code ec;
  auto& tcp = beast::get_lowest_layer(stream);
  tcp.expires_after(kLingerTime);
  co_await http::async_write(stream, res, asio::redirect_error(asio::use_awaitable, ec));
  if (ec) co_return;
  tcp.socket().shutdown(tcp::socket::shutdown_send, ec);
  std::vector<char> sink(64 << 10);
  for (size_t read = 0; read < kLingerBytes;) {
    const size_t n = co_await tcp.async_read_some(asio::buffer(sink),
                                                  asio::redirect_error(asio::use_awaitable, ec));
    if (ec) break;
    read += n;
  }
}

template <class Stream>
asio::awaitable<void> HttpSession(Shard& shard, Stream stream, ConnSlot slot) {
  const HubOptions& opt = shard.options();
  beast::flat_buffer buffer;
  for (;;) {
    http::request_parser<http::string_body> parser;
    parser.body_limit(opt.max_http_body);
    beast::get_lowest_layer(stream).expires_after(opt.http_read_timeout);
    boost::system::error_code ec;
    co_await http::async_read(stream, buffer, parser,
                              asio::redirect_error(asio::use_awaitable, ec));
    if (ec) {
      const auto first = buffer.cdata();
      if (LooksLikeProxyHeader({static_cast<const char*>(first.data()), first.size()})) {
        spdlog::warn("{} sent a PROXY header but is not a --proxy-from address: refused",
                     slot.address());
        co_return;
      }
      if (auto res = UnreadableRequestResponse(ec)) {
        co_await AnswerAndLinger(stream, std::move(*res));
      }
      co_return;
    }
    auto req = parser.release();
    // Whether the request's Origin is one whose pages may use the hub
    // (`others`: --allow-origin too).
    auto origin_ok = [&](bool others) {
      auto& sock = beast::get_lowest_layer(stream).socket();
      boost::system::error_code lec;
      const auto local = sock.local_endpoint(lec);
      const auto own = opt.public_origin.empty() ? OwnOrigin(local, shard.tls() != nullptr)
                                                 : ParsePublicOrigin(opt.public_origin);
      return !lec && own &&
             OriginAllowed(req, *own, others ? opt.allow_origins : std::vector<std::string>{});
    };
    if (websocket::is_upgrade(req)) {
      if (req.target() != "/ws") co_return;
      if (!origin_ok(true)) {
        spdlog::warn("{}: refused a WebSocket from origin {}", slot.address(),
                     std::string(req[http::field::origin]));
        auto res = ForbiddenOrigin(req);
        co_await http::async_write(stream, res, asio::redirect_error(asio::use_awaitable, ec));
        co_return;
      }
      beast::get_lowest_layer(stream).expires_never();
      // Messages queued for the browser in one loop turn leave in one write.
      co_await RunWebSocket(shard, websocket::stream<CoalescingStream<Stream>>(std::move(stream)),
                            std::move(req), slot.address());
      co_return;
    }
    HttpResponse res;
    if (AccountApi::Owns(std::string_view(req.target().data(), req.target().size()))) {
      // Accounts: the hub's own pages only (embedding sites get no cookies).
      res = co_await shard.accounts().Handle(req, slot.address(), origin_ok(false));
    } else {
      const auto peer = beast::get_lowest_layer(stream).socket().remote_endpoint(ec);
      res = co_await shard.http().Handle(req, ec ? asio::ip::address{} : peer.address());
    }
    const bool keep = res.keep_alive();
    co_await http::async_write(stream, res, asio::redirect_error(asio::use_awaitable, ec));
    if (ec || !keep) {
      beast::get_lowest_layer(stream).socket().shutdown(tcp::socket::shutdown_send, ec);
      co_return;
    }
  }
}

asio::awaitable<void> TlsSession(Shard& shard, beast::tcp_stream tcp, ConnSlot slot) {
  TlsStream stream(std::move(tcp), *shard.tls());
  beast::get_lowest_layer(stream).expires_after(shard.options().tls_handshake_timeout);
  boost::system::error_code ec;
  co_await stream.async_handshake(asio::ssl::stream_base::server,
                                  asio::redirect_error(asio::use_awaitable, ec));
  if (ec) co_return;
  co_await HttpSession(shard, std::move(stream), std::move(slot));
}

template <class Stream>
asio::awaitable<void> AnswerRefused(Stream& stream, bool per_address, size_t max) {
  beast::flat_buffer buffer(8 << 10);
  http::request_parser<http::string_body> parser;
  parser.header_limit(8 << 10);
  parser.body_limit(0);
  boost::system::error_code ec;
  co_await http::async_read_header(stream, buffer, parser,
                                   asio::redirect_error(asio::use_awaitable, ec));
  if (ec) co_return;
  auto res = RefusedResponse(parser.get(), per_address, max);
  co_await http::async_write(stream, res, asio::redirect_error(asio::use_awaitable, ec));
  beast::get_lowest_layer(stream).socket().shutdown(tcp::socket::shutdown_send, ec);
}

}  // namespace

asio::awaitable<void> ServeRefused(Shard& shard, tcp::socket sock, ConnSlot slot, bool per_address,
                                   size_t max) {
  beast::tcp_stream tcp(std::move(sock));
  tcp.expires_after(shard.options().refused_read_timeout);  // for all of it, TLS included
  if (!shard.tls()) {
    co_await AnswerRefused(tcp, per_address, max);
    co_return;
  }
  TlsStream stream(std::move(tcp), *shard.tls());
  boost::system::error_code ec;
  co_await stream.async_handshake(asio::ssl::stream_base::server,
                                  asio::redirect_error(asio::use_awaitable, ec));
  if (!ec) co_await AnswerRefused(stream, per_address, max);
}

// Not a coroutine itself: it hands back the session's own coroutine, so a
// plain connection keeps one frame, without room for a TLS stream (a
// coroutine of its own here cost 1.3 KB per idle WebSocket).
asio::awaitable<void> ServeConnection(Shard& shard, tcp::socket sock, ConnSlot slot) {
  beast::tcp_stream tcp(std::move(sock));
  if (!shard.tls()) return HttpSession(shard, std::move(tcp), std::move(slot));
  return TlsSession(shard, std::move(tcp), std::move(slot));
}

}  // namespace salvus::hub
