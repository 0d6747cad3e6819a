#include "hub/admin_page.h"

#include <spdlog/spdlog.h>

#include <optional>
#include <vector>

#include "core/clock.h"
#include "hub/admin_json.h"
#include "hub/static_files.h"
#include "store/await_store.h"
#include "store/store.h"

namespace salvus::hub {

namespace http = boost::beast::http;
using Response = AdminPage::Response;
using Request = AdminPage::Request;

namespace {

Response Plain(const Request& req, http::status status, std::string text) {
  Response res{status, req.version()};
  res.set(http::field::server, "salvus");
  res.set(http::field::content_type, "text/plain; charset=utf-8");
  res.set(http::field::cache_control, "no-store");
  res.keep_alive(req.keep_alive());
  res.body() = std::move(text) + "\n";
  res.prepare_payload();
  return res;
}

Response Json(const Request& req, std::string body) {
  Response res{http::status::ok, req.version()};
  res.set(http::field::server, "salvus");
  res.set(http::field::content_type, "application/json");
  res.set(http::field::cache_control, "no-store");
  res.set("X-Content-Type-Options", "nosniff");
  res.keep_alive(req.keep_alive());
  res.body() = std::move(body);
  res.prepare_payload();
  return res;
}

// The 403 a loopback browser without the token gets: no data, a form.
Response AskForToken(const Request& req, bool wrong) {
  Response res{http::status::forbidden, req.version()};
  res.set(http::field::server, "salvus");
  res.set(http::field::content_type, "text/html; charset=utf-8");
  res.set(http::field::cache_control, "no-store");
  res.set("Content-Security-Policy",
          "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
          "frame-ancestors 'none'");
  res.keep_alive(req.keep_alive());
  res.body() = std::string(
                   "<!doctype html><meta charset=utf-8><title>Salvus: operator's page</title>"
                   "<body style='font:15px system-ui;margin:3em'><h1>Operator's page</h1>") +
               (wrong ? "<p style='color:#b00'>That is not the cluster token.</p>" : "") +
               "<form method=post action=/admin/login><p>The cluster token (the hub's "
               "<code>--token-file</code>; for <code>salvus up</code>: "
               "<code>DATA/token</code>):</p><input type=password name=token autofocus "
               "size=70> <button>Open</button></form>\n";
  res.prepare_payload();
  return res;
}

// level=L: lines at L or above, as spdlog writes them ("... [hub] [warning] ...").
std::optional<std::vector<std::string>> LevelPatterns(std::string_view level) {
  static constexpr std::string_view kLevels[] = {"trace",   "debug", "info",
                                                 "warning", "error", "critical"};
  if (level.empty() || level == "all") return std::vector<std::string>{};
  if (level == "warn") level = "warning";
  for (size_t i = 0; i < std::size(kLevels); ++i) {
    if (kLevels[i] != level) continue;
    std::vector<std::string> out;
    for (size_t j = i; j < std::size(kLevels); ++j)
      out.push_back("] [" + std::string(kLevels[j]) + "] ");
    return out;
  }
  return std::nullopt;
}

std::string_view Param(const QueryParams& p, std::string_view name) {
  auto it = p.find(name);
  return it == p.end() ? std::string_view{} : std::string_view(it->second);
}

}  // namespace

boost::asio::awaitable<Response> AdminPage::Handle(const Request& req,
                                                   const boost::asio::ip::address& peer) {
  const std::string_view raw(req.target().data(), req.target().size());
  const AdminAccess access = CheckAdminAccess(req, peer, opt_.token, opt_.is_operator);
  if (access == AdminAccess::kNotLoopback) {
    co_return Plain(req, http::status::forbidden,
                    "the operator's page answers only on this machine (loopback), with the "
                    "cluster token");
  }
  const std::string_view path = raw.substr(0, raw.find('?'));
  if (path == "/admin/login") co_return Login(req);
  if (access != AdminAccess::kAllowed) {
    if (path == "/admin" || path == "/admin/") co_return AskForToken(req, false);
    co_return Plain(req, http::status::forbidden, "the cluster token is needed");
  }
  if (path == "/admin" || path == "/admin/") {
    if (req.method() != http::verb::get && req.method() != http::verb::head) {
      co_return Plain(req, http::status::method_not_allowed, "only GET and HEAD");
    }
    Request file = req;
    file.target("/admin.html");
    Response res = ServeStatic(opt_.web_root, file);
    res.set(http::field::cache_control, "no-store");
    res.set("X-Frame-Options", "DENY");
    co_return res;
  }
  if (!path.starts_with("/admin/api/")) {
    co_return Plain(req, http::status::not_found, "no such page");
  }
  auto target = ParseTarget(raw);
  if (!target) co_return Plain(req, http::status::bad_request, "bad query: " + target.error());
  co_return co_await Api(req, *target);
}

Response AdminPage::Login(const Request& req) const {
  if (req.method() != http::verb::post) {
    return Plain(req, http::status::method_not_allowed, "POST the form's token here");
  }
  auto form = ParseQuery(req.body());
  if (!form || !MatchesToken(Param(*form, "token"), opt_.token)) {
    spdlog::warn("admin: a wrong token was posted to /admin/login");
    return AskForToken(req, true);
  }
  Response res{http::status::see_other, req.version()};
  res.set(http::field::server, "salvus");
  res.set(http::field::location, "/admin");
  res.set(http::field::cache_control, "no-store");
  res.set(http::field::set_cookie, std::string(kAdminCookie) + "=" + AdminCookieValue(opt_.token) +
                                       "; Path=/admin; HttpOnly; SameSite=Strict" +
                                       (opt_.tls ? "; Secure" : ""));
  res.keep_alive(req.keep_alive());
  res.prepare_payload();
  return res;
}

boost::asio::awaitable<Response> AdminPage::Api(const Request& req, const Target& target) {
  if (req.method() != http::verb::get) {
    co_return Plain(req, http::status::method_not_allowed, "only GET");
  }
  const std::string_view what = target.path.substr(std::string_view("/admin/api/").size());
  if (what != "services" && what != "status" && what != "log") {
    co_return Plain(req, http::status::not_found, "no such API: services, status, log");
  }
  // Checked before the database is: a malformed request is the client's fault.
  int64_t service = 0;
  if (what != "services") {
    auto id = ParseBoundedInt(Param(target.params, "service"), 1, (1LL << 53));
    if (!id) co_return Plain(req, http::status::bad_request, "service=ID: a service's id");
    service = *id;
  }
  if (!store_) {
    co_return Plain(req, http::status::service_unavailable,
                    "this hub has no database (--db): no monitor tables to read");
  }
  if (what == "services") {
    auto r = co_await store::AwaitStore<std::vector<store::ServiceStatus>>(
        [&](auto cb) { store_->AllServices("", std::move(cb)); });
    if (!r) co_return Plain(req, http::status::service_unavailable, "database: " + r.error());
    co_return Json(req, ServicesJson(*r, core::NowMs(), opt_.stale_after));
  }
  if (what == "status") {
    long long hours = kDefaultHours;
    if (auto h = Param(target.params, "hours"); !h.empty()) {
      auto v = ParseBoundedInt(h, 1, 1'000'000);
      if (!v) co_return Plain(req, http::status::bad_request, "hours=H: a whole number from 1");
      hours = std::min(*v, kMaxHours);
    }
    const int64_t from = core::NowMs() - hours * 3600 * 1000;
    auto r = co_await store::AwaitStore<std::vector<store::StatusRow>>(
        [&](auto cb) { store_->StatusSince(service, from, kMaxStatusRows, std::move(cb)); });
    if (!r) co_return Plain(req, http::status::service_unavailable, "database: " + r.error());
    co_return Json(req, StatusJson(service, from, std::move(*r), kMaxPoints));
  }
  size_t limit = kDefaultLogLimit;
  if (auto l = Param(target.params, "limit"); !l.empty()) {
    auto v = ParseBoundedInt(l, 1, 1'000'000'000);
    if (!v) co_return Plain(req, http::status::bad_request, "limit=N: a whole number from 1");
    limit = std::min<size_t>(static_cast<size_t>(*v), kMaxLogLimit);
  }
  const std::string q(Param(target.params, "q"));
  if (q.size() > kMaxLogQuery) {
    co_return Plain(req, http::status::bad_request,
                    "q: at most " + std::to_string(kMaxLogQuery) + " bytes");
  }
  auto levels = LevelPatterns(Param(target.params, "level"));
  if (!levels) {
    co_return Plain(req, http::status::bad_request,
                    "level: all, trace, debug, info, warning, error or critical");
  }
  auto r = co_await store::AwaitStore<std::vector<store::LogLine>>(
      [&](auto cb) { store_->SearchLog(service, q, std::move(*levels), limit, std::move(cb)); });
  if (!r) co_return Plain(req, http::status::service_unavailable, "database: " + r.error());
  co_return Json(req, LogJson(service, *r));
}

}  // namespace salvus::hub
