#include "vault/email.h"

#include "core/utf8.h"

namespace salvus::vault {

std::expected<std::string, std::string> NormalizeEmail(std::string_view raw) {
  constexpr std::string_view kSpace = " \t\r\n";
  const size_t b = raw.find_first_not_of(kSpace);
  if (b == std::string_view::npos) return std::unexpected("the address is empty");
  raw = raw.substr(b, raw.find_last_not_of(kSpace) - b + 1);
  if (raw.size() > kMaxEmail) {
    return std::unexpected("the address is longer than " + std::to_string(kMaxEmail) + " bytes");
  }
  if (!core::IsValidUtf8(raw)) return std::unexpected("the address is not valid UTF-8");
  std::string out(raw);
  for (char& c : out) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u == 0x7f) {
      return std::unexpected("the address holds a space or a control character");
    }
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  const size_t at = out.find('@');
  if (at == std::string::npos || out.find('@', at + 1) != std::string::npos) {
    return std::unexpected("the address does not have exactly one '@'");
  }
  const std::string_view local = std::string_view(out).substr(0, at);
  const std::string_view domain = std::string_view(out).substr(at + 1);
  if (local.empty()) return std::unexpected("the address has nothing before its '@'");
  if (domain.size() < 3 || domain.find('.') == std::string_view::npos || domain.front() == '.' ||
      domain.back() == '.') {
    return std::unexpected("the address's domain is not a name like example.org");
  }
  return out;
}

bool ValidAccountId(std::string_view id) {
  if (id.size() != 32) return false;
  for (char c : id) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

bool ValidMailToken(std::string_view token) {
  if (token.size() < 16 || token.size() > 128) return false;
  for (char c : token) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-' ||
          c == '_')) {
      return false;
    }
  }
  return true;
}

}  // namespace salvus::vault
