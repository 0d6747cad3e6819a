#include "hub/ws_session.h"

#include <spdlog/spdlog.h>

#include <boost/beast/core.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <chrono>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/spawn.h"
#include "hub/browser.h"
#include "hub/rate_limit.h"
#include "hub/router.h"
#include "hub/shard.h"

namespace salvus::hub {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;

namespace {

// The WebSocket as the shard sees it: Send queues, WriteLoop drains.
template <class Stream>
class WsConn : public Browser, public std::enable_shared_from_this<WsConn<Stream>> {
 public:
  WsConn(websocket::stream<Stream> ws, uint64_t id)
      : Browser(id), ws_(std::move(ws)), wake_(ws_.get_executor()) {
    wake_.expires_at(std::chrono::steady_clock::time_point::max());
  }
  websocket::stream<Stream>& ws() { return ws_; }

  void Send(std::string text) override {
    if (closed_) return;
    queue_.push_back(std::move(text));
    wake_.cancel();
  }
  void Close() override {
    closed_ = true;
    wake_.cancel();
  }
  void Abort() override {
    Close();
    beast::get_lowest_layer(ws_).close();
  }

  asio::awaitable<void> WriteLoop() {
    auto self = this->shared_from_this();
    while (!closed_) {
      if (queue_.empty()) {
        boost::system::error_code ec;
        co_await wake_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
        continue;
      }
      std::string text = std::move(queue_.front());
      queue_.pop_front();
      boost::system::error_code ec;
      ws_.text(true);
      co_await ws_.async_write(asio::buffer(text), asio::redirect_error(asio::use_awaitable, ec));
      if (ec) break;
    }
    closed_ = true;
  }

 private:
  websocket::stream<Stream> ws_;
  asio::steady_timer wake_;
  std::deque<std::string> queue_;
  bool closed_ = false;
};

// Tells the shard that the browser is gone when the session ends, however
// it ends: a return, or an exception unwinding the coroutine. Not when the
// shard itself is being destroyed (its event loop's coroutines go with it).
class GoneGuard {
 public:
  GoneGuard(Shard& shard, std::shared_ptr<Browser> browser)
      : shard_(shard), alive_(shard.Lifetime()), browser_(std::move(browser)) {}
  GoneGuard(const GoneGuard&) = delete;
  GoneGuard& operator=(const GoneGuard&) = delete;
  ~GoneGuard() {
    if (alive_.expired()) return;
    try {
      shard_.OnBrowserGone(*browser_);
    } catch (...) {
      core::LogEscapedException("cleanup of browser " + std::to_string(browser_->id()),
                                std::current_exception());
    }
  }

 private:
  Shard& shard_;
  std::weak_ptr<void> alive_;
  std::shared_ptr<Browser> browser_;
};

}  // namespace

template <class Stream>
asio::awaitable<void> RunWebSocket(Shard& shard, websocket::stream<Stream> ws,
                                   http::request<http::string_body> req) {
  const HubOptions& opt = shard.options();
  ws.set_option(websocket::stream_base::timeout::suggested(beast::role_type::server));
  ws.read_message_max(opt.max_message);
  boost::system::error_code ec;
  co_await ws.async_accept(req, asio::redirect_error(asio::use_awaitable, ec));
  if (ec) co_return;
  auto conn = std::make_shared<WsConn<Stream>>(std::move(ws), shard.NewConnId());
  // Sessions are capped per client address (router.h).
  if (auto peer = beast::get_lowest_layer(conn->ws()).socket().remote_endpoint(ec); !ec) {
    conn->address = peer.address().to_string();
  }
  shard.AddBrowser(conn);
  GoneGuard gone(shard, conn);
  core::Spawn(shard.io(), conn->WriteLoop(), "hub WebSocket writer");
  beast::flat_buffer buffer;
  std::vector<Out> outs;
  const double rate = opt.max_message_rate;
  TokenBucket bucket(rate, rate);
  // When it was last told it is over the rate.
  std::optional<std::chrono::steady_clock::time_point> told;
  asio::steady_timer pause(shard.io());
  for (;;) {
    buffer.clear();
    co_await conn->ws().async_read(buffer, asio::redirect_error(asio::use_awaitable, ec));
    if (ec) break;
    const auto now = std::chrono::steady_clock::now();
    if (auto wait = bucket.Take(now); wait.count() > 0) {
      if (!told || now - *told > opt.rate_notice_interval) {
        told = now;
        spdlog::warn("browser {}: over {} messages/s; slowing it down", conn->id(), rate);
        conn->Send(Router::ErrorJson(
            0, proto::Error::RATE_LIMITED,
            fmt::format("too many messages: this connection may send {} per second; the "
                        "hub now handles them at that pace (none is dropped)",
                        rate)));
      }
      pause.expires_after(wait);
      co_await pause.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    }
    if (!conn->ws().got_text()) {
      conn->Send(Router::ErrorJson(0, proto::Error::BAD_REQUEST,
                                   "binary messages are not accepted; send JSON text"));
      continue;
    }
    const auto data = buffer.cdata();
    const std::string_view text(static_cast<const char*>(data.data()), data.size());
    if (opt.on_ws_message) opt.on_ws_message(text);
    shard.OnBrowserText(*conn, text, &outs);
  }
  if (ec == websocket::error::message_too_big) {
    spdlog::warn("browser {}: message over {} bytes; closed", conn->id(), opt.max_message);
  }
}

template asio::awaitable<void> RunWebSocket(Shard&,
                                            websocket::stream<CoalescingStream<beast::tcp_stream>>,
                                            http::request<http::string_body>);
template asio::awaitable<void> RunWebSocket(Shard&, websocket::stream<CoalescingStream<TlsStream>>,
                                            http::request<http::string_body>);

}  // namespace salvus::hub
