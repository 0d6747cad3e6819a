// The monitor tables as the operator reads them (`salvus status`, the
// hub's /admin): services with their newest status, a service's status over
// a time span, and its log lines filtered by text. Written once for both
// backends (portable SQL: LIKE with an explicit ESCAPE, lower()).
#include <algorithm>
#include <limits>

#include "store/operations.h"

namespace salvus::store::internal {

namespace asio = boost::asio;

namespace {

int64_t Clamp(size_t n) {
  return static_cast<int64_t>(std::min<size_t>(n, std::numeric_limits<int64_t>::max()));
}

// `s` as a LIKE pattern that matches it anywhere (escape character '\').
std::string ContainsPattern(std::string_view s) {
  std::string p = "%";
  for (char c : s) {
    if (c == '%' || c == '_' || c == '\\') p.push_back('\\');
    p.push_back(c);
  }
  p.push_back('%');
  return p;
}

std::string AsciiLower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

// The status columns, in the order ReadStatus expects, from `first`.
constexpr const char* kStatusColumns =
    "time_ms, load1, load5, load15, pcpu, pmem, cputime_s, walltime_s, vsize_kb, rss_kb, extra";

StatusRow ReadStatus(const Rows& r, size_t i, size_t first, int64_t service_id) {
  StatusRow st;
  st.service_id = service_id;
  st.time_ms = r.Int(i, first);
  st.load1 = r.Real(i, first + 1);
  st.load5 = r.Real(i, first + 2);
  st.load15 = r.Real(i, first + 3);
  st.pcpu = r.Real(i, first + 4);
  st.pmem = r.Real(i, first + 5);
  st.cputime_s = r.Real(i, first + 6);
  st.walltime_s = r.Real(i, first + 7);
  st.vsize_kb = static_cast<uint64_t>(r.Int(i, first + 8));
  st.rss_kb = static_cast<uint64_t>(r.Int(i, first + 9));
  st.extra = r.Text(i, first + 10);
  return st;
}

}  // namespace

asio::awaitable<std::vector<ServiceStatus>> ServicesOp(Db& db, std::string type,
                                                       bool running_only) {
  std::string sql =
      "SELECT s.id, s.type, s.name, s.site, s.address, s.port, s.username, s.pid, "
      "s.monitor_pid, s.start_ms, s.stop_ms, s.running, st.id, "
      "st.time_ms, st.load1, st.load5, st.load15, st.pcpu, st.pmem, st.cputime_s, "
      "st.walltime_s, st.vsize_kb, st.rss_kb, st.extra "
      "FROM services s LEFT JOIN status st "
      "ON st.id = (SELECT MAX(id) FROM status WHERE service_id = s.id) WHERE 1 = 1";
  if (running_only) sql += " AND s.running = 1";
  std::vector<Param> params;
  if (!type.empty()) {
    sql += " AND s.type = $1";
    params.push_back(Text(type));
  }
  sql += " ORDER BY s.id";
  Rows r = co_await db.Query(std::move(sql), std::move(params));
  std::vector<ServiceStatus> out;
  out.reserve(r.size());
  for (size_t i = 0; i < r.size(); ++i) {
    ServiceStatus ss;
    Service& s = ss.service;
    s.id = r.Int(i, 0);
    s.type = r.Text(i, 1);
    s.name = r.Text(i, 2);
    s.site = r.Text(i, 3);
    s.address = r.Text(i, 4);
    s.port = static_cast<int>(r.Int(i, 5));
    s.user = r.Text(i, 6);
    s.pid = static_cast<int>(r.Int(i, 7));
    s.monitor_pid = static_cast<int>(r.Int(i, 8));
    s.start_ms = r.Int(i, 9);
    s.stop_ms = r.Int(i, 10);
    s.running = r.Int(i, 11) != 0;
    if (!r.IsNull(i, 12)) ss.latest = ReadStatus(r, i, 13, s.id);
    out.push_back(std::move(ss));
  }
  co_return out;
}

asio::awaitable<std::vector<StatusRow>> StatusSinceOp(Db& db, int64_t service_id, int64_t since_ms,
                                                      size_t limit) {
  Rows r = co_await db.Query(std::string("SELECT ") + kStatusColumns +
                                 " FROM status WHERE service_id = $1 AND time_ms >= $2 "
                                 "ORDER BY id DESC LIMIT $3",
                             Params(Int(service_id), Int(since_ms), Int(Clamp(limit))));
  std::vector<StatusRow> out;
  out.reserve(r.size());
  for (size_t i = r.size(); i-- > 0;) out.push_back(ReadStatus(r, i, 0, service_id));
  co_return out;
}

asio::awaitable<std::vector<LogLine>> SearchLogOp(Db& db, int64_t service_id, std::string text,
                                                  std::vector<std::string> any_of, size_t limit) {
  std::string sql = "SELECT time_ms, text FROM log WHERE service_id = $1";
  std::vector<Param> params = Params(Int(service_id));
  if (!text.empty()) {
    params.push_back(Text(ContainsPattern(AsciiLower(text))));
    sql += " AND lower(text) LIKE $" + std::to_string(params.size()) + " ESCAPE '\\'";
  }
  if (!any_of.empty()) {
    sql += " AND (";
    for (size_t k = 0; k < any_of.size(); ++k) {
      params.push_back(Text(ContainsPattern(AsciiLower(any_of[k]))));
      sql += (k ? " OR " : "") + std::string("lower(text) LIKE $") + std::to_string(params.size()) +
             " ESCAPE '\\'";
    }
    sql += ")";
  }
  params.push_back(Int(Clamp(limit)));
  sql += " ORDER BY id DESC LIMIT $" + std::to_string(params.size());
  Rows r = co_await db.Query(std::move(sql), std::move(params));
  std::vector<LogLine> out;
  out.reserve(r.size());
  for (size_t i = r.size(); i-- > 0;) out.push_back({service_id, r.Int(i, 0), r.Text(i, 1)});
  co_return out;
}

}  // namespace salvus::store::internal
