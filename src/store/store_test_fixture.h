// The Store tests' fixture: one suite, both backends. Every test runs
// against SQLite (a temp file) and a real PostgreSQL server of its own
// (tests/util/postgres_server.h). Each store_*_test.cc declares
//   TYPED_TEST_SUITE(StoreTest, Backends);
// and its TYPED_TESTs.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "store/store.h"
#include "store/store_impl.h"
#include "util/postgres_server.h"

namespace salvus::store {

// The two backends. In a named namespace: ctest shows the type in test
// names (StoreTest.Blobs<salvus::store::test::PostgresBackend>).
namespace test {

namespace fs = std::filesystem;

struct SqliteBackend {
  static constexpr bool kPostgres = false;
  static inline std::string dir;
  static inline int databases = 0;

  static void SetUpTestSuite() {
    char tmpl[] = "/tmp/salvus-store-test-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir = tmpl;
  }
  static void TearDownTestSuite() {
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
  static std::string NewDatabaseUrl() {
    return "sqlite:" + dir + "/db" + std::to_string(++databases) + ".sqlite";
  }
  static std::vector<std::string> BadUrls() { return {"sqlite:", "sqlite://", "mysql://x/y", ""}; }
  // Opens fine, fails on first use.
  static std::string UnreachableUrl() { return "sqlite:/nonexistent-salvus-dir/a/b.sqlite"; }
  static std::string UnreachableError() { return "cannot open"; }
};

struct PostgresBackend {
  static constexpr bool kPostgres = true;
  static inline testutil::PostgresServer* server = nullptr;
  static inline int databases = 0;

  static void SetUpTestSuite() {
    server = new testutil::PostgresServer;
    server->start();
  }
  static void TearDownTestSuite() {
    delete server;  // stops it
    server = nullptr;
  }
  static std::string NewDatabaseUrl() {
    return server->CreateDatabase("test" + std::to_string(++databases));
  }
  static std::vector<std::string> BadUrls() {
    return {"postgresql://localhost/db?nosuchoption=1", "postgres://[::1/db",
            "postgresql://localhost/db?connect_timeout=soon"};
  }
  static std::string UnreachableUrl() {
    // Nothing listens on port 1: the connection is refused.
    return "postgresql://postgres@127.0.0.1:1/salvus?connect_timeout=5";
  }
  static std::string UnreachableError() { return "cannot connect"; }
};

namespace asio = boost::asio;
using internal::Param;
using internal::Rows;
using namespace std::chrono_literals;

template <class Backend>
class StoreTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { Backend::SetUpTestSuite(); }
  static void TearDownTestSuite() { Backend::TearDownTestSuite(); }

  void SetUp() override {
    url_ = Backend::NewDatabaseUrl();
    store_ = Open(url_);
    ASSERT_TRUE(store_);
    auto v = Call<int>([&](auto cb) { store_->Migrate(cb); });
    ASSERT_TRUE(v) << v.error();
  }

  void TearDown() override {
    store_.reset();
    // Let the stores' last handlers run out (they must touch nothing).
    io_.restart();
    io_.run_for(100ms);
  }

  std::unique_ptr<Store> Open(const std::string& url, const Options& opt = {}) {
    auto s = OpenStore(url, io_.get_executor(), opt);
    EXPECT_TRUE(s) << s.error();
    return s ? std::move(*s) : nullptr;
  }

  internal::StoreImpl* Impl(Store* s = nullptr) { return internal::AsImpl(s ? s : store_.get()); }

  // Runs the loop until `done` (at most 60 s: a hang fails, not blocks).
  void RunUntil(const std::function<bool()>& done) {
    io_.restart();
    const auto deadline = std::chrono::steady_clock::now() + 60s;
    while (!done()) {
      ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "timed out";
      io_.run_one_for(50ms);
      io_.restart();
    }
  }

  // Starts an operation and waits for its result.
  template <class T>
  Result<T> Call(const std::function<void(Callback<T>)>& start) {
    std::optional<Result<T>> got;
    start([&](Result<T> r) { got = std::move(r); });
    RunUntil([&] { return got.has_value(); });
    return got ? std::move(*got) : Result<T>(std::unexpected("no result"));
  }

  Rows Sql(std::string sql, std::vector<Param> params = {}, Store* s = nullptr) {
    auto r = Call<Rows>([&](auto cb) { Impl(s)->Query(sql, params, cb); });
    EXPECT_TRUE(r) << sql << ": " << r.error();
    return r ? *r : Rows{};
  }

  int64_t Count(const std::string& table) { return Sql("SELECT COUNT(*) FROM " + table).Int(0, 0); }

  int64_t Register(Service s) {
    auto id = Call<int64_t>([&](auto cb) { store_->RegisterService(s, cb); });
    EXPECT_TRUE(id) << id.error();
    return id.value_or(0);
  }

  void Ok(const Result<void>& r) { EXPECT_TRUE(r) << r.error(); }

  asio::io_context io_;
  std::string url_;
  std::unique_ptr<Store> store_;
};

using Backends = ::testing::Types<SqliteBackend, PostgresBackend>;

inline Service MakeService(std::string type, std::string name, int port) {
  Service s;
  s.type = std::move(type);
  s.name = std::move(name);
  s.site = "local";
  s.address = "127.0.0.1";
  s.port = port;
  s.user = "salvus";
  s.pid = 1234;
  s.monitor_pid = 99;
  s.start_ms = 1700000000000;
  return s;
}

}  // namespace test
}  // namespace salvus::store
