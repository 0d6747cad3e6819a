// One suite, both backends: every test runs against SQLite (a temp file) and
// a real PostgreSQL server of its own (tests/util/postgres_server.h).
#include "core/sha1.h"
#include "store/store.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sqlite3.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "store/db.h"
#include "store/migrations.h"
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
  static inline testing::PostgresServer* server = nullptr;
  static inline int databases = 0;

  static void SetUpTestSuite() {
    server = new testing::PostgresServer;
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

}  // namespace test

namespace {

namespace asio = boost::asio;
namespace fs = std::filesystem;
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

using Backends = ::testing::Types<test::SqliteBackend, test::PostgresBackend>;
TYPED_TEST_SUITE(StoreTest, Backends);

Service MakeService(std::string type, std::string name, int port) {
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

TYPED_TEST(StoreTest, Permalinks) {
  auto& s = this->store_;
  auto create = [&](std::string code, std::string lang, std::string state) {
    return this->template Call<std::string>(
        [&](auto cb) { s->CreatePermalink(code, lang, state, cb); });
  };
  auto get = [&](std::string id) {
    return this->template Call<std::optional<Permalink>>([&](auto cb) { s->GetPermalink(id, cb); });
  };

  const std::string code = "x = var('x')\nplot(sin(x) * \u03c0)";  // non-ASCII too
  auto id = create(code, "sage", R"({"n": 3})");
  ASSERT_TRUE(id) << id.error();
  EXPECT_EQ(id->size(), 10u);
  EXPECT_TRUE(std::all_of(id->begin(), id->end(), [](char c) { return std::isalnum(c); })) << *id;

  auto p = get(*id);
  ASSERT_TRUE(p) << p.error();
  ASSERT_TRUE(p->has_value());
  EXPECT_EQ((*p)->id, *id);
  EXPECT_EQ((*p)->code, code);
  EXPECT_EQ((*p)->language, "sage");
  EXPECT_EQ((*p)->interact_state, R"({"n": 3})");
  EXPECT_GT((*p)->created_ms, 1600000000000);

  // Same content: same id. Any difference: a new one.
  auto same = create(code, "sage", R"({"n": 3})");
  ASSERT_TRUE(same) << same.error();
  EXPECT_EQ(*same, *id);
  std::set<std::string> ids = {*id};
  for (auto [c, l, st] : {std::tuple{code, "python", R"({"n": 3})"}, std::tuple{code, "sage", ""},
                          std::tuple{code + " ", "sage", ""}}) {
    auto other = create(c, l, st);
    ASSERT_TRUE(other) << other.error();
    EXPECT_TRUE(ids.insert(*other).second) << "reused " << *other;
  }
  EXPECT_EQ(this->Count("permalinks"), 4);

  // Missing ids: nothing, not an error.
  for (std::string missing : {"nosuchid00", "", "'; DROP TABLE permalinks; --"}) {
    auto none = get(missing);
    ASSERT_TRUE(none) << none.error();
    EXPECT_FALSE(none->has_value()) << missing;
  }

  // Collisions are retried with a new id.
  int calls = 0;
  this->Impl()->SetIdGenerator([&calls, taken = *id] {
    ++calls;
    return calls <= 2 ? taken : "fresh00001";
  });
  auto retried = create("1 + 1", "sage", "");
  ASSERT_TRUE(retried) << retried.error();
  EXPECT_EQ(*retried, "fresh00001");
  EXPECT_EQ(calls, 3);
  auto p2 = get("fresh00001");
  ASSERT_TRUE(p2 && p2->has_value());
  EXPECT_EQ((*p2)->code, "1 + 1");
  // The first permalink is untouched.
  EXPECT_EQ((*get(*id))->code, code);

  // A generator that only collides: a clear error, nothing stored.
  this->Impl()->SetIdGenerator([taken = *id] { return taken; });
  auto stuck = create("2 + 2", "sage", "");
  ASSERT_FALSE(stuck);
  EXPECT_NE(stuck.error().find("no free permalink id"), std::string::npos) << stuck.error();
  EXPECT_EQ(this->Count("permalinks"), 5);
}

TYPED_TEST(StoreTest, Blobs) {
  auto& s = this->store_;
  std::string data;
  for (int i = 0; i < 3 * 256; ++i) data += static_cast<char>(i % 256);  // NULs, 0xff, ...
  Blob blob{"", "image/png", data};
  blob.sha1 = core::Sha1Hex(data);
  this->Ok(this->template Call<void>([&](auto cb) { s->PutBlob(blob, cb); }));
  this->Ok(this->template Call<void>([&](auto cb) { s->PutBlob(blob, cb); }));  // no-op
  EXPECT_EQ(this->Count("blobs"), 1);

  auto got = this->template Call<std::optional<Blob>>([&](auto cb) { s->GetBlob(blob.sha1, cb); });
  ASSERT_TRUE(got) << got.error();
  ASSERT_TRUE(got->has_value());
  EXPECT_EQ((*got)->sha1, blob.sha1);
  EXPECT_EQ((*got)->mime, "image/png");
  EXPECT_EQ((*got)->data.size(), data.size());
  EXPECT_EQ((*got)->data, data);

  Blob empty{core::Sha1Hex(""), "text/plain", ""};
  this->Ok(this->template Call<void>([&](auto cb) { s->PutBlob(empty, cb); }));
  got = this->template Call<std::optional<Blob>>([&](auto cb) { s->GetBlob(empty.sha1, cb); });
  ASSERT_TRUE(got && got->has_value());
  EXPECT_EQ((*got)->data, "");

  auto missing = this->template Call<std::optional<Blob>>(
      [&](auto cb) { s->GetBlob(std::string(40, '0'), cb); });
  ASSERT_TRUE(missing) << missing.error();
  EXPECT_FALSE(missing->has_value());

  // A sha1 that is not the data's: refused, clearly.
  Blob wrong{std::string(40, 'a'), "text/plain", "hello"};
  auto bad = this->template Call<void>([&](auto cb) { s->PutBlob(wrong, cb); });
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().find("not the SHA-1"), std::string::npos) << bad.error();
  EXPECT_EQ(this->Count("blobs"), 2);
}

TYPED_TEST(StoreTest, ServicesAndStatus) {
  auto& s = this->store_;
  Service hub = MakeService("hub", "hub0", 5000);
  const int64_t hub_id = this->Register(hub);
  ASSERT_GT(hub_id, 0);
  hub.pid = 4321;
  EXPECT_EQ(this->Register(hub), hub_id);  // same identity, same id
  const int64_t compute_id = this->Register(MakeService("compute", "c0", 6000));
  const int64_t compute2_id = this->Register(MakeService("compute", "c0", 6001));
  EXPECT_NE(compute_id, hub_id);
  EXPECT_NE(compute2_id, compute_id);

  for (int i = 0; i < 3; ++i) {
    Status st;
    st.service_id = compute_id;
    st.time_ms = 1000 + i;
    st.load1 = 0.5 + i;
    st.load5 = 0.25;
    st.load15 = 0.125;
    st.pcpu = 12.5 * i;
    st.pmem = 3.75;
    st.cputime_s = 1.5;
    st.walltime_s = 100;
    st.vsize_kb = 1ull << 40;
    st.rss_kb = 2048;
    st.extra = R"({"sessions":)" + std::to_string(i) + R"(,"max":100})";
    this->Ok(this->template Call<void>([&](auto cb) { s->AddStatus(st, cb); }));
  }

  auto running = [&](std::string type) {
    auto r = this->template Call<std::vector<ServiceStatus>>(
        [&](auto cb) { s->RunningServices(type, cb); });
    EXPECT_TRUE(r) << r.error();
    return r.value_or(std::vector<ServiceStatus>{});
  };
  auto all = running("");
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all[0].service.id, hub_id);
  EXPECT_EQ(all[0].service.pid, 4321);
  EXPECT_EQ(all[0].service.type, "hub");
  EXPECT_EQ(all[0].service.name, "hub0");
  EXPECT_EQ(all[0].service.site, "local");
  EXPECT_EQ(all[0].service.address, "127.0.0.1");
  EXPECT_EQ(all[0].service.port, 5000);
  EXPECT_EQ(all[0].service.user, "salvus");
  EXPECT_EQ(all[0].service.monitor_pid, 99);
  EXPECT_EQ(all[0].service.start_ms, 1700000000000);
  EXPECT_TRUE(all[0].service.running);
  EXPECT_FALSE(all[0].latest.has_value());

  auto computes = running("compute");
  ASSERT_EQ(computes.size(), 2u);
  EXPECT_EQ(computes[0].service.id, compute_id);
  ASSERT_TRUE(computes[0].latest.has_value());
  const Status& latest = *computes[0].latest;  // the newest of the three
  EXPECT_EQ(latest.service_id, compute_id);
  EXPECT_EQ(latest.time_ms, 1002);
  EXPECT_DOUBLE_EQ(latest.load1, 2.5);
  EXPECT_DOUBLE_EQ(latest.load5, 0.25);
  EXPECT_DOUBLE_EQ(latest.load15, 0.125);
  EXPECT_DOUBLE_EQ(latest.pcpu, 25);
  EXPECT_DOUBLE_EQ(latest.pmem, 3.75);
  EXPECT_DOUBLE_EQ(latest.cputime_s, 1.5);
  EXPECT_DOUBLE_EQ(latest.walltime_s, 100);
  EXPECT_EQ(latest.vsize_kb, 1ull << 40);
  EXPECT_EQ(latest.rss_kb, 2048u);
  EXPECT_EQ(latest.extra, R"({"sessions":2,"max":100})");
  EXPECT_FALSE(computes[1].latest.has_value());
  EXPECT_TRUE(running("memcached").empty());

  // Stopped: gone from RunningServices; registered again: back, same id.
  this->Ok(
      this->template Call<void>([&](auto cb) { s->MarkServiceStopped(compute_id, 5000, cb); }));
  computes = running("compute");
  ASSERT_EQ(computes.size(), 1u);
  EXPECT_EQ(computes[0].service.id, compute2_id);
  Rows stopped =
      this->Sql("SELECT running, stop_ms FROM services WHERE id = $1", {internal::Int(compute_id)});
  ASSERT_EQ(stopped.size(), 1u);
  EXPECT_EQ(stopped.Int(0, 0), 0);
  EXPECT_EQ(stopped.Int(0, 1), 5000);
  EXPECT_EQ(this->Register(MakeService("compute", "c0", 6000)), compute_id);
  EXPECT_EQ(running("compute").size(), 2u);

  auto unknown = this->template Call<void>([&](auto cb) { s->MarkServiceStopped(987654, 1, cb); });
  ASSERT_FALSE(unknown);
  EXPECT_NE(unknown.error().find("no service with id 987654"), std::string::npos)
      << unknown.error();
}

TYPED_TEST(StoreTest, LogLinesAndCursor) {
  auto& s = this->store_;
  const int64_t id = this->Register(MakeService("hub", "hub0", 5000));
  auto cursor = [&](int64_t service) {
    return this->template Call<LogCursor>([&](auto cb) { s->GetLogCursor(service, cb); });
  };
  auto recent = [&](size_t limit) {
    auto r =
        this->template Call<std::vector<LogLine>>([&](auto cb) { s->RecentLog(id, limit, cb); });
    EXPECT_TRUE(r) << r.error();
    return r.value_or(std::vector<LogLine>{});
  };
  auto c0 = cursor(id);
  ASSERT_TRUE(c0) << c0.error();
  EXPECT_EQ(c0->inode, 0u);
  EXPECT_EQ(c0->offset, 0u);

  // Invalid UTF-8 and NUL bytes: stored, as U+FFFD.
  std::vector<LogLine> lines = {
      {id, 10, "plain"},
      {id, 11, "bad \xff\xfe bytes"},
      {id, 12, std::string("nul \0 byte", 10)},
      {id, 13, "truncated \xe2\x82"},
      {id, 14, "ok \xe2\x82\xac"},
  };
  const LogCursor moved{(1ull << 63) + 5, 12345};  // inodes use all 64 bits
  this->Ok(this->template Call<void>([&](auto cb) { s->AddLogLines(id, lines, moved, cb); }));
  auto got = recent(100);
  ASSERT_EQ(got.size(), 5u);
  EXPECT_EQ(got[0].text, "plain");
  EXPECT_EQ(got[0].time_ms, 10);
  EXPECT_EQ(got[0].service_id, id);
  EXPECT_EQ(got[1].text, "bad \xEF\xBF\xBD\xEF\xBF\xBD bytes");
  EXPECT_EQ(got[2].text, "nul \xEF\xBF\xBD byte");
  EXPECT_EQ(got[3].text, "truncated \xEF\xBF\xBD");
  EXPECT_EQ(got[4].text, "ok \xe2\x82\xac");
  auto c1 = cursor(id);
  ASSERT_TRUE(c1) << c1.error();
  EXPECT_EQ(c1->inode, moved.inode);
  EXPECT_EQ(c1->offset, moved.offset);

  // Many lines (several INSERTs) in one call; newest `limit`, oldest first.
  std::vector<LogLine> many;
  for (int i = 0; i < 250; ++i) many.push_back({id, 100 + i, "line " + std::to_string(i)});
  this->Ok(this->template Call<void>([&](auto cb) {
    s->AddLogLines(id, many, LogCursor{moved.inode, 99999}, cb);
  }));
  got = recent(3);
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0].text, "line 247");
  EXPECT_EQ(got[2].text, "line 249");
  EXPECT_EQ(recent(1000).size(), 255u);
  EXPECT_TRUE(recent(0).empty());

  // Lines and cursor move together: when one cannot, neither does.
  const int64_t before = this->Count("log");
  auto failed = this->template Call<void>([&](auto cb) {
    s->AddLogLines(424242, many, LogCursor{1, 2}, cb);
  });
  ASSERT_FALSE(failed);
  EXPECT_NE(failed.error().find("no service with id 424242"), std::string::npos) << failed.error();
  EXPECT_EQ(this->Count("log"), before);
  auto unknown = cursor(424242);
  ASSERT_FALSE(unknown);

  // Re-registering (a restarted service) keeps the cursor.
  EXPECT_EQ(this->Register(MakeService("hub", "hub0", 5000)), id);
  auto c2 = cursor(id);
  ASSERT_TRUE(c2);
  EXPECT_EQ(c2->offset, 99999u);
}

TYPED_TEST(StoreTest, CapTables) {
  auto& s = this->store_;
  const int64_t id = this->Register(MakeService("compute", "c0", 6000));
  for (int i = 0; i < 10; ++i) {
    Status st;
    st.service_id = id;
    st.time_ms = i;
    this->Ok(this->template Call<void>([&](auto cb) { s->AddStatus(st, cb); }));
  }
  std::vector<LogLine> lines;
  for (int i = 0; i < 10; ++i) lines.push_back({id, i, "line " + std::to_string(i)});
  this->Ok(this->template Call<void>([&](auto cb) { s->AddLogLines(id, lines, {}, cb); }));

  this->Ok(this->template Call<void>([&](auto cb) { s->CapTables(3, 4, cb); }));
  EXPECT_EQ(this->Count("status"), 3);
  EXPECT_EQ(this->Count("log"), 4);
  auto log = this->template Call<std::vector<LogLine>>([&](auto cb) { s->RecentLog(id, 100, cb); });
  ASSERT_TRUE(log);
  ASSERT_EQ(log->size(), 4u);
  EXPECT_EQ((*log)[0].text, "line 6");  // the newest were kept
  auto running =
      this->template Call<std::vector<ServiceStatus>>([&](auto cb) { s->RunningServices("", cb); });
  ASSERT_TRUE(running && running->size() == 1 && (*running)[0].latest);
  EXPECT_EQ((*running)[0].latest->time_ms, 9);

  this->Ok(this->template Call<void>([&](auto cb) { s->CapTables(100, 100, cb); }));  // no-op
  EXPECT_EQ(this->Count("log"), 4);
  this->Ok(this->template Call<void>([&](auto cb) { s->CapTables(0, 0, cb); }));
  EXPECT_EQ(this->Count("status"), 0);
  EXPECT_EQ(this->Count("log"), 0);

  // In the background, every prune_interval_s.
  Options opt;
  opt.status_rows = 2;
  opt.log_rows = 1;
  opt.prune_interval_s = 1;
  auto pruned = this->Open(this->url_, opt);
  this->Ok(this->template Call<void>([&](auto cb) { pruned->AddLogLines(id, lines, {}, cb); }));
  for (int i = 0; i < 5; ++i) {
    Status st;
    st.service_id = id;
    this->Ok(this->template Call<void>([&](auto cb) { pruned->AddStatus(st, cb); }));
  }
  this->RunUntil([&] { return this->Count("log") == 1 && this->Count("status") == 2; });
  pruned.reset();

  // Background pruning (on by default) holds no work on the loop: a one-shot
  // use (open, operate, run the loop until it runs out of work) returns.
  auto oneshot = this->Open(this->url_);
  bool done = false;
  oneshot->RegisterHub("x", "y", 1, [&](Result<void> r) { done = r.has_value(); });
  this->io_.restart();
  this->io_.run_for(60s);
  EXPECT_TRUE(this->io_.stopped());
  EXPECT_TRUE(done);
}

TYPED_TEST(StoreTest, HubsBrowsersSessions) {
  auto& s = this->store_;
  this->Ok(
      this->template Call<void>([&](auto cb) { s->RegisterHub("hub0", "10.0.0.1", 443, cb); }));
  this->Ok(
      this->template Call<void>([&](auto cb) { s->RegisterHub("hub0", "10.0.0.2", 8443, cb); }));
  this->Ok(
      this->template Call<void>([&](auto cb) { s->RegisterHub("hub1", "10.0.0.3", 443, cb); }));
  Rows hubs = this->Sql("SELECT name, address, port FROM hubs ORDER BY name");
  ASSERT_EQ(hubs.size(), 2u);
  EXPECT_EQ(hubs.Text(0, 1), "10.0.0.2");
  EXPECT_EQ(hubs.Int(0, 2), 8443);

  auto browser_hub = [&](std::string b) -> std::string {
    Rows r = this->Sql("SELECT hub FROM browsers WHERE browser = $1", {internal::Text(b)});
    return r.empty() ? "" : r.Text(0, 0);
  };
  this->Ok(this->template Call<void>([&](auto cb) { s->SetBrowser("b1", "hub0", true, cb); }));
  this->Ok(this->template Call<void>([&](auto cb) { s->SetBrowser("b2", "hub0", true, cb); }));
  EXPECT_EQ(browser_hub("b1"), "hub0");
  // b1 moves to hub1; hub0's late disconnect must not remove it.
  this->Ok(this->template Call<void>([&](auto cb) { s->SetBrowser("b1", "hub1", true, cb); }));
  this->Ok(this->template Call<void>([&](auto cb) { s->SetBrowser("b1", "hub0", false, cb); }));
  EXPECT_EQ(browser_hub("b1"), "hub1");
  this->Ok(this->template Call<void>([&](auto cb) { s->SetBrowser("b1", "hub1", false, cb); }));
  EXPECT_EQ(browser_hub("b1"), "");
  EXPECT_EQ(this->Count("browsers"), 1);

  this->Ok(
      this->template Call<void>([&](auto cb) { s->SetSession("s1", "hub0", "c0", false, cb); }));
  this->Ok(
      this->template Call<void>([&](auto cb) { s->SetSession("s2", "hub0", "c1", false, cb); }));
  Rows sessions = this->Sql("SELECT session, hub, compute FROM sessions ORDER BY session");
  ASSERT_EQ(sessions.size(), 2u);
  EXPECT_EQ(sessions.Text(1, 2), "c1");
  this->Ok(
      this->template Call<void>([&](auto cb) { s->SetSession("s1", "hub0", "c0", true, cb); }));
  sessions = this->Sql("SELECT session FROM sessions");
  ASSERT_EQ(sessions.size(), 1u);
  EXPECT_EQ(sessions.Text(0, 0), "s2");
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
