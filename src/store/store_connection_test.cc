// The Store on both backends: its schema, bad URLs, an unreachable or broken
// database, slow queries, destruction with operations in flight.
#include <gtest/gtest.h>
#include <signal.h>
#include <sqlite3.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cerrno>
#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "store/db.h"
#include "store/migrations.h"
#include "store/store.h"
#include "store/store_impl.h"
#include "store/store_test_fixture.h"

namespace salvus::store {
namespace {

namespace asio = boost::asio;
namespace fs = std::filesystem;
using internal::Param;
using internal::Rows;
using test::MakeService;
using test::StoreTest;
using namespace std::chrono_literals;

TYPED_TEST_SUITE(StoreTest, test::Backends);

// --- tests ---

TYPED_TEST(StoreTest, MigrateTwiceAndConcurrently) {
  EXPECT_EQ(this->store_->backend(), TypeParam::kPostgres ? "postgresql" : "sqlite");
  // Again, on the same store: a no-op.
  auto again = this->template Call<int>([&](auto cb) { this->store_->Migrate(cb); });
  ASSERT_TRUE(again) << again.error();
  EXPECT_EQ(*again, internal::LatestSchemaVersion());

  // A fresh database migrated by three connections at once (as three
  // processes would): all succeed, the steps run once.
  const std::string url = TypeParam::NewDatabaseUrl();
  std::vector<std::unique_ptr<Store>> stores;
  for (int i = 0; i < 3; ++i) stores.push_back(this->Open(url));
  std::vector<std::optional<Result<int>>> got(stores.size());
  for (size_t i = 0; i < stores.size(); ++i) {
    stores[i]->Migrate([&got, i](Result<int> r) { got[i] = std::move(r); });
  }
  this->RunUntil(
      [&] { return std::all_of(got.begin(), got.end(), [](auto& g) { return g.has_value(); }); });
  for (auto& g : got) {
    ASSERT_TRUE(*g) << g->error();
    EXPECT_EQ(**g, internal::LatestSchemaVersion());
  }
  Rows versions =
      this->Sql("SELECT version FROM schema_version ORDER BY version", {}, stores[0].get());
  ASSERT_EQ(versions.size(), internal::MigrationSteps().size());
  for (size_t i = 0; i < versions.size(); ++i) {
    EXPECT_EQ(versions.Int(i, 0), internal::MigrationSteps()[i].version);
  }
  for (const char* table :
       {"services", "status", "log", "permalinks", "blobs", "hubs", "browsers", "sessions"}) {
    EXPECT_EQ(this->Count(table), 0) << table;
  }
}

TYPED_TEST(StoreTest, BadUrlsAndUnreachableDatabase) {
  for (const std::string& url : TypeParam::BadUrls()) {
    auto s = OpenStore(url, this->io_.get_executor());
    ASSERT_FALSE(s) << url;
    EXPECT_FALSE(s.error().empty());
  }
  auto s = OpenStore("mysql://user:secret@host/db", this->io_.get_executor());
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().find("unsupported"), std::string::npos) << s.error();
  EXPECT_EQ(s.error().find("secret"), std::string::npos) << s.error();

  // Opens, then every operation says why it cannot work; nothing crashes.
  auto store = this->Open(TypeParam::UnreachableUrl());
  ASSERT_TRUE(store);
  for (int i = 0; i < 2; ++i) {
    auto v = this->template Call<int>([&](auto cb) { store->Migrate(cb); });
    ASSERT_FALSE(v);
    EXPECT_NE(v.error().find(TypeParam::UnreachableError()), std::string::npos) << v.error();
    auto p = this->template Call<std::string>(
        [&](auto cb) { store->CreatePermalink("1", "sage", "", cb); });
    ASSERT_FALSE(p);
    EXPECT_NE(p.error().find(TypeParam::UnreachableError()), std::string::npos) << p.error();
  }
  // A bad statement is an error value too, and the store goes on working.
  auto bad =
      this->template Call<Rows>([&](auto cb) { this->Impl()->Query("SELEKT nonsense", {}, cb); });
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().find("syntax error"), std::string::npos) << bad.error();
  EXPECT_EQ(this->Count("hubs"), 0);
}

TYPED_TEST(StoreTest, DestroyedWithOperationsInFlight) {
  // Callbacks of operations pending at destruction never run.
  int callbacks = 0;
  {
    auto s = this->Open(this->url_);
    for (int i = 0; i < 50; ++i) {
      s->CreatePermalink("code " + std::to_string(i), "sage", "", [&](auto) { ++callbacks; });
      s->RegisterService(MakeService("hub", "h", i), [&](auto) { ++callbacks; });
    }
    // A statement in progress, too.
    if constexpr (TypeParam::kPostgres) {
      internal::AsImpl(s.get())->Query("SELECT pg_sleep(0.2)", {}, [&](auto) { ++callbacks; });
    } else {
      internal::AsImpl(s.get())->Query(
          "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 200000) "
          "SELECT COUNT(*) FROM n",
          {}, [&](auto) { ++callbacks; });
    }
    this->io_.restart();
    this->io_.run_for(20ms);
    callbacks = 0;  // some may have completed already: only later ones count
  }
  this->io_.restart();
  this->io_.run_for(300ms);
  EXPECT_EQ(callbacks, 0);

  // Destroying the store from one of its own callbacks.
  bool second_ran = false;
  this->store_->RegisterHub("h", "a", 1, [&](Result<void>) { this->store_.reset(); });
  this->store_->RegisterHub("h", "a", 2, [&](Result<void>) { second_ran = true; });
  this->RunUntil([&] { return this->store_ == nullptr; });
  this->io_.restart();
  this->io_.run_for(100ms);
  EXPECT_FALSE(second_ran);
}

// The caller's loop stays free while a statement waits: a timer on the same
// io_context releases the lock the statement waits for. If the statement
// ran on (and blocked) the loop, the timer could not fire and the statement
// would fail (SQLite: busy timeout) or hang (PostgreSQL).
TYPED_TEST(StoreTest, SlowQueryDoesNotBlockTheLoop) {
  asio::steady_timer timer(this->io_);
  std::optional<Result<void>> blocked;
  bool released_while_blocked = false;
  int ticks = 0;
  std::function<void()> tick;

  if constexpr (TypeParam::kPostgres) {
    auto other = this->Open(this->url_);
    this->Sql("SELECT pg_advisory_lock(4242)", {}, other.get());
    this->Impl()->Query("SELECT pg_advisory_lock(4242)", {}, [&](Result<Rows> r) {
      if (r) {
        blocked.emplace();
      } else {
        blocked.emplace(std::unexpected(r.error()));
      }
    });
    // Poll (through the other connection) until the statement is waiting.
    tick = [&] {
      ++ticks;
      internal::AsImpl(other.get())
          ->Query("SELECT COUNT(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted", {},
                  [&](Result<Rows> r) {
                    ASSERT_TRUE(r) << r.error();
                    if (r->Int(0, 0) == 0) {
                      timer.expires_after(5ms);
                      timer.async_wait([&](auto ec) {
                        if (!ec) tick();
                      });
                      return;
                    }
                    released_while_blocked = !blocked.has_value();
                    internal::AsImpl(other.get())
                        ->Query("SELECT pg_advisory_unlock(4242)", {}, [](auto) {});
                  });
    };
    timer.expires_after(5ms);
    timer.async_wait([&](auto ec) {
      if (!ec) tick();
    });
    this->RunUntil([&] { return blocked.has_value(); });
    ASSERT_TRUE(*blocked) << blocked->error();
    EXPECT_TRUE(released_while_blocked);
    EXPECT_GE(ticks, 1);

    // And a plain slow statement: the timer keeps ticking meanwhile.
    std::optional<Result<Rows>> slept;
    int ticks_during_sleep = 0;
    std::function<void()> count = [&] {
      if (slept) return;
      ++ticks_during_sleep;
      timer.expires_after(10ms);
      timer.async_wait([&](auto ec) {
        if (!ec) count();
      });
    };
    this->Impl()->Query("SELECT pg_sleep(0.5)", {}, [&](Result<Rows> r) { slept = std::move(r); });
    count();
    this->RunUntil([&] { return slept.has_value(); });
    timer.cancel();
    ASSERT_TRUE(*slept) << slept->error();
    EXPECT_GE(ticks_during_sleep, 3);
  } else {
    // Another connection holds the write lock.
    sqlite3* raw = nullptr;
    ASSERT_EQ(sqlite3_open(this->url_.substr(7).c_str(), &raw), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(raw, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr), SQLITE_OK);
    this->store_->RegisterHub("hub0", "a", 1, [&](Result<void> r) { blocked = std::move(r); });
    timer.expires_after(100ms);
    timer.async_wait([&](auto ec) {
      if (ec) return;
      ++ticks;
      released_while_blocked = !blocked.has_value();
      sqlite3_exec(raw, "COMMIT", nullptr, nullptr, nullptr);
    });
    this->RunUntil([&] { return blocked.has_value(); });
    sqlite3_close(raw);
    ASSERT_TRUE(*blocked) << blocked->error();
    EXPECT_TRUE(released_while_blocked);
    EXPECT_EQ(ticks, 1);
    EXPECT_EQ(this->Count("hubs"), 1);
  }
}

TYPED_TEST(StoreTest, ReconnectsAfterTheConnectionBreaks) {
  if constexpr (!TypeParam::kPostgres) {
    GTEST_SKIP() << "PostgreSQL only (SQLite has no connection to lose)";
  } else {
    // The server ends this connection: the statement in flight fails...
    this->Sql("SELECT 1");  // connected
    auto r = this->template Call<Rows>([&](auto cb) {
      this->Impl()->Query("SELECT pg_terminate_backend(pg_backend_pid())", {}, cb);
    });
    ASSERT_FALSE(r);
    EXPECT_NE(r.error().find("connection lost"), std::string::npos) << r.error();
    // ...and the next operations reconnect.
    this->Ok(
        this->template Call<void>([&](auto cb) { this->store_->RegisterHub("h", "a", 1, cb); }));
    EXPECT_EQ(this->Count("hubs"), 1);

    // Killed while idle (from another connection): noticed before the next
    // operation, which just works.
    const int64_t pid = this->Sql("SELECT pg_backend_pid()").Int(0, 0);
    auto other = this->Open(this->url_);
    this->Sql("SELECT pg_terminate_backend($1::int)", {internal::Int(pid)}, other.get());
    // Until the backend process is gone (its socket closed); the server is
    // on this machine.
    this->RunUntil([&] { return kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH; });
    this->Ok(
        this->template Call<void>([&](auto cb) { this->store_->RegisterHub("h2", "a", 1, cb); }));
    EXPECT_EQ(this->Count("hubs"), 2);
  }
}

}  // namespace
}  // namespace salvus::store
