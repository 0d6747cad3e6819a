// Reading the PROXY header (proxy_protocol.h) a --proxy-from peer opens
// each connection with, on the shard's event loop.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <chrono>
#include <expected>
#include <optional>
#include <string>

namespace salvus::hub {

// Reads exactly the header's bytes from `sock` (what the peer sent after
// it, the client's HTTP or TLS, stays unread for what comes next), within
// `timeout`, never more than kMaxProxyHeader; a peer that sends it a byte
// at a time holds nothing but its own connection meanwhile. The client the
// header names (nullopt: none, the proxy's own connection), or why there is
// none to be had: the connection must then be closed.
boost::asio::awaitable<std::expected<std::optional<boost::asio::ip::address>, std::string>>
ReadProxyHeader(boost::asio::ip::tcp::socket& sock, std::chrono::milliseconds timeout);

}  // namespace salvus::hub
