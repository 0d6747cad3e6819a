#include "store/postgres_store.h"

#include <libpq-fe.h>
#include <poll.h>
#include <spdlog/spdlog.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <deque>

namespace salvus::store::internal {

namespace asio = boost::asio;
using Descriptor = asio::posix::stream_descriptor;

namespace {

// PostgreSQL type oids (catalog/pg_type_d.h).
constexpr Oid kBoolOid = 16, kByteaOid = 17, kInt8Oid = 20, kInt2Oid = 21, kInt4Oid = 23,
              kTextOid = 25, kOidOid = 26, kFloat4Oid = 700, kFloat8Oid = 701, kNumericOid = 1700;

std::string Trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

void LogNotice(void*, const char* message) {
  spdlog::debug("store: postgresql: {}", Trim(message));
}

std::string FormatDouble(double d) {
  if (std::isnan(d)) return "NaN";
  if (std::isinf(d)) return d > 0 ? "Infinity" : "-Infinity";
  char buf[32];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, d);
  return std::string(buf, end);
}

// Whether an idle connection is still usable. Reads what the server sent
// meanwhile: a terminated backend leaves a FATAL message and then EOF, and
// libpq only notices the EOF on a read after the message.
bool IdleConnectionAlive(PGconn* conn) {
  for (int i = 0; i < 16 && PQstatus(conn) == CONNECTION_OK; ++i) {
    pollfd p{PQsocket(conn), POLLIN, 0};
    if (poll(&p, 1, 0) <= 0) break;  // nothing more to read
    if (PQconsumeInput(conn) == 0) return false;
    PQisBusy(conn);  // parses it (notices, parameter changes)
  }
  return PQstatus(conn) == CONNECTION_OK;
}

Value ReadValue(const PGresult* res, int row, int col) {
  if (PQgetisnull(res, row, col)) return std::monostate{};
  const char* v = PQgetvalue(res, row, col);
  const size_t len = static_cast<size_t>(PQgetlength(res, row, col));
  switch (PQftype(res, col)) {
    case kInt8Oid:
    case kInt4Oid:
    case kInt2Oid:
    case kOidOid: {
      int64_t i = 0;
      std::from_chars(v, v + len, i);
      return i;
    }
    case kFloat4Oid:
    case kFloat8Oid:
    case kNumericOid:
      return std::strtod(v, nullptr);  // also reads NaN and Infinity
    case kBoolOid:
      return int64_t{v[0] == 't' ? 1 : 0};
    case kByteaOid: {
      size_t n = 0;
      unsigned char* bytes = PQunescapeBytea(reinterpret_cast<const unsigned char*>(v), &n);
      if (bytes == nullptr) throw DbError("cannot decode bytea");
      std::string out(reinterpret_cast<const char*>(bytes), n);
      PQfreemem(bytes);
      return out;
    }
    default:
      return std::string(v, len);
  }
}

}  // namespace

// The connection and its queue. Shared by the store and the coroutine that
// runs the queue, so the store can go away while that coroutine is
// suspended: Close() marks it closed and finishes the connection, and the
// coroutine, when it resumes, only notices and returns.
class PgConnection : public Db, public std::enable_shared_from_this<PgConnection> {
 public:
  PgConnection(std::string conninfo, std::chrono::seconds connect_timeout, asio::any_io_executor ex)
      : conninfo_(std::move(conninfo)),
        connect_timeout_(connect_timeout),
        ex_(ex),
        socket_(ex),
        timer_(ex) {}

  ~PgConnection() override { Disconnect(); }

  void Enqueue(Job job) {
    queue_.push_back(std::move(job));
    Start();
  }

  // Runs the queue (connecting first if need be) unless it runs already.
  void Start() {
    if (running_ || closed_) return;
    running_ = true;
    asio::co_spawn(ex_, RunQueue(shared_from_this()), asio::detached);
  }

  void Close() noexcept {
    closed_ = true;
    queue_.clear();
    Disconnect();
  }

  const char* backend() const override { return "postgresql"; }
  asio::awaitable<Rows> Query(std::string sql, std::vector<Param> params) override;
  asio::awaitable<void> Begin() override { co_await Query("BEGIN", {}); }
  asio::awaitable<void> Reset() override;

 private:
  static asio::awaitable<void> RunQueue(std::shared_ptr<PgConnection> self);
  // "" once connected, or why not.
  asio::awaitable<std::string> Connect();
  // Waits until the socket is ready. Throws DbError if the store was closed
  // meanwhile (the connection is gone then: touch nothing).
  asio::awaitable<void> Wait(Descriptor::wait_type what);
  // Forgets the connection: the descriptor lets go of libpq's socket before
  // PQfinish closes it.
  void Disconnect() noexcept;
  // The connection broke during a query: forget it and fail the operation.
  [[noreturn]] void Broken(const std::string& why);
  std::string Target() const;

  const std::string conninfo_;
  const std::chrono::seconds connect_timeout_;
  asio::any_io_executor ex_;
  PGconn* conn_ = nullptr;
  Descriptor socket_;
  asio::steady_timer timer_;  // connect timeout
  bool timed_out_ = false;
  std::deque<Job> queue_;
  bool running_ = false;
  bool closed_ = false;
};

// Runs in destructors: what asio may throw here is logged, not thrown.
void PgConnection::Disconnect() noexcept {
  try {
    timer_.cancel();
    if (socket_.is_open()) socket_.release();  // never close libpq's fd ourselves
  } catch (const std::exception& e) {
    spdlog::warn("store: closing the PostgreSQL connection: {}", e.what());
  }
  if (conn_ != nullptr) PQfinish(conn_);
  conn_ = nullptr;
}

std::string PgConnection::Target() const {
  if (conn_ == nullptr) return "postgresql";
  std::string host = PQhost(conn_) ? PQhost(conn_) : "";
  std::string port = PQport(conn_) ? PQport(conn_) : "";
  std::string db = PQdb(conn_) ? PQdb(conn_) : "";
  return "postgresql server " + host + ":" + port + "/" + db;
}

void PgConnection::Broken(const std::string& why) {
  std::string reason = Trim(why.empty() && conn_ ? PQerrorMessage(conn_) : why);
  Disconnect();
  throw DbError("connection lost: " + reason + " (the next operation reconnects)");
}

asio::awaitable<void> PgConnection::Wait(Descriptor::wait_type what) {
  boost::system::error_code ec;
  co_await socket_.async_wait(what, asio::redirect_error(asio::use_awaitable, ec));
  if (closed_) throw DbError("store closed");
  if (ec) Broken(ec.message());
}

asio::awaitable<void> PgConnection::RunQueue(std::shared_ptr<PgConnection> self) {
  try {
    while (!self->closed_) {
      // A connection that died while idle (server restart, terminated
      // backend) shows as EOF here: reconnect instead of failing the next job.
      if (self->conn_ != nullptr && !IdleConnectionAlive(self->conn_)) {
        spdlog::warn("store: postgresql: connection lost while idle: {}",
                     Trim(PQerrorMessage(self->conn_)));
        self->Disconnect();
      }
      if (self->conn_ == nullptr) {
        const std::string error = co_await self->Connect();
        if (self->closed_) break;
        if (!error.empty()) {
          spdlog::warn("store: {}", error);
          std::deque<Job> failed = std::move(self->queue_);
          self->queue_.clear();
          for (Job& job : failed) job.fail(error);
          break;
        }
      }
      if (self->queue_.empty()) break;
      Job job = std::move(self->queue_.front());
      self->queue_.pop_front();
      co_await job.run(*self);
    }
  } catch (const std::exception& e) {
    spdlog::error("store: postgresql: {}", e.what());
  }
  self->running_ = false;
}

asio::awaitable<std::string> PgConnection::Connect() {
  // client_encoding first: the caller's URL may override it, and our text is UTF-8.
  const char* keys[] = {"client_encoding", "fallback_application_name", "dbname", nullptr};
  const char* values[] = {"UTF8", "salvus", conninfo_.c_str(), nullptr};
  conn_ = PQconnectStartParams(keys, values, /*expand_dbname=*/1);
  if (conn_ == nullptr) co_return "postgresql: cannot connect: out of memory";
  std::string error;
  if (PQstatus(conn_) == CONNECTION_BAD) {
    error = PQerrorMessage(conn_);
  } else {
    PQsetNoticeProcessor(conn_, LogNotice, nullptr);
    timed_out_ = false;
    timer_.expires_after(connect_timeout_);
    timer_.async_wait([weak = weak_from_this()](const boost::system::error_code& ec) {
      auto self = weak.lock();
      if (ec || !self) return;
      self->timed_out_ = true;
      boost::system::error_code ignored;
      self->socket_.cancel(ignored);
    });
    // As the libpq manual says: start as if PQconnectPoll said WRITING.
    PostgresPollingStatusType poll = PGRES_POLLING_WRITING;
    while (poll != PGRES_POLLING_OK) {
      if (poll == PGRES_POLLING_FAILED) {
        error = PQerrorMessage(conn_);
        break;
      }
      // libpq may have moved to another socket (the next address), possibly
      // with the same fd number: watch whatever it uses now.
      boost::system::error_code ec;
      if (socket_.is_open()) socket_.release();
      const int fd = PQsocket(conn_);
      if (fd < 0) {
        error = "no socket";
        break;
      }
      socket_.assign(fd, ec);
      if (!ec) {
        co_await socket_.async_wait(
            poll == PGRES_POLLING_READING ? Descriptor::wait_read : Descriptor::wait_write,
            asio::redirect_error(asio::use_awaitable, ec));
      }
      if (closed_) co_return "postgresql: store closed";
      if (timed_out_) {
        error = "timed out after " + std::to_string(connect_timeout_.count()) + " s";
        break;
      }
      if (ec) {
        error = ec.message();
        break;
      }
      poll = PQconnectPoll(conn_);
    }
    timer_.cancel();
  }
  if (error.empty() && PQsetnonblocking(conn_, 1) != 0) error = PQerrorMessage(conn_);
  if (!error.empty()) {
    const std::string target = Target();
    Disconnect();
    co_return "cannot connect to " + target + ": " + Trim(error);
  }
  // Watch the socket libpq settled on.
  if (socket_.is_open()) socket_.release();
  boost::system::error_code ec;
  socket_.assign(PQsocket(conn_), ec);
  if (ec) {
    Disconnect();
    co_return "postgresql: cannot watch the connection's socket: " + ec.message();
  }
  spdlog::debug("store: connected to {}", Target());
  co_return "";
}

asio::awaitable<Rows> PgConnection::Query(std::string sql, std::vector<Param> params) {
  if (closed_) throw DbError("store closed");
  if (conn_ == nullptr) throw DbError("not connected");
  const size_t n = params.size();
  std::vector<Oid> types(n, 0);
  std::vector<std::string> texts(n);
  std::vector<const char*> values(n, nullptr);
  std::vector<int> lengths(n, 0), formats(n, 0);
  for (size_t i = 0; i < n; ++i) {
    const Param& p = params[i];
    switch (p.type) {
      case Param::Type::kNull:
        break;
      case Param::Type::kInt:
        types[i] = kInt8Oid;
        texts[i] = std::to_string(p.i);
        values[i] = texts[i].c_str();
        break;
      case Param::Type::kReal:
        types[i] = kFloat8Oid;
        texts[i] = FormatDouble(p.d);
        values[i] = texts[i].c_str();
        break;
      case Param::Type::kText:
        types[i] = kTextOid;
        values[i] = p.s.c_str();
        break;
      case Param::Type::kBytes:  // binary: bytes go as they are
        types[i] = kByteaOid;
        values[i] = p.s.data();
        lengths[i] = static_cast<int>(p.s.size());
        formats[i] = 1;
        break;
    }
  }
  if (PQsendQueryParams(conn_, sql.c_str(), static_cast<int>(n), types.data(), values.data(),
                        lengths.data(), formats.data(), /*resultFormat=*/0) == 0) {
    if (PQstatus(conn_) == CONNECTION_BAD) Broken("");
    throw DbError(Trim(PQerrorMessage(conn_)));
  }
  // Non-blocking mode: send what the socket takes, wait, repeat. (libpq
  // also reads while the send would block, so a chatty server cannot
  // deadlock us.)
  for (;;) {
    const int f = PQflush(conn_);
    if (f == 0) break;
    if (f < 0) Broken("");
    co_await Wait(Descriptor::wait_write);
  }
  Rows out;
  std::string error;
  bool fatal = false;
  for (;;) {
    while (PQisBusy(conn_)) {
      co_await Wait(Descriptor::wait_read);
      if (PQconsumeInput(conn_) == 0) Broken(error);
    }
    PGresult* res = PQgetResult(conn_);
    if (res == nullptr) break;
    switch (PQresultStatus(res)) {
      case PGRES_TUPLES_OK: {
        const int rows = PQntuples(res), cols = PQnfields(res);
        out.rows.reserve(static_cast<size_t>(rows));
        for (int r = 0; r < rows; ++r) {
          std::vector<Value>& row = out.rows.emplace_back();
          row.reserve(static_cast<size_t>(cols));
          for (int c = 0; c < cols; ++c) row.push_back(ReadValue(res, r, c));
        }
        [[fallthrough]];
      }
      case PGRES_COMMAND_OK:
        out.affected = std::atoll(PQcmdTuples(res));
        break;
      default: {
        if (error.empty()) error = Trim(PQresultErrorMessage(res));
        // FATAL: the server ends this connection (e.g. a terminated backend).
        const char* severity = PQresultErrorField(res, PG_DIAG_SEVERITY_NONLOCALIZED);
        if (severity != nullptr &&
            (std::string_view(severity) == "FATAL" || std::string_view(severity) == "PANIC")) {
          fatal = true;
        }
      }
    }
    PQclear(res);
  }
  if (fatal || PQstatus(conn_) == CONNECTION_BAD) Broken(error);
  if (!error.empty()) throw DbError(error);
  co_return out;
}

asio::awaitable<void> PgConnection::Reset() {
  if (closed_ || conn_ == nullptr) co_return;
  const PGTransactionStatusType status = PQtransactionStatus(conn_);
  if (status == PQTRANS_IDLE) co_return;
  if (status == PQTRANS_UNKNOWN) {
    Disconnect();
    co_return;
  }
  try {
    co_await Query("ROLLBACK", {});
  } catch (const DbError& e) {
    spdlog::warn("store: postgresql: rollback failed: {}", e.what());
  }
}

PostgresStore::PostgresStore(std::string conninfo, std::chrono::seconds connect_timeout,
                             asio::any_io_executor ex, const Options& opt)
    : StoreImpl(ex, opt),
      conn_(std::make_shared<PgConnection>(std::move(conninfo), connect_timeout, ex)) {
  conn_->Start();
  StartPruning();
}

PostgresStore::~PostgresStore() { conn_->Close(); }

void PostgresStore::Enqueue(Job job) { conn_->Enqueue(std::move(job)); }

}  // namespace salvus::store::internal
