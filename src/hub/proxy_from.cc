#include "hub/proxy_from.h"

#include <charconv>

namespace salvus::hub {

namespace ip = boost::asio::ip;

namespace {

ip::address_v6::bytes_type Mapped(const ip::address& a) {
  if (a.is_v6()) return a.to_v6().to_bytes();
  return ip::make_address_v6(ip::v4_mapped, a.to_v4()).to_bytes();
}

}  // namespace

std::expected<ProxyFrom::Net, std::string> ProxyFrom::ParseNet(std::string_view item) {
  const size_t slash = item.find('/');
  boost::system::error_code ec;
  const ip::address a = ip::make_address(std::string(item.substr(0, slash)), ec);
  if (ec) return std::unexpected("not an address: " + std::string(item));
  const unsigned bits = a.is_v4() ? 32 : 128;
  unsigned len = bits;
  if (slash != std::string_view::npos) {
    const std::string_view p = item.substr(slash + 1);
    auto [end, e] = std::from_chars(p.data(), p.data() + p.size(), len);
    if (p.empty() || e != std::errc() || end != p.data() + p.size() || len > bits) {
      return std::unexpected("bad prefix length in " + std::string(item));
    }
  }
  Net n{Mapped(a), len + (128 - bits)};
  // The host bits of 10.0.0.5/24 are ignored: it is 10.0.0.0/24.
  for (unsigned i = n.prefix; i < 128; ++i) n.bytes[i / 8] &= ~(0x80u >> (i % 8));
  return n;
}

std::expected<ProxyFrom, std::string> ProxyFrom::Parse(const std::vector<std::string>& items) {
  ProxyFrom p;
  for (const std::string& item : items) {
    if (item.empty()) continue;
    auto n = ParseNet(item);
    if (!n) return std::unexpected(n.error());
    p.nets_.push_back(*n);
  }
  return p;
}

bool ProxyFrom::Contains(const ip::address& peer) const {
  const auto b = Mapped(peer);
  for (const Net& n : nets_) {
    bool match = true;
    for (unsigned i = 0; i < n.prefix && match; i += 8) {
      const unsigned left = n.prefix - i;
      const uint8_t mask = left >= 8 ? 0xFF : static_cast<uint8_t>(0xFF00u >> left);
      match = (b[i / 8] & mask) == n.bytes[i / 8];
    }
    if (match) return true;
  }
  return false;
}

}  // namespace salvus::hub
