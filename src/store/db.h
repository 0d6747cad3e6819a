// The seam between the Store's operations and its two backends: one database
// connection that runs one SQL statement at a time, as a coroutine.
//
// SQL is written once for both backends: parameters are $1, $2, ... (libpq's
// form; the SQLite backend binds them by name), and only portable syntax is
// used (INSERT ... ON CONFLICT, RETURNING, LIMIT/OFFSET). Where the two
// differ in types, migrations.cc says so.
//
// Errors are thrown as DbError inside an operation and become a Result at its
// root (store_impl.cc); nothing thrown here leaves the component.
// Not thread-safe: a Db is used by one operation at a time, on one thread.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <utility>
#include <variant>
#include <vector>

namespace salvus::store::internal {

class DbError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A statement parameter. Build one with the helpers below.
struct Param {
  enum class Type { kNull, kInt, kReal, kText, kBytes };
  Type type = Type::kNull;
  int64_t i = 0;
  double d = 0;
  std::string s;  // kText: valid UTF-8 without NUL; kBytes: anything
};

Param Null();
Param Int(int64_t v);
Param Real(double v);
// Text is made safe for both backends: invalid UTF-8 and NUL bytes become
// U+FFFD (PostgreSQL's text type rejects both).
Param Text(std::string_view v);
Param Bytes(std::string v);  // BLOB / bytea, stored byte for byte

// The parameter list of a statement. (A function rather than a braced list:
// GCC 12 cannot keep an initializer_list alive across a co_await.)
template <class... P>
std::vector<Param> Params(P&&... p) {
  std::vector<Param> v;
  v.reserve(sizeof...(p));
  (v.push_back(std::forward<P>(p)), ...);
  return v;
}

// A column value as read back: NULL, integer, real, or text/bytes.
using Value = std::variant<std::monostate, int64_t, double, std::string>;

struct Rows {
  std::vector<std::vector<Value>> rows;
  int64_t affected = 0;  // rows changed by INSERT/UPDATE/DELETE

  bool empty() const { return rows.empty(); }
  size_t size() const { return rows.size(); }
  bool IsNull(size_t row, size_t col) const;
  // Converting getters: NULL reads as 0 / "", numbers as numbers or text.
  int64_t Int(size_t row, size_t col) const;
  double Real(size_t row, size_t col) const;
  std::string Text(size_t row, size_t col) const;
};

class Db {
 public:
  virtual ~Db() = default;

  virtual const char* backend() const = 0;  // "sqlite" or "postgresql"

  // Runs one statement. Throws DbError.
  virtual boost::asio::awaitable<Rows> Query(std::string sql, std::vector<Param> params) = 0;

  // Opens a write transaction: BEGIN IMMEDIATE on SQLite (it takes the write
  // lock now, so two writers queue on the busy timeout instead of failing on
  // upgrade), BEGIN on PostgreSQL.
  virtual boost::asio::awaitable<void> Begin() = 0;

  // Rolls back a transaction an operation left open (it failed half way).
  // Called after every operation; never throws.
  virtual boost::asio::awaitable<void> Reset() = 0;

  boost::asio::awaitable<void> Commit();
};

}  // namespace salvus::store::internal
