// The Store: everything Salvus keeps in a database, behind one interface
// with two backends (DESIGN.md, "Data"):
//   sqlite:PATH             the embedded default (a file; queries run on the
//                           store's own thread, never on the caller's loop)
//   postgresql://...        production (asynchronous libpq driven by the
//                           caller's event loop; a slow query blocks nobody)
//
// Every call returns at once; its callback runs later, on the executor the
// store was opened with, never inline. Results are std::expected: a database
// error is a value with a clear message, never an exception or a crash.
// Not thread-safe: use a store from its executor only (one per hub shard).
// Destroying a store drops the callbacks of operations still pending: they
// never run (an operation already executing may or may not have committed).
// Destroy stores before the io_context they were opened with.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <cstdint>
#include <expected>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace salvus::store {

template <class T>
using Result = std::expected<T, std::string>;
template <class T>
using Callback = std::function<void(Result<T>)>;
using Done = Callback<void>;

struct Permalink {
  std::string id;  // short, random, URL-safe
  std::string code;
  std::string language;        // "sage", "python", ...
  std::string interact_state;  // JSON or empty
  int64_t created_ms = 0;      // unix ms
};

struct Blob {
  std::string sha1;  // lowercase hex of data
  std::string mime;
  std::string data;
};

// A service the monitor watches (hub, compute, memcached, ...). Identity:
// (type, name, site, address, port); registering the same identity again
// reuses its id.
struct Service {
  int64_t id = 0;
  std::string type;  // "hub", "compute", ...
  std::string name;
  std::string site;
  std::string address;
  int port = 0;
  std::string user;
  int pid = 0;
  int monitor_pid = 0;
  int64_t start_ms = 0;
  int64_t stop_ms = 0;  // 0 while running
  bool running = false;
};

// One row of the status table: what a monitor measured of its service at
// one time (a row, not an error status).
struct StatusRow {
  int64_t service_id = 0;
  int64_t time_ms = 0;
  double load1 = 0, load5 = 0, load15 = 0;
  double pcpu = 0;  // % of one core since the previous status
  double pmem = 0;  // % of the machine's memory
  double cputime_s = 0;
  double walltime_s = 0;
  uint64_t vsize_kb = 0;
  uint64_t rss_kb = 0;
  std::string extra;  // JSON, e.g. a compute server's {"sessions":3,"max":100}
};

struct LogLine {
  int64_t service_id = 0;
  int64_t time_ms = 0;  // the timestamp the line starts with
  std::string text;     // valid UTF-8 (invalid bytes replaced)
};

// Where the monitor stopped reading a service's log file.
struct LogCursor {
  uint64_t inode = 0;
  uint64_t offset = 0;
};

struct ServiceStatus {
  Service service;
  std::optional<StatusRow> latest;
};

// An account: nothing in it is derived from an e-mail address (the vault
// alone maps addresses to accounts).
struct Account {
  std::string id;             // 32 lowercase hex digits: 128 random bits
  std::string password_hash;  // crypto_pwhash_str (Argon2id); "" when none
  int64_t created_ms = 0;
  bool is_operator = false;
};

// A browser signed in: the database keeps only the SHA-256 of its cookie.
struct BrowserSession {
  std::string token_hash;  // lowercase hex SHA-256 of the cookie's token
  std::string account;
  int64_t created_ms = 0;
  bool revoked = false;
};

struct Options {
  size_t status_rows = 100000;  // cap_table: newest rows kept
  size_t log_rows = 100000;
  int prune_interval_s = 60;  // background pruning; 0 disables it
  // With background pruning: blobs last put longer ago than this, and that
  // nothing refers to, are deleted (ExpireBlobs). 0 keeps every blob.
  int64_t blob_max_age_s = 0;
};

class Store {
 public:
  virtual ~Store() = default;

  // "sqlite" or "postgresql".
  virtual std::string backend() const = 0;

  // Creates or upgrades the schema (versioned migrations, the same for both
  // backends). Running it again is a no-op. Returns the schema version.
  virtual void Migrate(Callback<int> cb) = 0;

  // --- permalinks ---
  // Stores code under a fresh random id (collisions retried) and returns the
  // id; the same (code, language, interact_state) again returns its old id.
  // Every stored blob whose SHA-1 the code or state names (e.g. an
  // <img src="/blobs/<sha1>">) is then referred to by the permalink and
  // never expires (ExpireBlobs).
  virtual void CreatePermalink(std::string code, std::string language, std::string interact_state,
                               Callback<std::string> cb) = 0;
  virtual void GetPermalink(std::string id, Callback<std::optional<Permalink>> cb) = 0;

  // --- blobs ---
  // An existing sha1 keeps its bytes; its age starts again (a plot that is
  // produced again is as fresh as a new one).
  virtual void PutBlob(Blob blob, Done cb) = 0;
  virtual void GetBlob(std::string sha1, Callback<std::optional<Blob>> cb) = 0;
  // Deletes the blobs last put before `put_before_ms` (unix ms) that no
  // permalink (nor anything else in blob_refs) refers to; returns how many.
  virtual void ExpireBlobs(int64_t put_before_ms, Callback<int64_t> cb) = 0;

  // --- services, status, log (the monitor) ---
  // Registers (or re-registers) a service: running, with the given pid,
  // monitor pid and start time. Returns its id.
  virtual void RegisterService(Service s, Callback<int64_t> cb) = 0;
  virtual void MarkServiceStopped(int64_t service_id, int64_t stop_ms, Done cb) = 0;
  virtual void AddStatus(StatusRow s, Done cb) = 0;
  // Appends lines and moves the service's log cursor, in one transaction:
  // a monitor restarted after a crash neither loses nor repeats lines.
  virtual void AddLogLines(int64_t service_id, std::vector<LogLine> lines, LogCursor cursor,
                           Done cb) = 0;
  virtual void GetLogCursor(int64_t service_id, Callback<LogCursor> cb) = 0;
  // Running services (of `type`, or all when empty) with their newest status.
  virtual void RunningServices(std::string type, Callback<std::vector<ServiceStatus>> cb) = 0;
  // Newest `limit` log lines of a service, oldest first.
  virtual void RecentLog(int64_t service_id, size_t limit, Callback<std::vector<LogLine>> cb) = 0;
  // Every service, running or stopped (of `type`, or all when empty), with
  // its newest status, by id (the operator's page).
  virtual void AllServices(std::string type, Callback<std::vector<ServiceStatus>> cb) = 0;
  // A service's status rows taken at or after `since_ms`, oldest first; past
  // `limit` rows, the newest `limit`.
  virtual void StatusSince(int64_t service_id, int64_t since_ms, size_t limit,
                           Callback<std::vector<StatusRow>> cb) = 0;
  // Newest `limit` log lines of a service, oldest first, that contain
  // `text` ("" matches every line) and, when `any_of` is not empty, one of
  // its strings; both ignoring ASCII case.
  virtual void SearchLog(int64_t service_id, std::string text, std::vector<std::string> any_of,
                         size_t limit, Callback<std::vector<LogLine>> cb) = 0;
  // cap_table: keeps the newest `status_rows` status rows and `log_rows` log
  // rows (also run in the background every Options::prune_interval_s).
  virtual void CapTables(size_t status_rows, size_t log_rows, Done cb) = 0;

  // --- hubs, browsers, sessions ---
  virtual void RegisterHub(std::string name, std::string address, int port, Done cb) = 0;
  // Which hub a browser connection is on; connected=false removes it.
  virtual void SetBrowser(std::string browser, std::string hub, bool connected, Done cb) = 0;
  // A session started (ended=false) or ended on a compute server.
  virtual void SetSession(std::string session, std::string hub, std::string compute, bool ended,
                          Done cb) = 0;

  // --- accounts, browser sessions, password reset tokens ---
  // Adds an account; an id already taken is an error (ids are random).
  virtual void CreateAccount(Account a, Done cb) = 0;
  virtual void GetAccount(std::string id, Callback<std::optional<Account>> cb) = 0;
  // Replaces the password hash; false when there is no such account.
  virtual void SetPasswordHash(std::string id, std::string hash, Callback<bool> cb) = 0;
  virtual void SetOperator(std::string id, bool is_operator, Callback<bool> cb) = 0;
  // Removes an account and its sessions and reset tokens (a sign-up that
  // the vault refused); false when there was none.
  virtual void DeleteAccount(std::string id, Callback<bool> cb) = 0;
  // A browser signed in with the cookie whose token hashes to `token_hash`.
  virtual void CreateBrowserSession(std::string token_hash, std::string account, Done cb) = 0;
  // The session (revoked or not); nullopt when unknown.
  virtual void GetBrowserSession(std::string token_hash,
                                 Callback<std::optional<BrowserSession>> cb) = 0;
  // Sign-out: false when there was no such session, or it was revoked.
  virtual void RevokeBrowserSession(std::string token_hash, Callback<bool> cb) = 0;
  // Sign-out everywhere: revokes every session of `account`; how many.
  virtual void RevokeAccountSessions(std::string account, Callback<int64_t> cb) = 0;
  // A password reset token (its SHA-256) for `account`, valid until
  // `expires_ms`. Expired tokens of every account are deleted meanwhile.
  virtual void CreateResetToken(std::string token_hash, std::string account, int64_t expires_ms,
                                Done cb) = 0;
  // Uses a reset token once: its account if it exists, is unused and has
  // not expired at `now_ms` (and it is then used); else nullopt.
  virtual void UseResetToken(std::string token_hash, int64_t now_ms,
                             Callback<std::optional<std::string>> cb) = 0;
};

// Opens "sqlite:PATH" or "postgresql://..." (any libpq URI). Connects, but
// does not migrate: call Migrate first.
Result<std::unique_ptr<Store>> OpenStore(const std::string& url, boost::asio::any_io_executor ex,
                                         const Options& opt = {});

}  // namespace salvus::store
