#include "hub/client_address.h"

#include <boost/asio/ip/address_v6.hpp>

namespace salvus::hub {

std::string ClientKey(const boost::asio::ip::address& a) {
  namespace ip = boost::asio::ip;
  if (a.is_v4()) return a.to_string();
  const ip::address_v6 v6 = a.to_v6();
  if (v6.is_v4_mapped()) return ip::make_address_v4(ip::v4_mapped, v6).to_string();
  ip::address_v6::bytes_type b = v6.to_bytes();
  for (size_t i = 8; i < b.size(); ++i) b[i] = 0;
  return ip::address_v6(b).to_string() + "/64";
}

}  // namespace salvus::hub
