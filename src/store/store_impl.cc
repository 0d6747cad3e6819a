#include "store/store_impl.h"

#include <pthread.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <limits>
#include <mutex>
#include <thread>
#include <type_traits>

#include "core/clock.h"
#include "core/sha1.h"
#include "store/migrations.h"

namespace salvus::store::internal {
namespace {

namespace asio = boost::asio;

// A permalink id that collides is retried with a new one; at ~59 bits a
// second collision in a row means the generator is broken.
constexpr int kMaxIdAttempts = 8;
// Rows per multi-row INSERT of log lines (bounded so statements stay
// reusable and within both backends' parameter limits).
constexpr size_t kLogChunk = 100;

int64_t Clamp(size_t n) {
  return static_cast<int64_t>(std::min<size_t>(n, std::numeric_limits<int64_t>::max()));
}

// Hands one result to the caller's executor, unless the store is gone.
// Until then it counts as outstanding work there, as any asio operation
// does: io_context::run() does not return while a result is on its way
// from the SQLite thread.
template <class T>
class Delivery {
 public:
  Delivery(const asio::any_io_executor& ex, std::weak_ptr<char> alive, Callback<T> cb)
      : work_(asio::prefer(ex, asio::execution::outstanding_work.tracked)),
        alive_(std::move(alive)),
        cb_(std::move(cb)) {}

  void Send(Result<T> r) {
    asio::post(work_, [alive = alive_, cb = std::move(cb_), r = std::move(r)]() mutable {
      if (alive.lock() && cb) cb(std::move(r));
    });
    work_ = asio::any_io_executor();  // the posted handler counts now
  }

 private:
  asio::any_io_executor work_;
  std::weak_ptr<char> alive_;
  Callback<T> cb_;
};

template <class T>
asio::awaitable<void> RunOp(std::function<asio::awaitable<T>(Db&)> op, Db& db,
                            std::shared_ptr<Delivery<T>> delivery, const char* what) {
  Result<T> result;
  std::string error;
  try {
    if constexpr (std::is_void_v<T>) {
      co_await op(db);
    } else {
      result = co_await op(db);
    }
  } catch (const std::exception& e) {
    error = e.what();
  }
  co_await db.Reset();
  if (!error.empty()) {
    result = std::unexpected(std::string(what) + ": " + db.backend() + ": " + error);
  }
  delivery->Send(std::move(result));
}

// --- the operations, once for both backends ---
// Coroutines take their arguments by value: they live in the frame.

asio::awaitable<std::string> CreatePermalinkOp(Db& db, std::string code, std::string language,
                                               std::string state, IdGenerator gen) {
  const std::string hash = PermalinkContentHash(code, language, state);
  const std::string kByHash = "SELECT id FROM permalinks WHERE content_hash = $1";
  Rows r = co_await db.Query(kByHash, Params(Text(hash)));
  if (!r.empty()) co_return r.Text(0, 0);
  for (int attempt = 0; attempt < kMaxIdAttempts; ++attempt) {
    const std::string id = gen();
    if (id.empty()) throw DbError("the id generator returned an empty id");
    // DO NOTHING on either key: a taken id, or the same content inserted
    // meanwhile by another process.
    r = co_await db.Query(
        "INSERT INTO permalinks (id, content_hash, code, language, interact_state, created_ms) "
        "VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING RETURNING id",
        Params(Text(id), Text(hash), Text(code), Text(language), Text(state), Int(core::NowMs())));
    if (!r.empty()) co_return id;
    r = co_await db.Query(kByHash, Params(Text(hash)));
    if (!r.empty()) co_return r.Text(0, 0);
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

asio::awaitable<void> PutBlobOp(Db& db, Blob blob) {
  const std::string sha1 = core::Sha1Hex(blob.data);
  if (blob.sha1 != sha1) {
    throw DbError("blob sha1 \"" + blob.sha1 + "\" is not the SHA-1 of its data (" + sha1 + ")");
  }
  co_await db.Query(
      "INSERT INTO blobs (sha1, mime, data, created_ms) VALUES ($1, $2, $3, $4) "
      "ON CONFLICT (sha1) DO NOTHING",
      Params(Text(sha1), Text(blob.mime), Bytes(std::move(blob.data)), Int(core::NowMs())));
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

asio::awaitable<void> AddStatusOp(Db& db, Status s) {
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
  std::string sql =
      "SELECT s.id, s.type, s.name, s.site, s.address, s.port, s.username, s.pid, "
      "s.monitor_pid, s.start_ms, s.stop_ms, "
      "st.id, st.time_ms, st.load1, st.load5, st.load15, st.pcpu, st.pmem, st.cputime_s, "
      "st.walltime_s, st.vsize_kb, st.rss_kb, st.extra "
      "FROM services s LEFT JOIN status st "
      "ON st.id = (SELECT MAX(id) FROM status WHERE service_id = s.id) "
      "WHERE s.running = 1";
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
    s.running = true;
    if (!r.IsNull(i, 11)) {
      Status st;
      st.service_id = s.id;
      st.time_ms = r.Int(i, 12);
      st.load1 = r.Real(i, 13);
      st.load5 = r.Real(i, 14);
      st.load15 = r.Real(i, 15);
      st.pcpu = r.Real(i, 16);
      st.pmem = r.Real(i, 17);
      st.cputime_s = r.Real(i, 18);
      st.walltime_s = r.Real(i, 19);
      st.vsize_kb = static_cast<uint64_t>(r.Int(i, 20));
      st.rss_kb = static_cast<uint64_t>(r.Int(i, 21));
      st.extra = r.Text(i, 22);
      ss.latest = std::move(st);
    }
    out.push_back(std::move(ss));
  }
  co_return out;
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

// Ids grow with insertion: everything up to the (keep+1)-th newest id goes.
asio::awaitable<void> CapTable(Db& db, std::string table, size_t keep) {
  Rows r = co_await db.Query("DELETE FROM " + table + " WHERE id <= (SELECT id FROM " + table +
                                 " ORDER BY id DESC LIMIT 1 OFFSET $1)",
                             Params(Int(Clamp(keep))));
  if (r.affected > 0) spdlog::debug("store: cap_table {}: deleted {} rows", table, r.affected);
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

}  // namespace

StoreImpl::StoreImpl(asio::any_io_executor ex, const Options& opt)
    : executor_(std::move(ex)), options_(opt) {}

StoreImpl::~StoreImpl() = default;

template <class T>
void StoreImpl::Submit(const char* what, std::function<asio::awaitable<T>(Db&)> op,
                       Callback<T> cb) {
  auto delivery = std::make_shared<Delivery<T>>(executor_, alive_, std::move(cb));
  Job job;
  job.run = [op = std::move(op), delivery, what](Db& db) {
    return RunOp<T>(op, db, delivery, what);
  };
  job.fail = [delivery, what](const std::string& error) {
    delivery->Send(std::unexpected(std::string(what) + ": " + error));
  };
  Enqueue(std::move(job));
}

void StoreImpl::Migrate(Callback<int> cb) {
  Submit<int>(
      "Migrate", [](Db& db) { return internal::Migrate(db); }, std::move(cb));
}

void StoreImpl::CreatePermalink(std::string code, std::string language, std::string interact_state,
                                Callback<std::string> cb) {
  Submit<std::string>(
      "CreatePermalink",
      [code = std::move(code), language = std::move(language), state = std::move(interact_state),
       gen = id_generator_](Db& db) { return CreatePermalinkOp(db, code, language, state, gen); },
      std::move(cb));
}

void StoreImpl::GetPermalink(std::string id, Callback<std::optional<Permalink>> cb) {
  Submit<std::optional<Permalink>>(
      "GetPermalink", [id = std::move(id)](Db& db) { return GetPermalinkOp(db, id); },
      std::move(cb));
}

void StoreImpl::PutBlob(Blob blob, Done cb) {
  // shared_ptr: the op may be copied (std::function) and blobs can be large.
  auto b = std::make_shared<Blob>(std::move(blob));
  Submit<void>(
      "PutBlob", [b](Db& db) { return PutBlobOp(db, std::move(*b)); }, std::move(cb));
}

void StoreImpl::GetBlob(std::string sha1, Callback<std::optional<Blob>> cb) {
  Submit<std::optional<Blob>>(
      "GetBlob", [sha1 = std::move(sha1)](Db& db) { return GetBlobOp(db, sha1); }, std::move(cb));
}

void StoreImpl::RegisterService(Service s, Callback<int64_t> cb) {
  Submit<int64_t>(
      "RegisterService", [s = std::move(s)](Db& db) { return RegisterServiceOp(db, s); },
      std::move(cb));
}

void StoreImpl::MarkServiceStopped(int64_t service_id, int64_t stop_ms, Done cb) {
  Submit<void>(
      "MarkServiceStopped",
      [service_id, stop_ms](Db& db) { return MarkServiceStoppedOp(db, service_id, stop_ms); },
      std::move(cb));
}

void StoreImpl::AddStatus(Status s, Done cb) {
  Submit<void>(
      "AddStatus", [s = std::move(s)](Db& db) { return AddStatusOp(db, s); }, std::move(cb));
}

void StoreImpl::AddLogLines(int64_t service_id, std::vector<LogLine> lines, LogCursor cursor,
                            Done cb) {
  auto l = std::make_shared<std::vector<LogLine>>(std::move(lines));
  Submit<void>(
      "AddLogLines",
      [service_id, l, cursor](Db& db) {
        return AddLogLinesOp(db, service_id, std::move(*l), cursor);
      },
      std::move(cb));
}

void StoreImpl::GetLogCursor(int64_t service_id, Callback<LogCursor> cb) {
  Submit<LogCursor>(
      "GetLogCursor", [service_id](Db& db) { return GetLogCursorOp(db, service_id); },
      std::move(cb));
}

void StoreImpl::RunningServices(std::string type, Callback<std::vector<ServiceStatus>> cb) {
  Submit<std::vector<ServiceStatus>>(
      "RunningServices", [type = std::move(type)](Db& db) { return RunningServicesOp(db, type); },
      std::move(cb));
}

void StoreImpl::RecentLog(int64_t service_id, size_t limit, Callback<std::vector<LogLine>> cb) {
  Submit<std::vector<LogLine>>(
      "RecentLog", [service_id, limit](Db& db) { return RecentLogOp(db, service_id, limit); },
      std::move(cb));
}

void StoreImpl::CapTables(size_t status_rows, size_t log_rows, Done cb) {
  Submit<void>(
      "CapTables",
      [status_rows, log_rows](Db& db) { return CapTablesOp(db, status_rows, log_rows); },
      std::move(cb));
}

void StoreImpl::RegisterHub(std::string name, std::string address, int port, Done cb) {
  Submit<void>(
      "RegisterHub",
      [name = std::move(name), address = std::move(address), port](Db& db) {
        return RegisterHubOp(db, name, address, port);
      },
      std::move(cb));
}

void StoreImpl::SetBrowser(std::string browser, std::string hub, bool connected, Done cb) {
  Submit<void>(
      "SetBrowser",
      [browser = std::move(browser), hub = std::move(hub), connected](Db& db) {
        return SetBrowserOp(db, browser, hub, connected);
      },
      std::move(cb));
}

void StoreImpl::SetSession(std::string session, std::string hub, std::string compute, bool ended,
                           Done cb) {
  Submit<void>(
      "SetSession",
      [session = std::move(session), hub = std::move(hub), compute = std::move(compute),
       ended](Db& db) { return SetSessionOp(db, session, hub, compute, ended); },
      std::move(cb));
}

void StoreImpl::Query(std::string sql, std::vector<Param> params, Callback<Rows> cb) {
  Submit<Rows>(
      "Query",
      [sql = std::move(sql), params = std::move(params)](Db& db) { return db.Query(sql, params); },
      std::move(cb));
}

// Background cap_table: a thread that wakes every interval and posts a
// CapTables to the store's executor (where it runs like any operation).
// Not an asio timer on that executor: a pending timer counts as work, so
// io_context::run() would never return while the store lives, and a one-shot
// tool (open, query, run the loop until done) would hang.
class StoreImpl::Pruner {
 public:
  Pruner(std::chrono::seconds interval, std::function<void()> tick)
      : thread_([this, interval, tick = std::move(tick)] {
          pthread_setname_np(pthread_self(), "salvus-prune");
          std::unique_lock lock(mu_);
          while (!cv_.wait_for(lock, interval, [this] { return stop_; })) tick();
        }) {}

  ~Pruner() {
    {
      std::lock_guard lock(mu_);
      stop_ = true;
    }
    cv_.notify_one();
    thread_.join();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;  // GUARDED_BY(mu_)
  std::thread thread_;
};

void StoreImpl::StartPruning() {
  if (options_.prune_interval_s <= 0) return;
  // The tick runs on the pruner's thread: it only posts. The posted handler
  // runs on the executor, where the store lives and dies, and checks first.
  pruner_ = std::make_unique<Pruner>(
      std::chrono::seconds(options_.prune_interval_s),
      [this, ex = executor_, alive = std::weak_ptr<char>(alive_)] {
        asio::post(ex, [this, alive] {
          if (!alive.lock()) return;
          CapTables(options_.status_rows, options_.log_rows, [](Result<void> r) {
            if (!r) spdlog::warn("store: background cap_table: {}", r.error());
          });
        });
      });
}

StoreImpl* AsImpl(Store* store) { return dynamic_cast<StoreImpl*>(store); }

}  // namespace salvus::store::internal
