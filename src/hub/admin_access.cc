#include "hub/admin_access.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "core/hex.h"
#include "core/token.h"

namespace salvus::hub {

namespace http = boost::beast::http;

namespace {

constexpr std::string_view kCookieLabel = "salvus admin cookie v1";

// The value of cookie `name` in a Cookie header ("a=1; b=2"), or "".
std::string_view CookieValue(std::string_view header, std::string_view name) {
  while (!header.empty()) {
    const size_t semi = header.find(';');
    std::string_view pair = header.substr(0, semi);
    header = semi == std::string_view::npos ? std::string_view{} : header.substr(semi + 1);
    while (!pair.empty() && pair.front() == ' ') pair.remove_prefix(1);
    const size_t eq = pair.find('=');
    if (eq != std::string_view::npos && pair.substr(0, eq) == name) return pair.substr(eq + 1);
  }
  return {};
}

}  // namespace

std::string AdminCookieValue(std::string_view token) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), token.data(), static_cast<int>(token.size()),
       reinterpret_cast<const unsigned char*>(kCookieLabel.data()), kCookieLabel.size(), mac, &len);
  return core::HexEncode(mac, len);
}

bool MatchesToken(std::string_view value, std::string_view token) {
  return !token.empty() && core::TokensEqual(value, token);
}

bool IsLoopback(const boost::asio::ip::address& peer) {
  if (peer.is_v6() && peer.to_v6().is_v4_mapped()) {
    return boost::asio::ip::make_address_v4(boost::asio::ip::v4_mapped, peer.to_v6()).is_loopback();
  }
  return peer.is_loopback();
}

AdminAccess CheckAdminAccess(const http::request<http::string_body>& req,
                             const boost::asio::ip::address& peer, std::string_view token,
                             const OperatorCheck& is_operator) {
  if (is_operator && is_operator(req)) return AdminAccess::kAllowed;
  if (!IsLoopback(peer)) return AdminAccess::kNotLoopback;
  if (token.empty()) return AdminAccess::kNoToken;
  const auto auth_field = req[http::field::authorization];
  const std::string_view auth(auth_field.data(), auth_field.size());
  constexpr std::string_view kBearer = "Bearer ";
  if (auth.starts_with(kBearer) && MatchesToken(auth.substr(kBearer.size()), token)) {
    return AdminAccess::kAllowed;
  }
  const auto cookies = req[http::field::cookie];
  const std::string_view cookie =
      CookieValue(std::string_view(cookies.data(), cookies.size()), kAdminCookie);
  if (!cookie.empty() && core::TokensEqual(cookie, AdminCookieValue(token))) {
    return AdminAccess::kAllowed;
  }
  return AdminAccess::kNoToken;
}

}  // namespace salvus::hub
