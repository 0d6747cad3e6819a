// Identifiers and hashes the store computes itself.
#pragma once

#include <functional>
#include <string>
#include <string_view>

namespace salvus::store::internal {

// Makes a new permalink id. Must be safe to call from the store's thread.
using IdGenerator = std::function<std::string()>;

// 10 characters of base62 from the kernel's CSPRNG (getrandom): about 59.5
// bits, unguessable, URL-safe.
std::string NewPermalinkId();

// What makes two permalinks "the same": lowercase hex SHA-256 over the
// length-prefixed (code, language, interact_state).
std::string PermalinkContentHash(std::string_view code, std::string_view language,
                                 std::string_view interact_state);

}  // namespace salvus::store::internal
