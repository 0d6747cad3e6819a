// Lowercase hexadecimal: the one encoder for digests, tokens and random ids.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace salvus::core {

// Two lowercase hex digits per byte.
std::string HexEncode(std::string_view bytes);
std::string HexEncode(const unsigned char* bytes, size_t n);

// `n` bytes from OpenSSL's CSPRNG, hex-encoded (2n characters). Throws
// std::runtime_error if the generator fails.
std::string RandomHex(size_t n);

}  // namespace salvus::core
