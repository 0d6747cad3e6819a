#include "monitor/monitor.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <filesystem>
#include <fstream>
#include <thread>

#include "registry/encoding.h"
#include "store/testing/fake_store.h"

extern char** environ;

namespace salvus::monitor {
namespace {

namespace asio = boost::asio;
namespace fs = std::filesystem;
using namespace std::chrono_literals;

template <class F>
bool WaitFor(F done, std::chrono::seconds max = 60s) {
  const auto deadline = std::chrono::steady_clock::now() + max;
  while (std::chrono::steady_clock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(10ms);
  }
  return done();
}

// One monitor on its own io_context thread.
class Running {
 public:
  Running(store::Store& store, asio::io_context& io, registry::Cache& cache, MonitorOptions o)
      : io_(io) {
    monitor_ = std::make_unique<Monitor>(io.get_executor(), store, cache, std::move(o));
    asio::co_spawn(io, monitor_->Run(), [this](std::exception_ptr e, int rc) {
      result_ = e ? -1 : rc;
      done_ = true;
    });
    thread_ = std::thread([this] {
      io_.restart();
      io_.run();
    });
  }
  ~Running() {
    Wait(60s);
    io_.stop();
    thread_.join();
  }
  void Stop() {
    asio::post(io_, [this] { monitor_->Stop(); });
  }
  bool Wait(std::chrono::seconds max) {
    return WaitFor([this] { return done_.load(); }, max);
  }
  int result() const { return result_; }
  int64_t service_id() const { return monitor_->service_id(); }

 private:
  asio::io_context& io_;
  std::unique_ptr<Monitor> monitor_;
  std::atomic<bool> done_{false};
  std::atomic<int> result_{-2};
  std::thread thread_;
};

class MonitorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/salvus-monitor-XXXXXX";
    dir_ = mkdtemp(tmpl);
    store_ = std::make_unique<store::FakeStore>(io_.get_executor());
  }
  void TearDown() override {
    if (child_ > 0) {
      kill(child_, SIGKILL);
      waitpid(child_, nullptr, 0);
    }
    fs::remove_all(dir_);
  }

  // A service: logs a numbered, timestamped line every 10 ms until the file
  // STOP appears, then an unterminated last line, and exits.
  pid_t SpawnService() {
    const std::string script =
        "i=0; while [ ! -e " + dir_ +
        "/STOP ]; do i=$((i+1)); "
        "echo \"$(date '+%Y-%m-%d %H:%M:%S.%6N') [svc] [info] line $i\" >> " +
        log() +
        "; "
        "[ $i -eq 3 ] && printf 'Traceback:\\n  continuation\\n' >> " +
        log() +
        "; "
        "sleep 0.01; done; printf 'last line' >> " +
        log();
    std::vector<std::string> args = {"/bin/sh", "-c", script};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    EXPECT_EQ(posix_spawn(&child_, "/bin/sh", nullptr, nullptr, argv.data(), environ), 0);
    return child_;
  }
  void WritePidFile(pid_t pid) {
    std::ofstream(dir_ + "/pid.tmp") << pid << "\n";
    fs::rename(dir_ + "/pid.tmp", pidfile());
  }
  void StopService() {
    std::ofstream(dir_ + "/STOP") << "";
    waitpid(child_, nullptr, 0);
    child_ = -1;
  }
  MonitorOptions Options() {
    MonitorOptions o;
    o.pidfile = pidfile();
    o.logfile = log();
    o.service.type = "compute";
    o.service.name = "c1";
    o.service.site = "test";
    o.service.address = "127.0.0.1";
    o.service.port = 6000;
    o.interval = 50ms;
    o.pidfile_timeout = 30s;
    return o;
  }
  std::string pidfile() const { return dir_ + "/service.pid"; }
  std::string log() const { return dir_ + "/service.log"; }
  size_t LogLines() {
    std::lock_guard lock(store_->mu);
    return store_->log.size();
  }
  size_t Statuses() {
    std::lock_guard lock(store_->mu);
    return store_->statuses.size();
  }
  // The stored log is exactly the service's lines, each once, in order.
  void ExpectCompleteLog() {
    std::lock_guard lock(store_->mu);
    const auto& log = store_->log;
    ASSERT_GE(log.size(), 5u);
    int next = 1;
    int64_t last_time = 0;
    for (size_t i = 0; i + 1 < log.size(); ++i) {
      const auto& l = log[i];
      if (l.text == "Traceback:" || l.text == "  continuation") {
        EXPECT_EQ(l.time_ms, last_time) << "continuation lines keep the previous time";
        continue;
      }
      ASSERT_EQ(l.text.substr(l.text.rfind(' ') + 1), std::to_string(next)) << l.text;
      ++next;
      // The line's own time, not when it was stored.
      EXPECT_EQ(l.time_ms, ParseLineTime(l.text).value_or(-1));
      last_time = l.time_ms;
    }
    EXPECT_EQ(log.back().text, "last line");
    for (auto& l : log) EXPECT_EQ(l.service_id, log[0].service_id);
  }

  asio::io_context io_;
  std::unique_ptr<store::FakeStore> store_;
  registry::MemoryCache cache_;
  std::string dir_;
  pid_t child_ = -1;
};

TEST_F(MonitorTest, FollowsAServiceFromStartToExit) {
  cache_.Set(registry::kServicesKey, "stale", 0s);
  const int64_t before_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                std::chrono::system_clock::now().time_since_epoch())
                                .count();
  // The monitor starts first and waits for the pidfile.
  Running m(*store_, io_, cache_, Options());
  const pid_t pid = SpawnService();
  WritePidFile(pid);
  ASSERT_TRUE(WaitFor([&] { return Statuses() >= 3 && LogLines() >= 10; }));
  EXPECT_FALSE(cache_.Get(registry::kServicesKey)) << "registering invalidates the services list";
  {
    auto cached = cache_.Get(registry::StatusKey(m.service_id()));
    ASSERT_TRUE(cached);
    auto st = registry::DecodeStatus(*cached);
    ASSERT_TRUE(st);
    EXPECT_EQ(st->service_id, m.service_id());
  }
  StopService();
  ASSERT_TRUE(m.Wait(60s));
  EXPECT_EQ(m.result(), 0);
  ExpectCompleteLog();

  std::lock_guard lock(store_->mu);
  ASSERT_EQ(store_->services.size(), 1u);
  const auto& s = store_->services.begin()->second;
  EXPECT_EQ(s.type, "compute");
  EXPECT_EQ(s.name, "c1");
  EXPECT_EQ(s.site, "test");
  EXPECT_EQ(s.address, "127.0.0.1");
  EXPECT_EQ(s.port, 6000);
  EXPECT_EQ(s.pid, pid);
  EXPECT_EQ(s.monitor_pid, getpid());
  EXPECT_EQ(s.user, UserName(getuid()));
  EXPECT_GE(s.start_ms, before_ms - 1000);  // clock ticks are 10 ms
  EXPECT_FALSE(s.running);
  EXPECT_GE(s.stop_ms, s.start_ms);
  for (auto& st : store_->statuses) {
    EXPECT_EQ(st.service_id, s.id);
    EXPECT_GT(st.rss_kb, 0u);
    EXPECT_GE(st.vsize_kb, st.rss_kb);
    EXPECT_GE(st.pcpu, 0.0);
    EXPECT_GT(st.pmem, 0.0);
    EXPECT_GE(st.walltime_s, 0.0);
  }
  EXPECT_FALSE(cache_.Get(registry::StatusKey(s.id)))
      << "a stopped service's status leaves the cache";
}

TEST_F(MonitorTest, NoticesTheExitWithoutPidfd) {
  auto o = Options();
  o.use_pidfd = false;
  const pid_t pid = SpawnService();
  WritePidFile(pid);
  Running m(*store_, io_, cache_, o);
  ASSERT_TRUE(WaitFor([&] { return LogLines() >= 5; }));
  // Not reaped: a zombie has exited too.
  std::ofstream(dir_ + "/STOP") << "";
  ASSERT_TRUE(m.Wait(60s));
  EXPECT_EQ(m.result(), 0);
  ExpectCompleteLog();
  std::lock_guard lock(store_->mu);
  EXPECT_FALSE(store_->services.begin()->second.running);
}

TEST_F(MonitorTest, RestartedMonitorReusesTheServiceAndResumesTheLog) {
  const pid_t pid = SpawnService();
  WritePidFile(pid);
  int64_t first_id;
  {
    Running a(*store_, io_, cache_, Options());
    ASSERT_TRUE(WaitFor([&] { return LogLines() >= 10; }));
    a.Stop();
    ASSERT_TRUE(a.Wait(60s));
    EXPECT_EQ(a.result(), 0);
    first_id = a.service_id();
  }
  {
    std::lock_guard lock(store_->mu);
    EXPECT_TRUE(store_->services[first_id].running) << "a stopped monitor is not a stopped service";
  }
  const size_t before = LogLines();
  Running b(*store_, io_, cache_, Options());
  ASSERT_TRUE(WaitFor([&] { return LogLines() >= before + 10; }));
  EXPECT_EQ(b.service_id(), first_id);
  StopService();
  ASSERT_TRUE(b.Wait(60s));
  EXPECT_EQ(b.result(), 0);
  {
    std::lock_guard lock(store_->mu);
    EXPECT_EQ(store_->services.size(), 1u);
    EXPECT_EQ(store_->registrations, 2);
  }
  ExpectCompleteLog();
}

TEST_F(MonitorTest, StoreFailuresLoseNothing) {
  {
    std::lock_guard lock(store_->mu);
    store_->fail_register = 2;
    store_->fail_log = 3;
  }
  const pid_t pid = SpawnService();
  WritePidFile(pid);
  Running m(*store_, io_, cache_, Options());
  ASSERT_TRUE(WaitFor([&] {
    std::lock_guard lock(store_->mu);
    return store_->fail_log == 0 && store_->log.size() >= 10;
  }));
  StopService();
  ASSERT_TRUE(m.Wait(60s));
  EXPECT_EQ(m.result(), 0);
  ExpectCompleteLog();
}

TEST_F(MonitorTest, GivesUpWithoutAPidfile) {
  auto o = Options();
  o.pidfile_timeout = 300ms;
  Running m(*store_, io_, cache_, o);
  ASSERT_TRUE(m.Wait(60s));
  EXPECT_EQ(m.result(), 1);
  std::lock_guard lock(store_->mu);
  EXPECT_TRUE(store_->services.empty());
}

TEST_F(MonitorTest, StalePidfileIsNotTheService) {
  // A pidfile left by a process that is gone: wait for a live one.
  pid_t dead;
  char* argv[] = {const_cast<char*>("/bin/true"), nullptr};
  ASSERT_EQ(posix_spawn(&dead, "/bin/true", nullptr, nullptr, argv, environ), 0);
  waitpid(dead, nullptr, 0);
  WritePidFile(dead);
  Running m(*store_, io_, cache_, Options());
  std::this_thread::sleep_for(200ms);
  {
    std::lock_guard lock(store_->mu);
    EXPECT_TRUE(store_->services.empty());
  }
  const pid_t pid = SpawnService();
  WritePidFile(pid);
  ASSERT_TRUE(WaitFor([&] { return LogLines() >= 5; }));
  {
    std::lock_guard lock(store_->mu);
    ASSERT_EQ(store_->services.size(), 1u);
    EXPECT_EQ(store_->services.begin()->second.pid, pid);
  }
  StopService();
  ASSERT_TRUE(m.Wait(60s));
  EXPECT_EQ(m.result(), 0);
}

}  // namespace
}  // namespace salvus::monitor
