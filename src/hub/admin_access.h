// Who may see the operator's page (/admin) and its API: a request from a
// loopback address that proves it knows the cluster token, either
//   Authorization: Bearer <token>        (scripts, curl)
// or the cookie that POST /admin/login sets once given the token (the page's
// small form). The cookie holds HMAC-SHA256(token, a fixed label), never
// the token itself (which also opens compute servers), so every shard, and
// a restarted hub, accepts it until the token changes.
//
// Accounts marked operator (issue 15) will pass as well, from any address:
// that is the `is_operator` seam below, which nothing sets yet.
//
// Tokens and cookies are compared in constant time. Pure functions;
// thread-safe.
#pragma once

#include <boost/asio/ip/address.hpp>
#include <boost/beast/http.hpp>
#include <functional>
#include <string>
#include <string_view>

namespace salvus::hub {

enum class AdminAccess {
  kAllowed,
  kNotLoopback,  // refused whatever it carries
  kNoToken,      // from loopback, but without a valid token or cookie
};

// Tells whether a request comes from an account marked operator (issue 15:
// the browser session's account). Empty: no such accounts.
using OperatorCheck =
    std::function<bool(const boost::beast::http::request<boost::beast::http::string_body>&)>;

inline constexpr std::string_view kAdminCookie = "salvus_admin";

// The value of the admin cookie for `token`: 64 lowercase hex digits.
std::string AdminCookieValue(std::string_view token);

// Whether `value` (e.g. a form's token field) is `token`; false when the
// token is empty (a hub without one opens /admin to nobody).
bool MatchesToken(std::string_view value, std::string_view token);

AdminAccess CheckAdminAccess(
    const boost::beast::http::request<boost::beast::http::string_body>& req,
    const boost::asio::ip::address& peer, std::string_view token,
    const OperatorCheck& is_operator = {});

// Whether `peer` is a loopback address (127.0.0.0/8, ::1, or an IPv4 one
// mapped into IPv6).
bool IsLoopback(const boost::asio::ip::address& peer);

}  // namespace salvus::hub
