// The operator's page: /admin and its JSON API, read from the monitor
// tables (services, status, log) through the shard's Store.
//
//   GET  /admin                        the page (web/admin.html), or 403
//   POST /admin/login                  form field token=...: sets the cookie
//   GET  /admin/api/services           every service, its health, newest status
//   GET  /admin/api/status?service=ID&hours=H     status rows of the last H hours
//   GET  /admin/api/log?service=ID&q=TEXT&level=L&limit=N   newest log lines
//
// Who may: admin_access.h (loopback + the cluster token). Anyone else gets
// 403 and no data; a loopback browser without the token gets the 403 with a
// small form asking for it. Parameters are checked strictly (400 for
// anything malformed) and every read is bounded: `limit` is capped at
// kMaxLogLimit, `hours` at kMaxHours, a status read at kMaxStatusRows rows
// thinned to kMaxPoints, `q` at kMaxLogQuery bytes.
//
// Not thread-safe: one per shard (as HttpHandler, which owns it).
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <cstddef>
#include <string>
#include <string_view>

#include "hub/admin_access.h"
#include "hub/query_string.h"

namespace salvus::store {
class Store;
}

namespace salvus::hub {

struct AdminOptions {
  std::string token;     // the cluster token; empty: /admin opens to nobody
  std::string web_root;  // where admin.html is
  // A running service whose newest status is older than this is "stale".
  std::chrono::milliseconds stale_after = std::chrono::seconds(20);
  OperatorCheck is_operator;  // issue 15: accounts marked operator
  bool tls = false;           // served over https: the cookie is Secure
};

inline constexpr size_t kMaxLogLimit = 1000;
inline constexpr size_t kDefaultLogLimit = 200;
inline constexpr long long kMaxHours = 168;
inline constexpr long long kDefaultHours = 6;
inline constexpr size_t kMaxStatusRows = 20000;
inline constexpr size_t kMaxPoints = 720;
inline constexpr size_t kMaxLogQuery = 200;

class AdminPage {
 public:
  using Request = boost::beast::http::request<boost::beast::http::string_body>;
  using Response = boost::beast::http::response<boost::beast::http::string_body>;

  // `store`: null without a database (the API then answers 503).
  AdminPage(AdminOptions opt, store::Store* store) : opt_(std::move(opt)), store_(store) {}

  // Whether `target` is the page's: /admin, /admin?..., /admin/..., and
  // anything else starting /admin (so /admin.html is not served as a file).
  static bool Owns(std::string_view target) { return target.starts_with("/admin"); }

  boost::asio::awaitable<Response> Handle(const Request& req, const boost::asio::ip::address& peer);

 private:
  boost::asio::awaitable<Response> Api(const Request& req, const Target& target);
  Response Login(const Request& req) const;

  AdminOptions opt_;
  store::Store* store_;
};

}  // namespace salvus::hub
