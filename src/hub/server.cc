#include "hub/server.h"

#include <boost/beast/core.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <spdlog/spdlog.h>

#include <deque>
#include <optional>
#include <thread>
#include <unordered_map>

#include "core/tls.h"
#include "hub/router.h"
#include "hub/static_files.h"

namespace salvus::hub {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using asio::ip::tcp;

using TlsStream = beast::ssl_stream<beast::tcp_stream>;

// What the shard needs of a browser connection, whatever its transport.
class Browser {
 public:
  virtual ~Browser() = default;
  virtual void Send(std::string text) = 0;
  virtual void Close() = 0;
  virtual void Abort() = 0;  // closes the socket now
};

// One browser's WebSocket: a read loop feeding the shard's Router, and one
// writer draining a queue (Beast allows one outstanding write).
template <class Stream>
class WsConn : public Browser, public std::enable_shared_from_this<WsConn<Stream>> {
 public:
  WsConn(websocket::stream<Stream> ws, uint64_t id)
      : ws_(std::move(ws)), id_(id), wake_(ws_.get_executor()) {
    wake_.expires_at(std::chrono::steady_clock::time_point::max());
  }
  uint64_t id() const { return id_; }
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
  uint64_t id_;
  asio::steady_timer wake_;
  std::deque<std::string> queue_;
  bool closed_ = false;
};

class Hub::Shard {
 public:
  // `tls`: shared by every shard (an SSL_CTX is safe to use from several
  // threads once set up); null for plain http.
  Shard(const HubOptions& opt, unsigned index, asio::ssl::context* tls)
      : opt_(opt),
        index_(index),
        acceptor_(io_),
        router_(opt.compute.size(), opt.max_code),
        tls_(tls) {
    for (size_t i = 0; i < opt.compute.size(); ++i) {
      LinkOptions lo{opt.compute[i], opt.token, opt.compute_tls, opt.compute_tls_ca};
      links_.push_back(std::make_unique<ComputeLink>(
          io_, lo,
          ComputeLink::Handlers{
              [this, i] { router_.SetLinkUp(i, true); },
              [this, i](const proto::Message& m) {
                std::vector<Out> outs;
                router_.OnComputeMessage(i, m, &outs);
                Dispatch(outs);
              },
              [this, i](const std::string& why) {
                std::vector<Out> outs;
                router_.OnComputeLost(i, why, &outs);
                Dispatch(outs);
              }}));
    }
  }

  uint16_t Bind(uint16_t port) {
    tcp::endpoint ep(asio::ip::make_address(opt_.listen.host), port);
    acceptor_.open(ep.protocol());
    acceptor_.set_option(asio::socket_base::reuse_address(true));
    int one = 1;
    setsockopt(acceptor_.native_handle(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
    acceptor_.bind(ep);
    acceptor_.listen(asio::socket_base::max_listen_connections);
    return acceptor_.local_endpoint().port();
  }

  void Run() {
    for (auto& l : links_) l->Start();
    asio::co_spawn(io_, AcceptLoop(), asio::detached);
    thread_ = std::thread([this] { io_.run(); });
  }

  void Stop() {
    asio::post(io_, [this] {
      boost::system::error_code ec;
      acceptor_.close(ec);
      for (auto& l : links_) l->Stop();
      for (auto& [id, c] : conns_) c->Abort();
      io_.stop();
    });
    if (thread_.joinable()) thread_.join();
  }

 private:
  void Dispatch(std::vector<Out>& outs) {
    for (Out& o : outs) {
      if (o.kind == Out::kToBrowser) {
        if (auto it = conns_.find(o.conn); it != conns_.end()) it->second->Send(std::move(o.text));
      } else {
        // The Router only routes to links that are up; a link that goes
        // down tells the Router (OnComputeLost), which answers what waits.
        links_[o.link]->Send(o.msg);
      }
    }
  }

  asio::awaitable<void> AcceptLoop() {
    for (;;) {
      boost::system::error_code ec;
      tcp::socket sock = co_await acceptor_.async_accept(asio::redirect_error(asio::use_awaitable, ec));
      if (ec) {
        if (!acceptor_.is_open()) co_return;
        continue;
      }
      sock.set_option(tcp::no_delay(true), ec);
      if (tls_) {
        asio::co_spawn(io_, TlsSession(beast::tcp_stream(std::move(sock))), asio::detached);
      } else {
        asio::co_spawn(io_, HttpSession(beast::tcp_stream(std::move(sock))), asio::detached);
      }
    }
  }

  asio::awaitable<void> TlsSession(beast::tcp_stream tcp) {
    TlsStream stream(std::move(tcp), *tls_);
    beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(30));
    boost::system::error_code ec;
    co_await stream.async_handshake(asio::ssl::stream_base::server,
                                    asio::redirect_error(asio::use_awaitable, ec));
    if (ec) co_return;
    co_await HttpSession(std::move(stream));
  }

  template <class Stream>
  asio::awaitable<void> HttpSession(Stream stream) {
    beast::flat_buffer buffer;
    for (;;) {
      http::request_parser<http::string_body> parser;
      parser.body_limit(64 * 1024);
      beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(60));
      boost::system::error_code ec;
      co_await http::async_read(stream, buffer, parser, asio::redirect_error(asio::use_awaitable, ec));
      if (ec) co_return;
      auto req = parser.release();
      if (websocket::is_upgrade(req)) {
        if (req.target() != "/ws") co_return;
        beast::get_lowest_layer(stream).expires_never();
        co_await WebSocketSession(websocket::stream<Stream>(std::move(stream)), std::move(req));
        co_return;
      }
      http::response<http::string_body> res;
      if (req.target() == "/healthz") {
        res.result(http::status::ok);
        res.version(req.version());
        res.set(http::field::content_type, "text/plain");
        res.body() = "ok\n";
        res.keep_alive(req.keep_alive());
        res.prepare_payload();
      } else {
        res = ServeStatic(opt_.web_root, req);
      }
      const bool keep = res.keep_alive();
      co_await http::async_write(stream, res, asio::redirect_error(asio::use_awaitable, ec));
      if (ec || !keep) {
        beast::get_lowest_layer(stream).socket().shutdown(tcp::socket::shutdown_send, ec);
        co_return;
      }
    }
  }

  template <class Stream>
  asio::awaitable<void> WebSocketSession(websocket::stream<Stream> ws,
                                         http::request<http::string_body> req) {
    ws.set_option(websocket::stream_base::timeout::suggested(beast::role_type::server));
    ws.read_message_max(opt_.max_message);
    boost::system::error_code ec;
    co_await ws.async_accept(req, asio::redirect_error(asio::use_awaitable, ec));
    if (ec) co_return;
    auto conn = std::make_shared<WsConn<Stream>>(std::move(ws), next_conn_++);
    conns_[conn->id()] = conn;
    asio::co_spawn(io_, conn->WriteLoop(), asio::detached);
    beast::flat_buffer buffer;
    std::vector<Out> outs;
    for (;;) {
      buffer.clear();
      co_await conn->ws().async_read(buffer, asio::redirect_error(asio::use_awaitable, ec));
      if (ec) break;
      outs.clear();
      if (!conn->ws().got_text()) {
        conn->Send(Router::ErrorJson(0, proto::Error::BAD_REQUEST,
                                     "binary messages are not accepted; send JSON text"));
        continue;
      }
      const auto data = buffer.cdata();
      router_.OnBrowserText(
          conn->id(), std::string_view(static_cast<const char*>(data.data()), data.size()), &outs);
      Dispatch(outs);
    }
    if (ec == websocket::error::message_too_big) {
      spdlog::warn("browser {}: message over {} bytes; closed", conn->id(), opt_.max_message);
    }
    outs.clear();
    router_.OnBrowserClosed(conn->id(), &outs);
    Dispatch(outs);
    conn->Close();
    conns_.erase(conn->id());
  }

  const HubOptions& opt_;
  unsigned index_;
  asio::io_context io_{1};
  tcp::acceptor acceptor_;
  Router router_;
  std::vector<std::unique_ptr<ComputeLink>> links_;
  std::unordered_map<uint64_t, std::shared_ptr<Browser>> conns_;
  asio::ssl::context* tls_;
  uint64_t next_conn_ = 1;
  std::thread thread_;
};

Hub::Hub(HubOptions options) : opt_(std::move(options)) {}

Hub::~Hub() { Stop(); }

uint16_t Hub::Start() {
  if (!opt_.tls_cert.empty()) tls_.emplace(core::MakeServerTlsContext(opt_.tls_cert, opt_.tls_key));
  unsigned n = opt_.threads ? opt_.threads : std::max(1u, std::thread::hardware_concurrency());
  uint16_t port = opt_.listen.port;
  for (unsigned i = 0; i < n; ++i) {
    auto shard = std::make_unique<Shard>(opt_, i, tls_ ? &*tls_ : nullptr);
    port = shard->Bind(port);
    shards_.push_back(std::move(shard));
  }
  for (auto& s : shards_) s->Run();
  return port;
}

void Hub::Stop() {
  for (auto& s : shards_) s->Stop();
  shards_.clear();
}

}  // namespace salvus::hub
