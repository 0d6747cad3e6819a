#include "hub/origin.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <optional>

namespace salvus::hub {

namespace http = boost::beast::http;

HubOrigin OwnOrigin(const boost::asio::ip::tcp::endpoint& local, bool tls) {
  HubOrigin o;
  o.tls = tls;
  o.port = local.port();
  auto a = local.address();
  if (a.is_v6() && a.to_v6().is_v4_mapped()) {
    a = boost::asio::ip::make_address_v4(boost::asio::ip::v4_mapped, a.to_v6());
  }
  o.host = a.is_v6() ? "[" + a.to_string() + "]" : a.to_string();
  o.loopback = a.is_loopback();
  return o;
}

namespace {

struct Origin {
  bool tls = false;
  std::string host;  // lower case
  uint16_t port = 0;
};

// "scheme://host[:port]", scheme http or https; nothing else.
std::optional<Origin> ParseOrigin(std::string_view s) {
  Origin o;
  if (s.starts_with("http://")) {
    s.remove_prefix(7);
  } else if (s.starts_with("https://")) {
    o.tls = true;
    s.remove_prefix(8);
  } else {
    return std::nullopt;
  }
  o.port = o.tls ? 443 : 80;
  size_t host_end = s.size();
  if (s.starts_with("[")) {
    host_end = s.find(']');
    if (host_end == std::string_view::npos) return std::nullopt;
    ++host_end;
  } else if (auto colon = s.find(':'); colon != std::string_view::npos) {
    host_end = colon;
  }
  const std::string_view host = s.substr(0, host_end);
  std::string_view rest = s.substr(host_end);
  if (host.empty()) return std::nullopt;
  if (!rest.empty()) {
    if (rest[0] != ':' || rest.size() < 2) return std::nullopt;
    rest.remove_prefix(1);
    unsigned port = 0;
    auto [end, ec] = std::from_chars(rest.data(), rest.data() + rest.size(), port);
    if (ec != std::errc() || end != rest.data() + rest.size() || port == 0 || port > 65535) {
      return std::nullopt;
    }
    o.port = static_cast<uint16_t>(port);
  }
  o.host.resize(host.size());
  std::transform(host.begin(), host.end(), o.host.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return o;
}

}  // namespace

std::optional<HubOrigin> ParsePublicOrigin(std::string_view origin) {
  const auto o = ParseOrigin(origin);
  if (!o) return std::nullopt;
  const bool v6 = o->host.starts_with("[");
  for (char c : v6 ? std::string_view(o->host).substr(1, o->host.size() - 2) : o->host) {
    const bool ok =
        std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || (v6 && c == ':');
    if (!ok) return std::nullopt;
  }
  HubOrigin h;
  h.tls = o->tls;
  h.host = o->host;
  h.port = o->port;
  return h;
}

bool OriginAllowed(const http::request<http::string_body>& req, const HubOrigin& own,
                   const std::vector<std::string>& allowed) {
  auto it = req.find(http::field::origin);
  if (it == req.end()) return true;
  const std::string_view origin(it->value().data(), it->value().size());
  for (const auto& a : allowed) {
    if (a == "*" || a == origin) return true;
  }
  const auto o = ParseOrigin(origin);
  if (!o || o->tls != own.tls || o->port != own.port) return false;
  return o->host == own.host || (own.loopback && o->host == "localhost");
}

}  // namespace salvus::hub
