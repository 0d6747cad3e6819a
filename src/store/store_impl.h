// What both backends share: every Store operation, written once as a
// coroutine over a Db (db.h), and how its result gets back to the caller.
//
// A backend only provides Enqueue(): run jobs one after another on a Db.
// SQLite runs them on the store's own thread; PostgreSQL on the caller's
// executor, suspending on the connection's socket.
//
// Results are posted to the executor the store was opened with, never run
// inline. Once the store is destroyed no callback runs: results still in
// flight are dropped (a weak_ptr guard), queued jobs are discarded. An
// operation that was executing at that moment may or may not have committed.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/post.hpp>
#include <functional>
#include <memory>
#include <string>

#include "store/db.h"
#include "store/ids.h"
#include "store/store.h"

namespace salvus::store::internal {

// One queued operation. Exactly one of run/fail is called, at most once.
struct Job {
  // Runs the operation and delivers its result (or error). Never throws.
  std::function<boost::asio::awaitable<void>(Db&)> run;
  // Delivers `error` without running, e.g. when the database is unreachable.
  std::function<void(const std::string& error)> fail;
};

class StoreImpl : public Store {
 public:
  ~StoreImpl() override;

  void Migrate(Callback<int> cb) final;
  void CreatePermalink(std::string code, std::string language, std::string interact_state,
                       Callback<std::string> cb) final;
  void GetPermalink(std::string id, Callback<std::optional<Permalink>> cb) final;
  void PutBlob(Blob blob, Done cb) final;
  void GetBlob(std::string sha1, Callback<std::optional<Blob>> cb) final;
  void ExpireBlobs(int64_t put_before_ms, Callback<int64_t> cb) final;
  void RegisterService(Service s, Callback<int64_t> cb) final;
  void MarkServiceStopped(int64_t service_id, int64_t stop_ms, Done cb) final;
  void AddStatus(StatusRow s, Done cb) final;
  void AddLogLines(int64_t service_id, std::vector<LogLine> lines, LogCursor cursor, Done cb) final;
  void GetLogCursor(int64_t service_id, Callback<LogCursor> cb) final;
  void RunningServices(std::string type, Callback<std::vector<ServiceStatus>> cb) final;
  void RecentLog(int64_t service_id, size_t limit, Callback<std::vector<LogLine>> cb) final;
  void AllServices(std::string type, Callback<std::vector<ServiceStatus>> cb) final;
  void StatusSince(int64_t service_id, int64_t since_ms, size_t limit,
                   Callback<std::vector<StatusRow>> cb) final;
  void SearchLog(int64_t service_id, std::string text, std::vector<std::string> any_of,
                 size_t limit, Callback<std::vector<LogLine>> cb) final;
  void CapTables(size_t status_rows, size_t log_rows, Done cb) final;
  void RegisterHub(std::string name, std::string address, int port, Done cb) final;
  void SetBrowser(std::string browser, std::string hub, bool connected, Done cb) final;
  void SetSession(std::string session, std::string hub, std::string compute, bool ended,
                  Done cb) final;
  void CreateAccount(Account a, Done cb) final;
  void GetAccount(std::string id, Callback<std::optional<Account>> cb) final;
  void SetPasswordHash(std::string id, std::string hash, Callback<bool> cb) final;
  void SetOperator(std::string id, bool is_operator, Callback<bool> cb) final;
  void DeleteAccount(std::string id, Callback<bool> cb) final;
  void CreateBrowserSession(std::string token_hash, std::string account, Done cb) final;
  void GetBrowserSession(std::string token_hash, Callback<std::optional<BrowserSession>> cb) final;
  void RevokeBrowserSession(std::string token_hash, Callback<bool> cb) final;
  void RevokeAccountSessions(std::string account, Callback<int64_t> cb) final;
  void CreateResetToken(std::string token_hash, std::string account, int64_t expires_ms,
                        Done cb) final;
  void UseResetToken(std::string token_hash, int64_t now_ms,
                     Callback<std::optional<std::string>> cb) final;

  // --- for tests and tools ---
  // Replaces the permalink id generator (e.g. one that collides).
  void SetIdGenerator(IdGenerator gen) { id_generator_ = std::move(gen); }
  // Runs one SQL statement ($1, $2, ... parameters) as an operation.
  void Query(std::string sql, std::vector<Param> params, Callback<Rows> cb);

  const Options& options() const { return options_; }
  boost::asio::any_io_executor executor() const { return executor_; }

 protected:
  StoreImpl(boost::asio::any_io_executor ex, const Options& opt);

  // Runs `job` after every job enqueued before it, never on the caller's
  // stack. Called on the caller's executor.
  virtual void Enqueue(Job job) = 0;

  // Starts background cap_table (and ExpireBlobs, with
  // Options::blob_max_age_s) every Options::prune_interval_s. Derived
  // constructors call it last, once Enqueue works.
  void StartPruning();

 private:
  template <class T>
  void Submit(const char* what, std::function<boost::asio::awaitable<T>(Db&)> op, Callback<T> cb);
  class Pruner;

  boost::asio::any_io_executor executor_;
  Options options_;
  IdGenerator id_generator_ = NewPermalinkId;
  // Results posted to the executor hold a weak_ptr to this; it expires with
  // the store, and their callbacks are then dropped.
  std::shared_ptr<char> alive_ = std::make_shared<char>();
  std::unique_ptr<Pruner> pruner_;
};

// The StoreImpl behind a Store from OpenStore (for tests), or nullptr.
StoreImpl* AsImpl(Store* store);

}  // namespace salvus::store::internal
