#include "store/sqlite_store.h"

#include <pthread.h>
#include <spdlog/spdlog.h>
#include <sqlite3.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <charconv>
#include <chrono>
#include <cstring>
#include <thread>
#include <unordered_map>

namespace salvus::store::internal {
namespace {

namespace asio = boost::asio;

// How long a statement waits for another connection's lock (another process
// on the same file) before it fails with "database is locked".
constexpr int kBusyTimeoutMs = 5000;

// A connection used only on the store's thread. Query never suspends, so
// each operation runs start to finish without interleaving with another.
class SqliteDb : public Db {
 public:
  explicit SqliteDb(std::string path) : path_(std::move(path)) {}
  ~SqliteDb() override { Close(); }

  // Opens the file if it is not open yet; false and a message if that fails.
  bool Open(std::string* error);

  const char* backend() const override { return "sqlite"; }

  asio::awaitable<Rows> Query(std::string sql, std::vector<Param> params) override {
    co_return Run(sql, params);
  }

  asio::awaitable<void> Begin() override {
    Run("BEGIN IMMEDIATE", {});
    co_return;
  }

  asio::awaitable<void> Reset() override {
    if (db_ != nullptr && sqlite3_get_autocommit(db_) == 0) {
      try {
        Run("ROLLBACK", {});
      } catch (const DbError& e) {
        spdlog::warn("store: sqlite: rollback failed: {}", e.what());
      }
    }
    co_return;
  }

 private:
  Rows Run(const std::string& sql, const std::vector<Param>& params);
  sqlite3_stmt* Prepare(const std::string& sql);
  void Close();
  Rows SwitchToWal();
  [[noreturn]] void Fail(const std::string& what) {
    throw DbError(what + ": " + sqlite3_errmsg(db_));
  }

  std::string path_;
  sqlite3* db_ = nullptr;
  // Prepared statements by SQL text: the operations use a fixed set.
  std::unordered_map<std::string, sqlite3_stmt*> statements_;
};

bool SqliteDb::Open(std::string* error) {
  if (db_ != nullptr) return true;
  const int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
  int rc = sqlite3_open_v2(path_.c_str(), &db_, flags, nullptr);
  if (rc == SQLITE_OK) {
    sqlite3_busy_timeout(db_, kBusyTimeoutMs);
    try {
      // WAL: readers do not block the writer; NORMAL is durable in WAL mode
      // except for the last commits on power loss.
      Rows mode = SwitchToWal();
      const std::string got = mode.empty() ? "" : mode.Text(0, 0);
      if (got != "wal" && got != "memory") {
        spdlog::warn("store: sqlite: {} is in journal mode \"{}\", not WAL", path_, got);
      }
      Run("PRAGMA synchronous=NORMAL", {});
      return true;
    } catch (const DbError& e) {
      *error = "cannot open " + path_ + ": " + e.what();
    }
  } else {
    *error =
        "cannot open " + path_ + ": " + (db_ != nullptr ? sqlite3_errmsg(db_) : sqlite3_errstr(rc));
  }
  Close();
  return false;
}

// Switching a fresh file to WAL takes an exclusive lock, and SQLite does not
// call the busy handler for it: several processes opening a new database at
// once get SQLITE_BUSY at once. Retry within the same busy timeout.
Rows SqliteDb::SwitchToWal() {
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(kBusyTimeoutMs);
  for (;;) {
    try {
      return Run("PRAGMA journal_mode=WAL", {});
    } catch (const DbError&) {
      if (sqlite3_errcode(db_) != SQLITE_BUSY || std::chrono::steady_clock::now() > deadline) {
        throw;
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

void SqliteDb::Close() {
  for (auto& [sql, stmt] : statements_) sqlite3_finalize(stmt);
  statements_.clear();
  if (db_ != nullptr) sqlite3_close_v2(db_);
  db_ = nullptr;
}

sqlite3_stmt* SqliteDb::Prepare(const std::string& sql) {
  auto it = statements_.find(sql);
  if (it != statements_.end()) return it->second;
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v3(db_, sql.c_str(), static_cast<int>(sql.size()), SQLITE_PREPARE_PERSISTENT,
                         &stmt, nullptr) != SQLITE_OK) {
    Fail("prepare");
  }
  if (stmt == nullptr) throw DbError("empty statement");
  statements_.emplace(sql, stmt);
  return stmt;
}

Rows SqliteDb::Run(const std::string& sql, const std::vector<Param>& params) {
  if (db_ == nullptr) throw DbError("not open");
  sqlite3_stmt* stmt = Prepare(sql);
  // Leaves the cached statement ready for its next use, however we leave.
  struct Rewind {
    sqlite3_stmt* s;
    ~Rewind() {
      sqlite3_reset(s);
      sqlite3_clear_bindings(s);
    }
  } rewind{stmt};

  // Parameters are named $1, $2, ...: bind each by its number.
  const int count = sqlite3_bind_parameter_count(stmt);
  for (int i = 1; i <= count; ++i) {
    const char* name = sqlite3_bind_parameter_name(stmt, i);
    size_t n = 0;
    if (name == nullptr || name[0] != '$' ||
        std::from_chars(name + 1, name + std::strlen(name), n).ec != std::errc() || n == 0 ||
        n > params.size()) {
      throw DbError(std::string("no value for parameter ") + (name ? name : "?"));
    }
    const Param& p = params[n - 1];
    int rc = SQLITE_OK;
    switch (p.type) {
      case Param::Type::kNull:
        rc = sqlite3_bind_null(stmt, i);
        break;
      case Param::Type::kInt:
        rc = sqlite3_bind_int64(stmt, i, p.i);
        break;
      case Param::Type::kReal:
        rc = sqlite3_bind_double(stmt, i, p.d);
        break;
      case Param::Type::kText:
        rc = sqlite3_bind_text64(stmt, i, p.s.data(), p.s.size(), SQLITE_STATIC, SQLITE_UTF8);
        break;
      case Param::Type::kBytes:
        rc = sqlite3_bind_blob64(stmt, i, p.s.data(), p.s.size(), SQLITE_STATIC);
        break;
    }
    if (rc != SQLITE_OK) Fail("bind");
  }

  Rows out;
  const int columns = sqlite3_column_count(stmt);
  for (;;) {
    const int rc = sqlite3_step(stmt);
    if (rc == SQLITE_DONE) break;
    if (rc != SQLITE_ROW) Fail(sql.substr(0, sql.find(' ')));
    std::vector<Value>& row = out.rows.emplace_back();
    row.reserve(static_cast<size_t>(columns));
    for (int c = 0; c < columns; ++c) {
      switch (sqlite3_column_type(stmt, c)) {
        case SQLITE_INTEGER:
          row.emplace_back(static_cast<int64_t>(sqlite3_column_int64(stmt, c)));
          break;
        case SQLITE_FLOAT:
          row.emplace_back(sqlite3_column_double(stmt, c));
          break;
        case SQLITE_NULL:
          row.emplace_back(std::monostate{});
          break;
        default: {  // TEXT or BLOB: bytes as stored
          const void* p = sqlite3_column_blob(stmt, c);
          const int len = sqlite3_column_bytes(stmt, c);
          row.emplace_back(std::string(static_cast<const char*>(p), static_cast<size_t>(len)));
        }
      }
    }
  }
  if (sqlite3_stmt_readonly(stmt) == 0) out.affected = sqlite3_changes64(db_);
  return out;
}

}  // namespace

// The store's thread: an io_context of its own, running jobs in order.
class SqliteStore::Worker {
 public:
  explicit Worker(std::string path)
      : db_(std::move(path)), work_(asio::make_work_guard(io_)), thread_([this] {
          pthread_setname_np(pthread_self(), "salvus-sqlite");
          io_.run();
        }) {}

  ~Worker() {
    io_.stop();  // the handler running now finishes; the rest never run
    thread_.join();
    // io_ is destroyed next, with the queued jobs, on this thread.
  }

  void Enqueue(Job job) {
    asio::post(io_, [this, job = std::move(job)]() mutable {
      std::string error;
      if (!db_.Open(&error)) {
        job.fail("sqlite: " + error);
        return;
      }
      asio::co_spawn(io_, job.run(db_), asio::detached);
    });
  }

 private:
  SqliteDb db_;  // declared first: closed after the queued jobs are gone
  asio::io_context io_{1};
  asio::executor_work_guard<asio::io_context::executor_type> work_;
  std::thread thread_;
};

SqliteStore::SqliteStore(std::string path, asio::any_io_executor ex, const Options& opt)
    : StoreImpl(std::move(ex), opt), worker_(std::make_unique<Worker>(std::move(path))) {
  StartPruning();
}

SqliteStore::~SqliteStore() { worker_.reset(); }

void SqliteStore::Enqueue(Job job) { worker_->Enqueue(std::move(job)); }

}  // namespace salvus::store::internal
