// SHA-1 names of blobs (images, files): lowercase hex, 40 characters.
#pragma once

#include <string>
#include <string_view>

namespace salvus::core {

std::string Sha1Hex(std::string_view data);

// True for exactly 40 lowercase hex digits.
bool IsSha1Hex(std::string_view s);

}  // namespace salvus::core
