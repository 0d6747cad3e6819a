// `salvus monitor` and `salvus status`, the real binary, against real
// processes: a shell-script service writing salvus-format log lines (so the
// test can rotate and truncate its log at known points), a real
// `salvus compute`, real SQLite and PostgreSQL, a real memcached.
//
// Every wait is bounded; nothing asserts on timing.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <sstream>
#include <thread>

#include "monitor/logtail.h"
#include "monitor/procstat.h"
#include "store/await_store.h"
#include "store/store.h"
#include "util/child_process.h"
#include "util/compute_process.h"
#include "util/memcached_process.h"
#include "util/postgres_server.h"

extern char** environ;

namespace salvus {
namespace {

namespace asio = boost::asio;
namespace fs = std::filesystem;
using namespace std::chrono_literals;

uint64_t Inode(const std::string& path) {
  struct stat st {};
  return stat(path.c_str(), &st) == 0 ? st.st_ino : 0;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

using testutil::Child;
using testutil::WaitFor;

struct Output {
  int code = -1;
  std::string out, err;
};

// Runs `salvus ARGS...` to completion (bounded).
Output RunSalvus(const std::string& dir, std::vector<std::string> args) {
  static int n = 0;
  const std::string out = dir + "/run" + std::to_string(++n) + ".out";
  const std::string err = dir + "/run" + std::to_string(n) + ".err";
  args.insert(args.begin(), SALVUS_BINARY);
  Child c(args, out, err);
  Output o;
  o.code = c.Wait(60s);
  o.out = ReadFile(out);
  o.err = ReadFile(err);
  return o;
}

// The test's own view of the database, through the same Store.
class Db {
 public:
  explicit Db(const std::string& url) {
    auto s = store::OpenStore(url, io_.get_executor());
    if (s) store_ = std::move(*s);
  }
  bool ok() const { return store_ != nullptr; }

  std::vector<store::ServiceStatus> Running() {
    return Run<std::vector<store::ServiceStatus>>(
               [&](auto cb) { store_->RunningServices("", std::move(cb)); })
        .value_or(std::vector<store::ServiceStatus>{});
  }
  std::optional<store::ServiceStatus> Find(const std::string& name) {
    for (auto& s : Running()) {
      if (s.service.name == name) return s;
    }
    return std::nullopt;
  }
  std::vector<store::LogLine> Log(int64_t id) {
    return Run<std::vector<store::LogLine>>(
               [&](auto cb) { store_->RecentLog(id, 1'000'000, std::move(cb)); })
        .value_or(std::vector<store::LogLine>{});
  }
  store::LogCursor Cursor(int64_t id) {
    return Run<store::LogCursor>([&](auto cb) { store_->GetLogCursor(id, std::move(cb)); })
        .value_or(store::LogCursor{});
  }
  bool Migrate() {
    return Run<int>([&](auto cb) { store_->Migrate(std::move(cb)); }).has_value();
  }

 private:
  template <class T, class Start>
  store::Result<T> Run(Start start) {
    store::Result<T> out = std::unexpected("no answer");
    bool done = false;
    asio::co_spawn(
        io_,
        [&]() -> asio::awaitable<void> {
          out = co_await store::AwaitStore<T>(start);
          done = true;
        },
        asio::detached);
    // The store keeps a pruning timer on the loop: run until the answer.
    io_.restart();
    const auto deadline = std::chrono::steady_clock::now() + 30s;
    while (!done && std::chrono::steady_clock::now() < deadline) io_.run_one_for(1s);
    return out;
  }
  asio::io_context io_;
  std::unique_ptr<store::Store> store_;
};

// The test service: a shell script that writes numbered salvus-format lines
// (one `>>` each, so a renamed log is followed by a new file) until STOP
// exists; it pauses while PAUSE exists (and says so with PAUSED).
class ScriptService {
 public:
  explicit ScriptService(const std::string& dir) : dir_(dir) {
    const std::string script =
        "echo $$ > " + dir + "/service.pid.tmp; mv " + dir + "/service.pid.tmp " + pidfile() +
        "; "
        "echo '2001-02-03 04:05:06.789000 [svc] [info] an old line' >> " +
        log() +
        "; "
        "printf '  continuation of the old line\\n' >> " +
        log() +
        "; "
        "i=0; while [ ! -e " +
        dir +
        "/STOP ]; do "
        "  if [ -e " +
        dir + "/PAUSE ]; then touch " + dir +
        "/PAUSED; sleep 0.02; continue; fi; "
        "  rm -f " +
        dir +
        "/PAUSED; i=$((i+1)); "
        "  echo \"$(date '+%Y-%m-%d %H:%M:%S.%6N') [svc] [info] line $i\" >> " +
        log() +
        "; "
        "  sleep 0.01; "
        "done; printf 'the last line, unterminated' >> " +
        log();
    child_ = std::make_unique<Child>(std::vector<std::string>{"/bin/sh", "-c", script},
                                     dir + "/service.out", dir + "/service.err");
  }
  std::string pidfile() const { return dir_ + "/service.pid"; }
  std::string log() const { return dir_ + "/service.log"; }
  pid_t pid() const { return child_->pid(); }

  bool Pause() {
    std::ofstream(dir_ + "/PAUSE") << "";
    fs::remove(dir_ + "/PAUSED");
    return WaitFor([&] { return fs::exists(dir_ + "/PAUSED"); });
  }
  void Resume() { fs::remove(dir_ + "/PAUSE"); }
  int Stop() {
    std::ofstream(dir_ + "/STOP") << "";
    return child_->Wait();
  }

 private:
  std::string dir_;
  std::unique_ptr<Child> child_;
};

class MonitorIntegrationTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    pg_ = new testutil::PostgresServer;
    try {
      pg_url_ = pg_->start();
    } catch (const std::exception& e) {
      pg_error_ = e.what();
    }
  }
  static void TearDownTestSuite() {
    delete pg_;
    pg_ = nullptr;
  }
  void SetUp() override {
    char tmpl[] = "/tmp/salvus-monitor-it-XXXXXX";
    dir_ = mkdtemp(tmpl);
    chmod(dir_.c_str(), 0755);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::unique_ptr<Child> StartMonitor(const std::string& db, const std::string& name,
                                      const std::string& pidfile, const std::string& logfile,
                                      std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {
        SALVUS_BINARY, "monitor", "--pidfile", pidfile,     "--type",     "compute",
        "--name",      name,      "--address", "127.0.0.1", "--port",     "7001",
        "--site",      "test",    "--db",      db,          "--interval", "0.2"};
    if (!logfile.empty()) args.insert(args.end(), {"--logfile", logfile});
    args.insert(args.end(), extra.begin(), extra.end());
    return std::make_unique<Child>(args, dir_ + "/monitor.out", dir_ + "/monitor.err");
  }
  std::string monitor_err() const { return ReadFile(dir_ + "/monitor.err"); }

  // Every line of the script service once, in order, with its own time.
  void ExpectCompleteLog(const std::vector<store::LogLine>& log) {
    ASSERT_GE(log.size(), 4u);
    EXPECT_EQ(log[0].text, "2001-02-03 04:05:06.789000 [svc] [info] an old line");
    EXPECT_EQ(log[0].time_ms, monitor::ParseLineTime(log[0].text));
    EXPECT_EQ(log[1].text, "  continuation of the old line");
    EXPECT_EQ(log[1].time_ms, log[0].time_ms);
    for (size_t i = 2; i + 1 < log.size(); ++i) {
      const auto& l = log[i];
      ASSERT_EQ(l.text.substr(l.text.rfind(' ') + 1), std::to_string(i - 1))
          << "line " << i << ": " << l.text;
      // The time the line was written, from its text: not the insertion time.
      ASSERT_EQ(l.time_ms, monitor::ParseLineTime(l.text).value_or(-1)) << l.text;
    }
    EXPECT_EQ(log.back().text, "the last line, unterminated");
  }

  // Start -> status -> log (rotation, truncation, monitor restart) -> exit.
  void FullLifecycle(const std::string& url) {
    Db db(url);
    ASSERT_TRUE(db.ok());
    auto monitor = StartMonitor(url, "svc", dir_ + "/service.pid", dir_ + "/service.log");
    ScriptService service(dir_);

    // Registered, with what /proc says.
    std::optional<store::ServiceStatus> s;
    ASSERT_TRUE(WaitFor([&] { return (s = db.Find("svc")) && s->latest; })) << monitor_err();
    const int64_t id = s->service.id;
    EXPECT_EQ(s->service.type, "compute");
    EXPECT_EQ(s->service.site, "test");
    EXPECT_EQ(s->service.address, "127.0.0.1");
    EXPECT_EQ(s->service.port, 7001);
    EXPECT_EQ(s->service.pid, service.pid());
    EXPECT_EQ(s->service.monitor_pid, monitor->pid());
    EXPECT_EQ(s->service.user, monitor::UserName(geteuid()));
    auto host = monitor::ReadHostInfo();
    auto sample = monitor::ReadSample(service.pid(), *host);
    ASSERT_TRUE(sample.has_value());
    EXPECT_EQ(s->service.start_ms, monitor::StartTimeMs(*sample, *host));
    EXPECT_TRUE(s->service.running);
    EXPECT_GT(s->latest->rss_kb, 0u);
    EXPECT_GT(s->latest->vsize_kb, 0u);
    // Status rows keep coming.
    const int64_t first_status = s->latest->time_ms;
    ASSERT_TRUE(WaitFor([&] {
      auto now = db.Find("svc");
      return now && now->latest && now->latest->time_ms > first_status;
    }));
    ASSERT_TRUE(WaitFor([&] { return db.Log(id).size() >= 20; }));

    // Rotation (rename; the service's next line makes a new file).
    ASSERT_TRUE(service.Pause());
    fs::rename(service.log(), service.log() + ".1");
    service.Resume();
    ASSERT_TRUE(WaitFor([&] { return db.Cursor(id).inode == Inode(service.log()); }))
        << monitor_err();

    // Truncation (copytruncate without the copy): stored first, then cut.
    ASSERT_TRUE(service.Pause());
    const auto written = [&] {
      size_t n = 0;
      for (const auto& f : {service.log(), service.log() + ".1"}) {
        const std::string t = ReadFile(f);
        n += std::count(t.begin(), t.end(), '\n');
      }
      return n;
    };
    ASSERT_TRUE(WaitFor([&] { return db.Log(id).size() == written(); })) << monitor_err();
    const size_t before_truncation = written();
    ASSERT_EQ(truncate(service.log().c_str(), 0), 0);
    // Resume once the monitor has seen it (its cursor went back to 0).
    ASSERT_TRUE(WaitFor([&] { return db.Cursor(id).offset == 0; })) << monitor_err();
    service.Resume();
    ASSERT_TRUE(WaitFor([&] { return db.Log(id).size() >= before_truncation + 20; }));

    // The monitor restarts: same service, log resumed.
    monitor->Signal(SIGTERM);
    EXPECT_EQ(monitor->Wait(), 0) << monitor_err();
    ASSERT_TRUE(db.Find("svc")) << "the service still runs";
    const size_t before_restart = db.Log(id).size();
    monitor = StartMonitor(url, "svc", dir_ + "/service.pid", dir_ + "/service.log");
    ASSERT_TRUE(WaitFor([&] {
      auto now = db.Find("svc");
      return now && now->service.monitor_pid == monitor->pid();
    })) << monitor_err();
    EXPECT_EQ(db.Find("svc")->service.id, id);
    ASSERT_TRUE(WaitFor([&] { return db.Log(id).size() >= before_restart + 20; }));

    // The service exits: the monitor stores the rest, marks it stopped, exits.
    EXPECT_EQ(service.Stop(), 0);
    EXPECT_EQ(monitor->Wait(), 0) << monitor_err();
    EXPECT_FALSE(db.Find("svc")) << "not running any more";
    ExpectCompleteLog(db.Log(id));
  }

  static inline testutil::PostgresServer* pg_ = nullptr;
  static inline std::string pg_url_, pg_error_;
  std::string dir_;
};

TEST_F(MonitorIntegrationTest, FullLifecycleOnSqlite) {
  FullLifecycle("sqlite:" + dir_ + "/salvus.sqlite");
}

TEST_F(MonitorIntegrationTest, FullLifecycleOnPostgres) {
  ASSERT_TRUE(pg_error_.empty()) << pg_error_;
  FullLifecycle(pg_->CreateDatabase("monitor_it"));
}

TEST_F(MonitorIntegrationTest, RealComputeServer) {
  testutil::ComputeProcess compute({"--kernel", "python", "--pool", "1"});
  ASSERT_TRUE(compute.ok()) << compute.log();
  const std::string pidfile = dir_ + "/compute.pid";
  std::ofstream(pidfile) << compute.pid() << "\n";
  const std::string url = "sqlite:" + dir_ + "/salvus.sqlite";
  auto monitor = StartMonitor(url, "compute-1", pidfile, compute.dir() + "/log");
  Db db(url);
  std::optional<store::ServiceStatus> s;
  ASSERT_TRUE(WaitFor([&] { return (s = db.Find("compute-1")) && s->latest; })) << monitor_err();
  EXPECT_EQ(s->service.pid, compute.pid());
  // Its log, with the times it wrote.
  ASSERT_TRUE(WaitFor([&] { return !db.Log(s->service.id).empty(); })) << monitor_err();
  for (const auto& l : db.Log(s->service.id)) {
    if (auto t = monitor::ParseLineTime(l.text)) {
      EXPECT_EQ(l.time_ms, *t) << l.text;
    }
  }
  // A session makes it log more; a kill ends it and the monitor.
  {
    auto c = compute.Connect();
    ASSERT_NE(c, nullptr);
  }
  compute.Kill(SIGTERM);
  EXPECT_EQ(monitor->Wait(), 0) << monitor_err();
  EXPECT_FALSE(db.Find("compute-1"));
  // Everything it wrote is there, once.
  const std::string text = compute.log();
  size_t lines = std::count(text.begin(), text.end(), '\n');
  if (!text.empty() && text.back() != '\n') ++lines;
  EXPECT_EQ(db.Log(s->service.id).size(), lines) << text;
}

TEST_F(MonitorIntegrationTest, StatusWithAndWithoutMemcached) {
  testutil::MemcachedProcess memcached;
  ASSERT_TRUE(memcached.ok());
  const std::string url = "sqlite:" + dir_ + "/salvus.sqlite";
  auto monitor = StartMonitor(url, "svc-mc", dir_ + "/service.pid", dir_ + "/service.log",
                              {"--memcached", memcached.address()});
  ScriptService service(dir_);
  Db db(url);
  std::optional<store::ServiceStatus> s;
  ASSERT_TRUE(WaitFor([&] { return (s = db.Find("svc-mc")) && s->latest; })) << monitor_err();

  const std::vector<std::string> args = {"status", "--db", url, "--memcached", memcached.address(),
                                         "-v"};
  // A miss (registering cleared the list): from the database, then cached.
  auto first = RunSalvus(dir_, args);
  ASSERT_EQ(first.code, 0) << first.err;
  EXPECT_NE(first.out.find("svc-mc"), std::string::npos) << first.out;
  EXPECT_NE(first.out.find("%CPU"), std::string::npos) << first.out;
  EXPECT_NE(first.out.find("127.0.0.1:7001"), std::string::npos) << first.out;
  EXPECT_NE(first.out.find(std::to_string(service.pid())), std::string::npos) << first.out;
  EXPECT_NE(first.err.find("from the database"), std::string::npos) << first.err;
  auto second = RunSalvus(dir_, args);
  ASSERT_EQ(second.code, 0) << second.err;
  EXPECT_NE(second.out.find("svc-mc"), std::string::npos) << second.out;
  EXPECT_NE(second.err.find("from the memcached"), std::string::npos) << second.err;
  // Even without the database, memcached answers.
  auto cached_only = RunSalvus(dir_, {"status", "--memcached", memcached.address()});
  EXPECT_EQ(cached_only.code, 0) << cached_only.err;
  EXPECT_NE(cached_only.out.find("svc-mc"), std::string::npos);

  // memcached dies: status still works (from the database), and so does the
  // monitor (new status rows).
  memcached.Kill();
  auto third = RunSalvus(dir_, args);
  ASSERT_EQ(third.code, 0) << third.err;
  EXPECT_NE(third.out.find("svc-mc"), std::string::npos) << third.out;
  EXPECT_NE(third.err.find("from the database"), std::string::npos) << third.err;
  const int64_t t = db.Find("svc-mc")->latest->time_ms;
  ASSERT_TRUE(WaitFor([&] {
    auto now = db.Find("svc-mc");
    return now && now->latest && now->latest->time_ms > t;
  })) << monitor_err();

  EXPECT_EQ(service.Stop(), 0);
  EXPECT_EQ(monitor->Wait(), 0) << monitor_err();
  auto after = RunSalvus(dir_, {"status", "--db", url});
  EXPECT_EQ(after.code, 0) << after.err;
  EXPECT_EQ(after.out.find("svc-mc"), std::string::npos) << after.out;
  EXPECT_NE(after.out.find("no running services"), std::string::npos) << after.out;
}

TEST_F(MonitorIntegrationTest, BadUsage) {
  auto no_db = RunSalvus(dir_, {"monitor", "--pidfile", "x", "--type", "hub", "--name", "h",
                                "--address", "a", "--port", "1"});
  EXPECT_EQ(no_db.code, 2);
  auto bad_db = RunSalvus(dir_, {"monitor", "--pidfile", "x", "--type", "hub", "--name", "h",
                                 "--address", "a", "--port", "1", "--db", "mysql://x"});
  EXPECT_EQ(bad_db.code, 2);
  EXPECT_NE(bad_db.err.find("mysql"), std::string::npos) << bad_db.err;
  auto bad_mc = RunSalvus(
      dir_, {"status", "--db", "sqlite:" + dir_ + "/x.sqlite", "--memcached", "nohostport"});
  EXPECT_EQ(bad_mc.code, 2);
  // No process ever: the monitor gives up after --wait.
  auto gone = RunSalvus(dir_, {"monitor", "--pidfile", dir_ + "/none.pid", "--type", "hub",
                               "--name", "h", "--address", "a", "--port", "1", "--db",
                               "sqlite:" + dir_ + "/x.sqlite", "--wait", "0.3"});
  EXPECT_EQ(gone.code, 1);
  EXPECT_NE(gone.err.find("none.pid"), std::string::npos) << gone.err;
}

}  // namespace
}  // namespace salvus
