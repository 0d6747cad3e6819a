#include "hub/ws_session.h"

#include <spdlog/spdlog.h>

#include <boost/beast/core.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <chrono>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/spawn.h"
#include "hub/browser.h"
#include "hub/hub_metrics.h"
#include "hub/rate_limit.h"
#include "hub/router.h"
#include "hub/shard.h"

namespace salvus::hub {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;

namespace {

using Clock = std::chrono::steady_clock;

// The WebSocket as the shard sees it: Send queues, WriteLoop drains; the
// messages it is charged for (Charge) pace its reading (resume_at).
//
// A browser that does not read what is sent to it backs up: past
// max_send_queue bytes queued its messages are no longer read and
// `on_backlog(true)` pauses its sessions (at their compute servers) until
// the queue is down to half (`on_backlog(false)`). Backed up for
// slow_reader_timeout, it is closed (1008, with the reason).
template <class Stream>
class WsConn : public Browser, public std::enable_shared_from_this<WsConn<Stream>> {
 public:
  WsConn(websocket::stream<Stream> ws, uint64_t id, const HubOptions& opt,
         std::function<void(bool)> on_backlog)
      : Browser(id),
        ws_(std::move(ws)),
        wake_(ws_.get_executor()),
        drained_(ws_.get_executor()),
        slow_(ws_.get_executor()),
        rate_(opt.max_message_rate),
        notice_interval_(opt.rate_notice_interval),
        bucket_(rate_, rate_),
        max_queue_(opt.max_send_queue),
        slow_timeout_(opt.slow_reader_timeout),
        close_timeout_(opt.slow_close_timeout),
        on_backlog_(std::move(on_backlog)) {
    wake_.expires_at(Clock::time_point::max());
  }
  websocket::stream<Stream>& ws() { return ws_; }
  // Its next message is read no sooner than this.
  Clock::time_point resume_at() const { return resume_at_; }

  void Charge() override {
    const auto now = Clock::now();
    const auto wait = bucket_.Take(now);
    if (wait.count() <= 0) return;
    resume_at_ = now + wait;
    if (told_ && now - *told_ <= notice_interval_) return;
    told_ = now;
    spdlog::warn("browser {}: over {} messages/s; slowing it down", id(), rate_);
    Send(Router::ErrorJson(
        0, proto::Error::RATE_LIMITED,
        fmt::format("too many messages: this connection may send {} per second (a request sent "
                    "while none of its own is in flight is free); the hub now handles them at "
                    "that pace (none is dropped)",
                    rate_)));
  }

  void Send(std::string text) override {
    if (closed_) return;
    queued_ += text.size();
    queue_.push_back(std::move(text));
    wake_.cancel();
    if (!backed_up_ && max_queue_ != 0 && queued_ > max_queue_) SetBackedUp(true);
  }
  void Close() override {
    closed_ = true;
    wake_.cancel();
    drained_.cancel();
    slow_.cancel();
  }
  bool closed() const { return closed_; }
  bool backed_up() const { return backed_up_; }
  // Called when it is closed for being too slow: it is gone at once, even
  // while its socket still waits for a write or a read to end.
  void set_on_slow_close(std::function<void()> f) { on_slow_close_ = std::move(f); }

  // Returns once the browser is no longer backed up, or is closed.
  asio::awaitable<void> WaitWhileBackedUp() {
    while (backed_up_ && !closed_) {
      drained_.expires_at(Clock::time_point::max());
      boost::system::error_code ec;
      co_await drained_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    }
  }
  void Abort() override {
    Close();
    beast::get_lowest_layer(ws_).close();
  }

  // Stops writing and closes with `why` (a close handshake: it waits for
  // the browser's close frame, reading what it still sends, up to Beast's
  // handshake timeout). Its frame holds `self` from the start.
  static asio::awaitable<void> CloseWith(std::shared_ptr<WsConn> self,
                                         websocket::close_reason why) {
    self->Close();
    boost::system::error_code ec;
    co_await self->ws_.async_close(why, asio::redirect_error(asio::use_awaitable, ec));
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
      Metrics().ws_messages_out.Add();
      Metrics().ws_bytes_out.Add(text.size());
      if (closed_) break;  // closed while writing: the queue is gone
      queued_ -= text.size();
      if (backed_up_ && queued_ <= max_queue_ / 2) SetBackedUp(false);
    }
    Close();
  }

 private:
  void SetBackedUp(bool b) {
    backed_up_ = b;
    if (b) {
      spdlog::debug("browser {}: {} bytes wait for it; its sessions pause", id(), queued_);
      std::weak_ptr<WsConn> weak = this->shared_from_this();
      slow_.expires_after(slow_timeout_);
      slow_.async_wait([weak](boost::system::error_code ec) {
        auto self = weak.lock();
        if (!ec && self && self->backed_up_ && !self->closed_) CloseSlow(self);
      });
    } else {
      slow_.cancel();
      drained_.cancel();
    }
    if (on_backlog_) on_backlog_(b);
  }

  // A browser that read too little for too long: what waits for it is
  // dropped, and the close (with its reason) goes after what is being
  // written; if that cannot be written either, the socket closes anyway.
  static void CloseSlow(const std::shared_ptr<WsConn>& self) {
    const size_t kib = self->queued_ >> 10;
    const auto secs = std::chrono::duration_cast<std::chrono::seconds>(self->slow_timeout_).count();
    spdlog::warn("browser {}: {} KiB waited unread for {} s; closed (too slow)", self->id(), kib,
                 secs);
    self->Close();
    self->queue_.clear();
    self->queued_ = 0;
    if (self->on_slow_close_) self->on_slow_close_();
    auto abort = std::make_shared<asio::steady_timer>(self->ws_.get_executor());
    abort->expires_after(self->close_timeout_);
    abort->async_wait([self, abort](boost::system::error_code ec) {
      if (!ec) beast::get_lowest_layer(self->ws_).close();
    });
    core::Spawn(
        self->ws_.get_executor(),
        [](std::shared_ptr<WsConn> self, websocket::close_reason why,
           std::shared_ptr<asio::steady_timer> abort)
            -> asio::awaitable<void> {
          co_await CloseWith(self, std::move(why));
          abort->cancel();
        }(self,
            {websocket::close_code::policy_error,
             fmt::format("too slow: {} KiB unread for {} s (resume on a new connection)", kib,
                         secs)},
            abort),
        "hub WebSocket close (slow reader)");
  }

  websocket::stream<Stream> ws_;
  asio::steady_timer wake_;
  asio::steady_timer drained_;  // cancelled when it is no longer backed up
  asio::steady_timer slow_;     // while backed up: closes it then
  std::deque<std::string> queue_;
  size_t queued_ = 0;  // bytes in queue_ and being written
  bool backed_up_ = false;
  bool closed_ = false;
  const double rate_;
  const Clock::duration notice_interval_;
  TokenBucket bucket_;
  const size_t max_queue_;
  const Clock::duration slow_timeout_;
  const Clock::duration close_timeout_;
  std::function<void(bool)> on_backlog_;
  std::function<void()> on_slow_close_;
  Clock::time_point resume_at_{};
  std::optional<Clock::time_point> told_;  // when it was last told it is over the rate
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
                                   http::request<http::string_body> req, std::string client) {
  const HubOptions& opt = shard.options();
  ws.set_option(websocket::stream_base::timeout::suggested(beast::role_type::server));
  // The read loop enforces max_message itself: Beast's own limit would
  // close the connection without a reason.
  ws.read_message_max(0);
  boost::system::error_code ec;
  co_await ws.async_accept(req, asio::redirect_error(asio::use_awaitable, ec));
  if (ec) co_return;
  const uint64_t id = shard.NewConnId();
  auto conn = std::make_shared<WsConn<Stream>>(
      std::move(ws), id, opt,
      [&shard, id](bool backed_up) { shard.OnBrowserBacklog(id, backed_up); });
  // Sessions are capped per client address (router.h).
  conn->address = std::move(client);
  shard.AddBrowser(conn);
  GoneGuard gone(shard, conn);
  conn->set_on_slow_close([&shard, c = conn.get()] { shard.OnBrowserGone(*c); });
  core::Spawn(shard.io(), conn->WriteLoop(), "hub WebSocket writer");
  beast::flat_buffer buffer;
  std::vector<Out> outs;
  asio::steady_timer pause(shard.io());
  for (;;) {
    if (conn->closed()) break;
    if (conn->backed_up()) {  // not reading what it is sent: TCP pushes back meanwhile
      co_await conn->WaitWhileBackedUp();
      continue;
    }
    if (conn->resume_at() > Clock::now()) {  // over its rate: TCP pushes back meanwhile
      pause.expires_at(conn->resume_at());
      co_await pause.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    }
    buffer.clear();
    bool too_big = false;
    do {  // one message, of which at most max_message + 1 bytes
      co_await conn->ws().async_read_some(buffer, opt.max_message + 1 - buffer.size(),
                                          asio::redirect_error(asio::use_awaitable, ec));
      too_big = !ec && buffer.size() > opt.max_message;
    } while (!ec && !too_big && !conn->ws().is_message_done());
    if (ec == websocket::condition::protocol_violation) {
      // Beast has failed the connection as RFC 6455 says (1007 for a text
      // message that is not UTF-8, 1002 for a malformed frame): no browser
      // sends that, so its sessions end as for a message too big.
      spdlog::warn("browser {}: WebSocket protocol violation ({}); closed", conn->id(),
                   ec.message());
      conn->end_sessions = true;
    }
    if (ec || conn->closed()) break;  // closed meanwhile (too slow): it is gone already
    Metrics().ws_messages_in.Add();
    Metrics().ws_bytes_in.Add(buffer.size());
    if (too_big) {
      // A misbehaving client: closed with a reason, and its sessions end.
      spdlog::warn("browser {}: message over {} bytes; closed", conn->id(), opt.max_message);
      conn->end_sessions = true;
      core::Spawn(shard.io(),
                  WsConn<Stream>::CloseWith(
                      conn, {websocket::close_code::too_big,
                             fmt::format("message too big: over {} bytes", opt.max_message)}),
                  "hub WebSocket close");
      break;
    }
    if (!conn->ws().got_text()) {
      conn->Send(Router::ErrorJson(0, proto::Error::BAD_REQUEST,
                                   "binary messages are not accepted; send JSON text"));
      conn->Charge();
      continue;
    }
    const auto data = buffer.cdata();
    const std::string_view text(static_cast<const char*>(data.data()), data.size());
    if (opt.on_ws_message) opt.on_ws_message(text);
    shard.OnBrowserText(*conn, text, &outs);
  }
}

template asio::awaitable<void> RunWebSocket(Shard&,
                                            websocket::stream<CoalescingStream<beast::tcp_stream>>,
                                            http::request<http::string_body>, std::string);
template asio::awaitable<void> RunWebSocket(Shard&, websocket::stream<CoalescingStream<TlsStream>>,
                                            http::request<http::string_body>, std::string);

}  // namespace salvus::hub
