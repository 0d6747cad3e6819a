#include "core/tls.h"

namespace salvus::core {

namespace ssl = boost::asio::ssl;

ssl::context MakeServerTlsContext(const std::string& cert_chain_pem,
                                  const std::string& private_key_pem) {
  ssl::context ctx(ssl::context::tls_server);
  ctx.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                  ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
  ctx.use_certificate_chain_file(cert_chain_pem);
  ctx.use_private_key_file(private_key_pem, ssl::context::pem);
  return ctx;
}

}  // namespace salvus::core
