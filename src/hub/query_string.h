// The query string of a request target ("/path?a=1&b=x%20y"), or an
// application/x-www-form-urlencoded body, read strictly: anything a
// browser would not send (a bad %-escape, a repeated name, too many
// parameters, bytes that are not UTF-8 once decoded) is an error, so a
// handler can answer 400 instead of guessing.
#pragma once

#include <cstddef>
#include <expected>
#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace salvus::hub {

using QueryParams = std::map<std::string, std::string, std::less<>>;

// At most this many parameters; each name and value at most kMaxQueryValue
// bytes once decoded.
constexpr size_t kMaxQueryParams = 16;
constexpr size_t kMaxQueryValue = 1024;

// The parameters of `query` (the part after '?', without it). '+' is a space.
std::expected<QueryParams, std::string> ParseQuery(std::string_view query);

// The path of `target` (before '?') and its parameters.
struct Target {
  std::string_view path;
  QueryParams params;
};
std::expected<Target, std::string> ParseTarget(std::string_view target);

// A whole decimal number in [min, max], written as std::to_string would
// (no sign, no spaces, no leading zero, at most 18 digits); nullopt
// otherwise.
std::optional<long long> ParseBoundedInt(std::string_view s, long long min, long long max);

}  // namespace salvus::hub
