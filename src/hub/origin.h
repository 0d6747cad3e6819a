// Which pages may open the hub's WebSocket: a browser sends the page's
// origin (scheme://host[:port]) with the upgrade. The hub's own pages have
// the origin of the address the connection reached (its socket's local
// end: the listen address, or on a hub listening on every interface the
// interface's address) with the hub's scheme; others need --allow-origin.
//
// Behind a proxy (haproxy) the address a connection reached is the hub's
// own, never the site's: --public-origin names the site instead.
//
// The Host header plays no part: a DNS-rebinding page (evil.example
// resolved to the hub's address) sends Host: evil.example:P together with
// Origin: http://evil.example:P, and must not pass.
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/http.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace salvus::hub {

// The origin of the hub's own pages, as one connection reached it.
struct HubOrigin {
  bool tls = false;  // https (else http)
  std::string host;  // an IP address: "127.0.0.1", "[::1]"
  uint16_t port = 0;
  bool loopback = false;  // then "localhost" names it too
};

// For a connection whose local end is `local` on a hub serving TLS or not.
HubOrigin OwnOrigin(const boost::asio::ip::tcp::endpoint& local, bool tls);

// --public-origin ("https://site.example[:port]", http or https): the
// origin of the hub's own pages behind a proxy; nullopt if malformed.
std::optional<HubOrigin> ParsePublicOrigin(std::string_view origin);

// Whether a WebSocket upgrade `req` may go ahead: it has no Origin (no page:
// command-line clients), or its Origin is the hub's own (same scheme, host
// and port; a missing port is the scheme's default), or one of `allowed`
// exactly ("*": any).
bool OriginAllowed(const boost::beast::http::request<boost::beast::http::string_body>& req,
                   const HubOrigin& own, const std::vector<std::string>& allowed);

}  // namespace salvus::hub
