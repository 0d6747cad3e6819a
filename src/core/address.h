// HOST:PORT parsing for command-line options.
#pragma once

#include <cstdint>
#include <expected>
#include <string>
#include <string_view>

namespace salvus::core {

struct HostPort {
  std::string host;
  uint16_t port = 0;
};

// Accepts "host:port" and "[v6addr]:port". Port 0 is allowed (any free port).
std::expected<HostPort, std::string> ParseHostPort(std::string_view s);

}  // namespace salvus::core
