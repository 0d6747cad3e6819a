// The cluster token: a shared secret that a hub presents as its first frame
// to a compute server.
#pragma once

#include <expected>
#include <string>
#include <string_view>

namespace salvus::core {

// Reads a token file: surrounding whitespace is ignored; an empty token or a
// token shorter than 16 characters is an error.
std::expected<std::string, std::string> ReadTokenFile(const std::string& path);

// Constant-time comparison (independent of where the strings differ).
bool TokensEqual(std::string_view a, std::string_view b);

}  // namespace salvus::core
