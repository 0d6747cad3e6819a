// The key under which the hub counts a client (connections and sessions per
// address): an IPv4 address as it is (also when it arrives IPv4-mapped on
// an IPv6 socket); an IPv6 address by its /64, since one subscriber is
// usually given a whole /64 and may use any address in it.
#pragma once

#include <boost/asio/ip/address.hpp>
#include <string>

namespace salvus::hub {

std::string ClientKey(const boost::asio::ip::address& a);

}  // namespace salvus::hub
