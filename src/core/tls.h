// TLS for servers: one place that decides protocol versions and loads the
// certificate, so every listener (compute, hub) is configured alike.
#pragma once

#include <boost/asio/ssl.hpp>
#include <string>

namespace salvus::core {

// A server context: TLS 1.2 or newer, certificate chain and private key
// from PEM files. Throws boost::system::system_error when a file is bad.
boost::asio::ssl::context MakeServerTlsContext(const std::string& cert_chain_pem,
                                               const std::string& private_key_pem);

}  // namespace salvus::core
