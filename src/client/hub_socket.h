// The transport of a hub's browser protocol (docs/protocol.md): a
// WebSocket whose text messages are the proto3 JSON mapping of
// salvus.proto's Message. The low level of the client library, for callers
// that drive their own asio loop: HubClient (hub_client.h) runs it on a
// private loop, hub_bench runs thousands of them on one.
//
// Reading and writing forward to Beast as they are (any completion token),
// and a read leaves the message in the socket's own buffer (text()), so a
// message costs nothing beyond what Beast itself does. One read and one
// write at most in flight at a time; not thread-safe.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

namespace salvus::client {

// `NextLayer`: beast::tcp_stream (ws://) or beast::ssl_stream of one (wss://,
// its TLS handshake done by the caller).
template <class NextLayer>
class BasicHubSocket {
 public:
  using Stream = boost::beast::websocket::stream<NextLayer>;
  using Response = boost::beast::http::response<boost::beast::http::string_body>;

  template <class... Args>
  explicit BasicHubSocket(Args&&... args) : ws_(std::forward<Args>(args)...) {}

  // The WebSocket handshake for `target` on a connected stream, with
  // `host` in the Host header: a handshake deadline of `timeout` (and no
  // other: the hub pings), text messages, `user_agent` unless empty (then
  // Beast's). After an upgrade_declined error response() holds the
  // server's answer.
  template <class Token>
  auto AsyncHandshake(const std::string& host, const std::string& target,
                      std::chrono::steady_clock::duration timeout, std::string user_agent,
                      Token&& token) {
    namespace websocket = boost::beast::websocket;
    boost::beast::get_lowest_layer(ws_).expires_never();  // the WebSocket has its own timeouts
    auto t = websocket::stream_base::timeout::suggested(boost::beast::role_type::client);
    t.handshake_timeout = timeout;
    ws_.set_option(t);
    if (!user_agent.empty()) {
      ws_.set_option(websocket::stream_base::decorator(
          [user_agent = std::move(user_agent)](websocket::request_type& req) {
            req.set(boost::beast::http::field::user_agent, user_agent);
          }));
    }
    ws_.text(true);
    return ws_.async_handshake(response_, host, target, std::forward<Token>(token));
  }

  // Sends one text message (the JSON of a Message). `text` must outlive the
  // operation.
  template <class Token>
  auto AsyncWrite(std::string_view text, Token&& token) {
    return ws_.async_write(boost::asio::buffer(text.data(), text.size()),
                           std::forward<Token>(token));
  }

  // Reads the next message; text() is it until the next read.
  template <class Token>
  auto AsyncRead(Token&& token) {
    buffer_.clear();
    return ws_.async_read(buffer_, std::forward<Token>(token));
  }
  std::string_view text() const {
    const auto data = buffer_.cdata();
    return {static_cast<const char*>(data.data()), data.size()};
  }
  // The last message read was text (the protocol's), not binary.
  bool got_text() const { return ws_.got_text(); }

  template <class Token>
  auto AsyncClose(Token&& token) {
    return ws_.async_close(boost::beast::websocket::close_code::normal, std::forward<Token>(token));
  }
  // Closes the socket at once (pending operations end with an error).
  void Abort() {
    boost::system::error_code ec;
    boost::beast::get_lowest_layer(ws_).socket().close(ec);
  }

  // Why the hub closed the connection (after a read ended with `closed`).
  const boost::beast::websocket::close_reason& reason() const { return ws_.reason(); }
  const Response& response() const { return response_; }
  Stream& stream() { return ws_; }

 private:
  Stream ws_;
  boost::beast::flat_buffer buffer_;
  Response response_;
};

using HubSocket = BasicHubSocket<boost::beast::tcp_stream>;
using TlsHubSocket = BasicHubSocket<boost::beast::ssl_stream<boost::beast::tcp_stream>>;

// A plain ws:// connection to `endpoint` (TCP_NODELAY), opened at `target`
// with `host` in the Host header. Throws boost::system::system_error.
boost::asio::awaitable<std::unique_ptr<HubSocket>> OpenHubSocket(
    boost::asio::ip::tcp::endpoint endpoint, std::string host, std::string target = "/ws",
    std::chrono::steady_clock::duration timeout = std::chrono::seconds(30));

}  // namespace salvus::client
