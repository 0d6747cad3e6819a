#include "client/hub_url.h"

#include <charconv>
#include <string_view>

namespace salvus::client {

std::string HubUrl::HttpBase() const {
  const bool v6 = host.find(':') != std::string::npos;
  return std::string(tls ? "https://" : "http://") + (v6 ? "[" + host + "]" : host) + ":" +
         std::to_string(port);
}

std::expected<HubUrl, std::string> ParseHubUrl(const std::string& url) {
  HubUrl u;
  std::string_view rest = url;
  if (rest.starts_with("ws://")) {
    rest.remove_prefix(5);
  } else if (rest.starts_with("wss://")) {
    u.tls = true;
    rest.remove_prefix(6);
  } else {
    return std::unexpected("not a WebSocket URL (want ws://HOST:PORT/ws or wss://...): " + url);
  }
  const size_t slash = rest.find_first_of("/?");
  std::string_view authority = rest.substr(0, slash);
  if (slash != std::string_view::npos) {
    u.target = std::string(rest.substr(slash));
    if (u.target.front() == '?') u.target = "/" + u.target;
  }
  if (authority.find('@') != std::string_view::npos) {
    return std::unexpected("user names in hub URLs are not supported: " + url);
  }
  std::string_view port;
  if (authority.starts_with("[")) {
    const size_t close = authority.find(']');
    if (close == std::string_view::npos) return std::unexpected("unclosed [ in " + url);
    u.host = std::string(authority.substr(1, close - 1));
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return std::unexpected("bad host in " + url);
      port = after.substr(1);
    }
  } else {
    const size_t colon = authority.rfind(':');
    u.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) port = authority.substr(colon + 1);
  }
  if (u.host.empty()) return std::unexpected("no host in " + url);
  if (port.empty()) {
    u.port = u.tls ? 443 : 80;
  } else {
    unsigned p = 0;
    auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), p);
    if (ec != std::errc() || end != port.data() + port.size() || p == 0 || p > 65535) {
      return std::unexpected("bad port in " + url);
    }
    u.port = static_cast<uint16_t>(p);
  }
  return u;
}

}  // namespace salvus::client
