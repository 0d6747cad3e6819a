#include "hub/query_string.h"

#include "core/utf8.h"

namespace salvus::hub {

namespace {

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::expected<std::string, std::string> Decode(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '+') {
      c = ' ';
    } else if (c == '%') {
      if (i + 2 >= s.size()) return std::unexpected("a truncated %-escape");
      const int a = HexDigit(s[i + 1]), b = HexDigit(s[i + 2]);
      if (a < 0 || b < 0) return std::unexpected("a malformed %-escape");
      c = static_cast<char>(a * 16 + b);
      i += 2;
    }
    out.push_back(c);
    if (out.size() > kMaxQueryValue) return std::unexpected("a parameter over 1024 bytes");
  }
  if (!core::IsValidUtf8(out)) return std::unexpected("a parameter that is not UTF-8");
  if (out.find('\0') != std::string::npos) return std::unexpected("a NUL byte in a parameter");
  return out;
}

}  // namespace

std::expected<QueryParams, std::string> ParseQuery(std::string_view query) {
  QueryParams params;
  while (!query.empty()) {
    const size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
    if (pair.empty()) continue;
    const size_t eq = pair.find('=');
    auto name = Decode(pair.substr(0, eq));
    if (!name) return std::unexpected(name.error());
    auto value = Decode(eq == std::string_view::npos ? std::string_view{} : pair.substr(eq + 1));
    if (!value) return std::unexpected(value.error());
    if (params.size() == kMaxQueryParams) return std::unexpected("too many parameters");
    if (!params.emplace(std::move(*name), std::move(*value)).second) {
      return std::unexpected("a parameter given twice");
    }
  }
  return params;
}

std::expected<Target, std::string> ParseTarget(std::string_view target) {
  const size_t q = target.find('?');
  auto params = ParseQuery(q == std::string_view::npos ? std::string_view{} : target.substr(q + 1));
  if (!params) return std::unexpected(params.error());
  return Target{target.substr(0, q), std::move(*params)};
}

std::optional<long long> ParseBoundedInt(std::string_view s, long long min, long long max) {
  if (s.empty() || s.size() > 18 || (s.size() > 1 && s[0] == '0')) return std::nullopt;
  long long v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + (c - '0');
  }
  if (v < min || v > max) return std::nullopt;
  return v;
}

}  // namespace salvus::hub
