// The addresses --proxy-from names: the proxies (haproxy) whose
// connections open with a PROXY header (proxy_protocol.h). A connection
// from one of them must send the header; from anyone else a header is
// refused. Immutable once parsed; shared by the shards.
#pragma once

#include <boost/asio/ip/address.hpp>
#include <expected>
#include <string>
#include <string_view>
#include <vector>

namespace salvus::hub {

class ProxyFrom {
 public:
  ProxyFrom() = default;

  // Each of `items` an address or a network in CIDR notation
  // ("10.0.0.5", "10.0.0.0/24", "fd00::/8").
  static std::expected<ProxyFrom, std::string> Parse(const std::vector<std::string>& items);

  bool empty() const { return nets_.empty(); }
  // Whether `peer` is one of them (an IPv4-mapped IPv6 address, as a hub
  // listening on :: sees IPv4 peers, as its IPv4 address).
  bool Contains(const boost::asio::ip::address& peer) const;

 private:
  struct Net {
    boost::asio::ip::address_v6::bytes_type bytes;  // IPv4 as IPv4-mapped
    unsigned prefix = 128;                          // of those 128 bits
  };
  static std::expected<Net, std::string> ParseNet(std::string_view item);

  std::vector<Net> nets_;
};

}  // namespace salvus::hub
