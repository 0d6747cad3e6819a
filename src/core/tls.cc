#include "core/tls.h"

#include <openssl/ssl.h>

namespace salvus::core {

namespace ssl = boost::asio::ssl;

namespace {

constexpr auto kProtocols = ssl::context::default_workarounds | ssl::context::no_sslv2 |
                            ssl::context::no_sslv3 | ssl::context::no_tlsv1 |
                            ssl::context::no_tlsv1_1;

}  // namespace

ssl::context MakeServerTlsContext(const std::string& cert_chain_pem,
                                  const std::string& private_key_pem) {
  ssl::context ctx(ssl::context::tls_server);
  ctx.set_options(kProtocols);
  ctx.use_certificate_chain_file(cert_chain_pem);
  ctx.use_private_key_file(private_key_pem, ssl::context::pem);
  return ctx;
}

ssl::context MakeClientTlsContext(const ClientTlsOptions& o) {
  ssl::context ctx(ssl::context::tls_client);
  ctx.set_options(kProtocols);
  if (o.insecure) {
    ctx.set_verify_mode(ssl::verify_none);
    return ctx;
  }
  if (o.ca_file.empty()) {
    ctx.set_default_verify_paths();
  } else {
    ctx.load_verify_file(o.ca_file);
  }
  ctx.set_verify_mode(ssl::verify_peer);
  return ctx;
}

void PrepareClientTls(ssl::stream<boost::asio::ip::tcp::socket>& stream, const std::string& host,
                      bool insecure) {
  boost::system::error_code ec;
  boost::asio::ip::make_address(host, ec);
  if (ec) {  // a name: SNI (an address is never sent there)
    SSL_set_tlsext_host_name(stream.native_handle(), host.c_str());
  }
  if (!insecure) stream.set_verify_callback(ssl::host_name_verification(host));
}

}  // namespace salvus::core
