// The random secrets of accounts and how they travel: account ids, the
// browser's cookie token, reset tokens, and the cookie header itself.
// Pure functions; thread-safe.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace salvus::accounts {

// 128 random bits as 32 lowercase hex digits.
std::string NewAccountId();
bool IsAccountId(std::string_view s);

// 256 random bits as 64 lowercase hex digits: a cookie's or a reset
// link's token. Only its TokenHash is ever stored.
std::string NewToken();
bool IsToken(std::string_view s);
// Lowercase hex SHA-256 of `token`.
std::string TokenHash(std::string_view token);

// The cookie holding a browser's session token.
inline constexpr std::string_view kSessionCookie = "salvus_session";

// The value of cookie `name` in a Cookie header ("a=1; b=2"); nullopt
// when absent.
std::optional<std::string> CookieValue(std::string_view header, std::string_view name);

// Set-Cookie for a session token: HttpOnly, SameSite=Lax, Path=/, Secure
// when the site is https; it lasts `max_age_s`.
std::string SessionSetCookie(std::string_view token, bool secure, long max_age_s);
// Set-Cookie that removes it.
std::string ClearSessionCookie(bool secure);

}  // namespace salvus::accounts
