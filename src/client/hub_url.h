// Where a hub's browser protocol is: ws[s]://HOST[:PORT][/PATH]. Pure;
// thread-safe.
#pragma once

#include <cstdint>
#include <expected>
#include <string>

namespace salvus::client {

// ws://HOST[:PORT][/PATH] or wss://... ("[v6addr]" hosts too). No path means /ws.
struct HubUrl {
  bool tls = false;
  std::string host;
  uint16_t port = 0;
  std::string target = "/ws";  // path and query
  // http(s)://HOST:PORT, the base of /blobs/<sha1> links.
  std::string HttpBase() const;
};
std::expected<HubUrl, std::string> ParseHubUrl(const std::string& url);

}  // namespace salvus::client
