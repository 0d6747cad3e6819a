#include "core/address.h"

#include <charconv>

namespace salvus::core {

std::expected<HostPort, std::string> ParseHostPort(std::string_view s) {
  const auto bad = [&](const char* why) {
    return std::unexpected("bad address '" + std::string(s) + "': " + why + " (want HOST:PORT)");
  };
  const size_t colon = s.rfind(':');
  if (colon == std::string_view::npos) return bad("no port");
  std::string_view host = s.substr(0, colon);
  std::string_view port = s.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  if (host.empty()) return bad("empty host");
  unsigned value = 0;
  auto [p, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (ec != std::errc() || p != port.data() + port.size() || port.empty() || value > 65535) {
    return bad("port must be a number from 0 to 65535");
  }
  return HostPort{std::string(host), static_cast<uint16_t>(value)};
}

}  // namespace salvus::core
