#include "store/store_impl.h"

#include <pthread.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <thread>
#include <type_traits>

#include "core/clock.h"
#include "core/metrics.h"
#include "store/migrations.h"
#include "store/operations.h"

namespace salvus::store::internal {
namespace {

namespace asio = boost::asio;

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

// An operation's figures for Prometheus (core/metrics.h), by operation:
// its latency on the database (not its wait in the queue), and failures.
struct OpMetrics {
  core::metrics::Histogram* seconds;
  core::metrics::Counter* errors;
};
OpMetrics& MetricsOf(const char* what) {
  static std::mutex mu;
  static auto* by_op = new std::map<std::string, OpMetrics>();
  std::lock_guard lock(mu);
  auto it = by_op->find(what);
  if (it != by_op->end()) return it->second;
  auto& r = core::metrics::Default();
  const std::string label = std::string("op=\"") + what + "\"";
  return by_op
      ->emplace(what,
                OpMetrics{&r.histogram("salvus_store_seconds",
                                       "Store operations' time on the database, by operation.",
                                       core::metrics::LatencyBuckets(), label),
                          &r.counter("salvus_store_errors_total",
                                     "Store operations that failed, by operation.", label)})
      .first->second;
}

template <class T>
asio::awaitable<void> RunOp(std::function<asio::awaitable<T>(Db&)> op, Db& db,
                            std::shared_ptr<Delivery<T>> delivery, const char* what) {
  OpMetrics& metrics = MetricsOf(what);
  const auto t0 = std::chrono::steady_clock::now();
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
  metrics.seconds->Observe(
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  if (!error.empty()) {
    metrics.errors->Add();
    result = std::unexpected(std::string(what) + ": " + db.backend() + ": " + error);
  }
  delivery->Send(std::move(result));
}

// How old a blob put again must be for its age to start again: an hour, or
// a tenth of the age at which blobs expire if that is less.
int64_t BlobRefreshAfterMs(int64_t blob_max_age_s) {
  constexpr int64_t kHourMs = 3600 * 1000;
  return blob_max_age_s > 0 ? std::min(kHourMs, blob_max_age_s * 100) : kHourMs;
}

}  // namespace

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
    MetricsOf(what).errors->Add();
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
      "PutBlob",
      [b, refresh = BlobRefreshAfterMs(options_.blob_max_age_s)](Db& db) {
        return PutBlobOp(db, std::move(*b), refresh);
      },
      std::move(cb));
}

void StoreImpl::GetBlob(std::string sha1, Callback<std::optional<Blob>> cb) {
  Submit<std::optional<Blob>>(
      "GetBlob", [sha1 = std::move(sha1)](Db& db) { return GetBlobOp(db, sha1); }, std::move(cb));
}

void StoreImpl::ExpireBlobs(int64_t put_before_ms, Callback<int64_t> cb) {
  Submit<int64_t>(
      "ExpireBlobs", [put_before_ms](Db& db) { return ExpireBlobsOp(db, put_before_ms); },
      std::move(cb));
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

void StoreImpl::AddStatus(StatusRow s, Done cb) {
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

void StoreImpl::AllServices(std::string type, Callback<std::vector<ServiceStatus>> cb) {
  Submit<std::vector<ServiceStatus>>(
      "AllServices",
      [type = std::move(type)](Db& db) { return ServicesOp(db, type, /*running_only=*/false); },
      std::move(cb));
}

void StoreImpl::StatusSince(int64_t service_id, int64_t since_ms, size_t limit,
                            Callback<std::vector<StatusRow>> cb) {
  Submit<std::vector<StatusRow>>(
      "StatusSince",
      [service_id, since_ms, limit](Db& db) {
        return StatusSinceOp(db, service_id, since_ms, limit);
      },
      std::move(cb));
}

void StoreImpl::SearchLog(int64_t service_id, std::string text, std::vector<std::string> any_of,
                          size_t limit, Callback<std::vector<LogLine>> cb) {
  Submit<std::vector<LogLine>>(
      "SearchLog",
      [service_id, text = std::move(text), any_of = std::move(any_of), limit](Db& db) {
        return SearchLogOp(db, service_id, text, any_of, limit);
      },
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

void StoreImpl::CreateAccount(Account a, Done cb) {
  Submit<void>(
      "CreateAccount", [a = std::move(a)](Db& db) { return CreateAccountOp(db, a); },
      std::move(cb));
}

void StoreImpl::GetAccount(std::string id, Callback<std::optional<Account>> cb) {
  Submit<std::optional<Account>>(
      "GetAccount", [id = std::move(id)](Db& db) { return GetAccountOp(db, id); }, std::move(cb));
}

void StoreImpl::SetPasswordHash(std::string id, std::string hash, Callback<bool> cb) {
  Submit<bool>(
      "SetPasswordHash",
      [id = std::move(id), hash = std::move(hash)](Db& db) {
        return SetPasswordHashOp(db, id, hash);
      },
      std::move(cb));
}

void StoreImpl::SetOperator(std::string id, bool is_operator, Callback<bool> cb) {
  Submit<bool>(
      "SetOperator",
      [id = std::move(id), is_operator](Db& db) { return SetOperatorOp(db, id, is_operator); },
      std::move(cb));
}

void StoreImpl::DeleteAccount(std::string id, Callback<bool> cb) {
  Submit<bool>(
      "DeleteAccount", [id = std::move(id)](Db& db) { return DeleteAccountOp(db, id); },
      std::move(cb));
}

void StoreImpl::CreateBrowserSession(std::string token_hash, std::string account, Done cb) {
  Submit<void>(
      "CreateBrowserSession",
      [h = std::move(token_hash), a = std::move(account)](Db& db) {
        return CreateBrowserSessionOp(db, h, a);
      },
      std::move(cb));
}

void StoreImpl::GetBrowserSession(std::string token_hash,
                                  Callback<std::optional<BrowserSession>> cb) {
  Submit<std::optional<BrowserSession>>(
      "GetBrowserSession",
      [h = std::move(token_hash)](Db& db) { return GetBrowserSessionOp(db, h); }, std::move(cb));
}

void StoreImpl::RevokeBrowserSession(std::string token_hash, Callback<bool> cb) {
  Submit<bool>(
      "RevokeBrowserSession",
      [h = std::move(token_hash)](Db& db) { return RevokeBrowserSessionOp(db, h); }, std::move(cb));
}

void StoreImpl::RevokeAccountSessions(std::string account, Callback<int64_t> cb) {
  Submit<int64_t>(
      "RevokeAccountSessions",
      [a = std::move(account)](Db& db) { return RevokeAccountSessionsOp(db, a); }, std::move(cb));
}

void StoreImpl::CreateResetToken(std::string token_hash, std::string account, int64_t expires_ms,
                                 Done cb) {
  Submit<void>(
      "CreateResetToken",
      [h = std::move(token_hash), a = std::move(account), expires_ms](Db& db) {
        return CreateResetTokenOp(db, h, a, expires_ms);
      },
      std::move(cb));
}

void StoreImpl::UseResetToken(std::string token_hash, int64_t now_ms,
                              Callback<std::optional<std::string>> cb) {
  Submit<std::optional<std::string>>(
      "UseResetToken",
      [h = std::move(token_hash), now_ms](Db& db) { return UseResetTokenOp(db, h, now_ms); },
      std::move(cb));
}

void StoreImpl::Query(std::string sql, std::vector<Param> params, Callback<Rows> cb) {
  Submit<Rows>(
      "Query",
      [sql = std::move(sql), params = std::move(params)](Db& db) { return db.Query(sql, params); },
      std::move(cb));
}

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
          if (options_.blob_max_age_s > 0) {
            ExpireBlobs(core::NowMs() - options_.blob_max_age_s * 1000, [](Result<int64_t> r) {
              if (!r) {
                spdlog::warn("store: background blob expiry: {}", r.error());
              } else if (*r > 0) {
                spdlog::info(
                    "store: {} blobs unused for a while and referred to by nothing "
                    "deleted",
                    *r);
              }
            });
          }
        });
      });
}

StoreImpl* AsImpl(Store* store) { return dynamic_cast<StoreImpl*>(store); }

}  // namespace salvus::store::internal
