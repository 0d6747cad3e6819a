#include "store/operations.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <limits>

#include "core/clock.h"
#include "core/sha1.h"

namespace salvus::store::internal {

namespace asio = boost::asio;

namespace {

// A permalink id that collides is retried with a new one; at ~59 bits a
// second collision in a row means the generator is broken.
constexpr int kMaxIdAttempts = 8;
// Rows per multi-row INSERT of log lines (bounded so statements stay
// reusable and within both backends' parameter limits).
constexpr size_t kLogChunk = 100;

int64_t Clamp(size_t n) {
  return static_cast<int64_t>(std::min<size_t>(n, std::numeric_limits<int64_t>::max()));
}

// Ids grow with insertion: everything up to the (keep+1)-th newest id goes.
asio::awaitable<void> CapTable(Db& db, std::string table, size_t keep) {
  Rows r = co_await db.Query("DELETE FROM " + table + " WHERE id <= (SELECT id FROM " + table +
                                 " ORDER BY id DESC LIMIT 1 OFFSET $1)",
                             Params(Int(Clamp(keep))));
  if (r.affected > 0) spdlog::debug("store: cap_table {}: deleted {} rows", table, r.affected);
}

// Blob names (40 lowercase hex digits, not inside a longer run of hex
// digits) in `text`, at most `max` of them.
std::vector<std::string> BlobNamesIn(std::string_view text, size_t max) {
  auto hex = [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); };
  std::vector<std::string> names;
  for (size_t i = 0; i < text.size() && names.size() < max;) {
    if (!hex(text[i])) {
      ++i;
      continue;
    }
    size_t j = i;
    while (j < text.size() && hex(text[j])) ++j;
    if (j - i == 40) names.emplace_back(text.substr(i, 40));
    i = j;
  }
  return names;
}

// A permalink keeps at most this many blobs from expiring.
constexpr size_t kMaxBlobRefs = 64;

// The permalink `id` refers to every stored blob its code or state names.
asio::awaitable<void> ReferToBlobs(Db& db, const std::string& id, const std::string& code,
                                   const std::string& state) {
  std::vector<std::string> names = BlobNamesIn(code, kMaxBlobRefs);
  for (auto& n : BlobNamesIn(state, kMaxBlobRefs - names.size())) names.push_back(std::move(n));
  for (const std::string& sha1 : names) {
    co_await db.Query(
        "INSERT INTO blob_refs (sha1, owner) SELECT sha1, $2 FROM blobs WHERE sha1 = $1 "
        "ON CONFLICT DO NOTHING",
        Params(Text(sha1), Text("permalink:" + id)));
  }
}

}  // namespace

asio::awaitable<std::string> CreatePermalinkOp(Db& db, std::string code, std::string language,
                                               std::string state, IdGenerator gen) {
  const std::string hash = PermalinkContentHash(code, language, state);
  const std::string kByHash = "SELECT id FROM permalinks WHERE content_hash = $1";
  Rows r = co_await db.Query(kByHash, Params(Text(hash)));
  if (!r.empty()) {
    const std::string id = r.Text(0, 0);
    co_await ReferToBlobs(db, id, code, state);  // blobs put since it was first shared
    co_return id;
  }
  for (int attempt = 0; attempt < kMaxIdAttempts; ++attempt) {
    const std::string id = gen();
    if (id.empty()) throw DbError("the id generator returned an empty id");
    // DO NOTHING on either key: a taken id, or the same content inserted
    // meanwhile by another process.
    r = co_await db.Query(
        "INSERT INTO permalinks (id, content_hash, code, language, interact_state, created_ms) "
        "VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING RETURNING id",
        Params(Text(id), Text(hash), Text(code), Text(language), Text(state), Int(core::NowMs())));
    if (!r.empty()) {
      co_await ReferToBlobs(db, id, code, state);
      co_return id;
    }
    r = co_await db.Query(kByHash, Params(Text(hash)));
    if (!r.empty()) {
      const std::string other = r.Text(0, 0);
      co_await ReferToBlobs(db, other, code, state);
      co_return other;
    }
    spdlog::warn("store: permalink id collision ({}), retrying", id);
  }
  throw DbError("no free permalink id after " + std::to_string(kMaxIdAttempts) + " attempts");
}

asio::awaitable<std::optional<Permalink>> GetPermalinkOp(Db& db, std::string id) {
  Rows r = co_await db.Query(
      "SELECT id, code, language, interact_state, created_ms FROM permalinks WHERE id = $1",
      Params(Text(id)));
  if (r.empty()) co_return std::nullopt;
  co_return Permalink{r.Text(0, 0), r.Text(0, 1), r.Text(0, 2), r.Text(0, 3), r.Int(0, 4)};
}

asio::awaitable<void> PutBlobOp(Db& db, Blob blob, int64_t refresh_after_ms) {
  const std::string sha1 = core::Sha1Hex(blob.data);
  if (blob.sha1 != sha1) {
    throw DbError("blob sha1 \"" + blob.sha1 + "\" is not the SHA-1 of its data (" + sha1 + ")");
  }
  co_await db.Query(
      "INSERT INTO blobs (sha1, mime, data, created_ms) VALUES ($1, $2, $3, $4) "
      "ON CONFLICT (sha1) DO UPDATE SET created_ms = excluded.created_ms "
      "WHERE blobs.created_ms < excluded.created_ms - $5",
      Params(Text(sha1), Text(blob.mime), Bytes(std::move(blob.data)), Int(core::NowMs()),
             Int(refresh_after_ms)));
}

asio::awaitable<int64_t> ExpireBlobsOp(Db& db, int64_t put_before_ms) {
  Rows r = co_await db.Query(
      "DELETE FROM blobs WHERE created_ms < $1 AND NOT EXISTS "
      "(SELECT 1 FROM blob_refs WHERE blob_refs.sha1 = blobs.sha1)",
      Params(Int(put_before_ms)));
  co_return r.affected;
}

asio::awaitable<std::optional<Blob>> GetBlobOp(Db& db, std::string sha1) {
  Rows r =
      co_await db.Query("SELECT sha1, mime, data FROM blobs WHERE sha1 = $1", Params(Text(sha1)));
  if (r.empty()) co_return std::nullopt;
  co_return Blob{r.Text(0, 0), r.Text(0, 1), r.Text(0, 2)};
}

asio::awaitable<int64_t> RegisterServiceOp(Db& db, Service s) {
  // Re-registering keeps the id and the log cursor, so a restarted monitor
  // resumes its log where it stopped.
  Rows r = co_await db.Query(
      "INSERT INTO services (type, name, site, address, port, username, pid, monitor_pid, "
      "start_ms, stop_ms, running) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 0, 1) "
      "ON CONFLICT (type, name, site, address, port) DO UPDATE SET "
      "username = excluded.username, pid = excluded.pid, monitor_pid = excluded.monitor_pid, "
      "start_ms = excluded.start_ms, stop_ms = 0, running = 1 "
      "RETURNING id",
      Params(Text(s.type), Text(s.name), Text(s.site), Text(s.address), Int(s.port), Text(s.user),
             Int(s.pid), Int(s.monitor_pid), Int(s.start_ms)));
  if (r.empty()) throw DbError("no id returned");
  co_return r.Int(0, 0);
}

asio::awaitable<void> MarkServiceStoppedOp(Db& db, int64_t id, int64_t stop_ms) {
  Rows r = co_await db.Query("UPDATE services SET running = 0, stop_ms = $2 WHERE id = $1",
                             Params(Int(id), Int(stop_ms)));
  if (r.affected == 0) throw DbError("no service with id " + std::to_string(id));
}

asio::awaitable<void> AddStatusOp(Db& db, StatusRow s) {
  co_await db.Query(
      "INSERT INTO status (service_id, time_ms, load1, load5, load15, pcpu, pmem, cputime_s, "
      "walltime_s, vsize_kb, rss_kb, extra) "
      "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
      Params(Int(s.service_id), Int(s.time_ms), Real(s.load1), Real(s.load5), Real(s.load15),
             Real(s.pcpu), Real(s.pmem), Real(s.cputime_s), Real(s.walltime_s),
             Int(static_cast<int64_t>(s.vsize_kb)), Int(static_cast<int64_t>(s.rss_kb)),
             Text(s.extra)));
}

asio::awaitable<void> AddLogLinesOp(Db& db, int64_t service_id, std::vector<LogLine> lines,
                                    LogCursor cursor) {
  co_await db.Begin();
  Rows r = co_await db.Query("UPDATE services SET log_inode = $2, log_offset = $3 WHERE id = $1",
                             Params(Int(service_id), Int(static_cast<int64_t>(cursor.inode)),
                                    Int(static_cast<int64_t>(cursor.offset))));
  if (r.affected == 0) throw DbError("no service with id " + std::to_string(service_id));
  for (size_t begin = 0; begin < lines.size(); begin += kLogChunk) {
    const size_t end = std::min(lines.size(), begin + kLogChunk);
    std::string sql = "INSERT INTO log (service_id, time_ms, text) VALUES ";
    std::vector<Param> params;
    params.reserve(3 * (end - begin));
    for (size_t i = begin; i < end; ++i) {
      const size_t n = params.size();
      sql += (i == begin ? "" : ", ");
      sql += "($" + std::to_string(n + 1) + ", $" + std::to_string(n + 2) + ", $" +
             std::to_string(n + 3) + ")";
      params.push_back(Int(service_id));
      params.push_back(Int(lines[i].time_ms));
      params.push_back(Text(lines[i].text));
    }
    co_await db.Query(std::move(sql), std::move(params));
  }
  co_await db.Commit();
}

asio::awaitable<LogCursor> GetLogCursorOp(Db& db, int64_t service_id) {
  Rows r = co_await db.Query("SELECT log_inode, log_offset FROM services WHERE id = $1",
                             Params(Int(service_id)));
  if (r.empty()) throw DbError("no service with id " + std::to_string(service_id));
  co_return LogCursor{static_cast<uint64_t>(r.Int(0, 0)), static_cast<uint64_t>(r.Int(0, 1))};
}

asio::awaitable<std::vector<ServiceStatus>> RunningServicesOp(Db& db, std::string type) {
  co_return co_await ServicesOp(db, std::move(type), /*running_only=*/true);
}

asio::awaitable<std::vector<LogLine>> RecentLogOp(Db& db, int64_t service_id, size_t limit) {
  Rows r = co_await db.Query(
      "SELECT time_ms, text FROM log WHERE service_id = $1 ORDER BY id DESC LIMIT $2",
      Params(Int(service_id), Int(Clamp(limit))));
  std::vector<LogLine> out;
  out.reserve(r.size());
  for (size_t i = r.size(); i-- > 0;) out.push_back({service_id, r.Int(i, 0), r.Text(i, 1)});
  co_return out;
}

asio::awaitable<void> CapTablesOp(Db& db, size_t status_rows, size_t log_rows) {
  co_await CapTable(db, "status", status_rows);
  co_await CapTable(db, "log", log_rows);
}

asio::awaitable<void> RegisterHubOp(Db& db, std::string name, std::string address, int port) {
  co_await db.Query(
      "INSERT INTO hubs (name, address, port, updated_ms) VALUES ($1, $2, $3, $4) "
      "ON CONFLICT (name) DO UPDATE SET address = excluded.address, port = excluded.port, "
      "updated_ms = excluded.updated_ms",
      Params(Text(name), Text(address), Int(port), Int(core::NowMs())));
}

asio::awaitable<void> SetBrowserOp(Db& db, std::string browser, std::string hub, bool connected) {
  if (connected) {
    co_await db.Query(
        "INSERT INTO browsers (browser, hub, updated_ms) VALUES ($1, $2, $3) "
        "ON CONFLICT (browser) DO UPDATE SET hub = excluded.hub, updated_ms = excluded.updated_ms",
        Params(Text(browser), Text(hub), Int(core::NowMs())));
  } else {
    // Only this hub's record: the browser may already be on another hub.
    co_await db.Query("DELETE FROM browsers WHERE browser = $1 AND hub = $2",
                      Params(Text(browser), Text(hub)));
  }
}

asio::awaitable<void> SetSessionOp(Db& db, std::string session, std::string hub,
                                   std::string compute, bool ended) {
  if (ended) {
    co_await db.Query("DELETE FROM sessions WHERE session = $1", Params(Text(session)));
  } else {
    co_await db.Query(
        "INSERT INTO sessions (session, hub, compute, started_ms) VALUES ($1, $2, $3, $4) "
        "ON CONFLICT (session) DO UPDATE SET hub = excluded.hub, compute = excluded.compute, "
        "started_ms = excluded.started_ms",
        Params(Text(session), Text(hub), Text(compute), Int(core::NowMs())));
  }
}

}  // namespace salvus::store::internal
