// TLS in one place: which protocol versions, how certificates are loaded and
// how a client checks the server it reached, so every listener (compute, hub)
// and every link to them is configured alike.
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <string>

namespace salvus::core {

// A server context: TLS 1.2 or newer, certificate chain and private key
// from PEM files. Throws boost::system::system_error when a file is bad.
boost::asio::ssl::context MakeServerTlsContext(const std::string& cert_chain_pem,
                                               const std::string& private_key_pem);

// How a client checks the server it reached. By default the certificate must
// chain to `ca_file` (PEM; empty: the system's trusted store) and name the
// host that was dialled. `insecure` checks nothing: whoever answers at the
// address passes (and gets whatever the client sends, a token included).
struct ClientTlsOptions {
  std::string ca_file;
  bool insecure = false;
};

// A client context: TLS 1.2 or newer, verification as `o` says. Throws
// boost::system::system_error when the CA file cannot be read.
boost::asio::ssl::context MakeClientTlsContext(const ClientTlsOptions& o);

// Prepares `stream` (made from a MakeClientTlsContext context) to reach
// `host`: the name sent in SNI (unless it is an address) and, unless
// `insecure`, the name or address the certificate must carry. Call before
// the handshake.
void PrepareClientTls(boost::asio::ssl::stream<boost::asio::ip::tcp::socket>& stream,
                      const std::string& host, bool insecure);

}  // namespace salvus::core
