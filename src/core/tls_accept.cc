#include "core/tls_accept.h"

#include <spdlog/spdlog.h>

namespace salvus::core {

namespace asio = boost::asio;

asio::awaitable<void> HandshakeThenStart(std::shared_ptr<TlsFramedConn> conn, ConnHandlers handlers,
                                         std::string peer, std::chrono::milliseconds timeout) {
  boost::system::error_code ec;
  asio::steady_timer t(co_await asio::this_coro::executor);
  t.expires_after(timeout);
  t.async_wait([conn](boost::system::error_code e) {
    if (!e) conn->Close();
  });
  co_await conn->stream().async_handshake(asio::ssl::stream_base::server,
                                          asio::redirect_error(asio::use_awaitable, ec));
  t.cancel();
  if (ec) {
    spdlog::warn("hub {}: TLS handshake failed: {}", peer, ec.message());
    conn->Close();
    if (handlers.on_end) handlers.on_end(ConnEnd::kError);
    co_return;
  }
  conn->Start(std::move(handlers));
}

}  // namespace salvus::core
