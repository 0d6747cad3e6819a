// The server's side of a framed TLS link (a compute server's or a vault's
// hub): the handshake, bounded in time, then the connection starts.
#pragma once

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <chrono>
#include <memory>
#include <string>

#include "core/conn.h"

namespace salvus::core {

using TlsFramedConn = FramedConn<boost::asio::ssl::stream<boost::asio::ip::tcp::socket>>;

// Starts `conn` with `handlers` once its TLS handshake succeeds within
// `timeout`. Otherwise logs "hub PEER: TLS handshake failed: why", closes it
// and ends it as an error (handlers.on_end(kError), when set), so whoever
// keeps the connection lets go of it.
boost::asio::awaitable<void> HandshakeThenStart(std::shared_ptr<TlsFramedConn> conn,
                                                ConnHandlers handlers, std::string peer,
                                                std::chrono::milliseconds timeout);

}  // namespace salvus::core
