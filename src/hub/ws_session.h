// One browser's WebSocket: a read loop that feeds the shard (rate limited),
// and one writer draining a queue (Beast allows one outstanding write).
//
// However the session ends (the browser closes, an error, an exception
// thrown inside it), its connection is closed and the shard told, so its
// sessions detach (or end) and the Router forgets the connection.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <boost/beast/websocket/stream.hpp>
#include <string>

#include "hub/coalescing_stream.h"

namespace salvus::hub {

class Shard;

using TlsStream = boost::beast::ssl_stream<boost::beast::tcp_stream>;

// Accepts the upgrade `req` on `ws` and serves it until it closes;
// `client`: its client address (client_address.h), for the per-address
// session cap ("": not counted).
// Instantiated for CoalescingStream over tcp_stream and over TlsStream.
template <class Stream>
boost::asio::awaitable<void> RunWebSocket(
    Shard& shard, boost::beast::websocket::stream<Stream> ws,
    boost::beast::http::request<boost::beast::http::string_body> req, std::string client);

extern template boost::asio::awaitable<void> RunWebSocket(
    Shard&, boost::beast::websocket::stream<CoalescingStream<boost::beast::tcp_stream>>,
    boost::beast::http::request<boost::beast::http::string_body>, std::string);
extern template boost::asio::awaitable<void> RunWebSocket(
    Shard&, boost::beast::websocket::stream<CoalescingStream<TlsStream>>,
    boost::beast::http::request<boost::beast::http::string_body>, std::string);

}  // namespace salvus::hub
