// Monitor CPU use per monitored service (target: < 0.5% of one core at the
// default 6 s interval). Runs the real `salvus monitor` against real
// processes that log a line every 100 ms, and reads the monitors' CPU time
// from /proc/PID/schedstat (nanoseconds) after they have registered, so
// start-up (opening and migrating the database) is not counted.
//
//   direct:        N monitors at --interval 6 for a window; CPU / (N x window)
//   per_tick:      one monitor at --interval 0.1: the cost of one tick (a
//                  status row + the log lines since the last one), and what
//                  that cost means at 6 s
//
// Backends: SQLite (a file per monitor) and, if it starts, a real PostgreSQL.
// Prints one JSON object. Usage: monitor_bench [--quick]
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "util/postgres_server.h"

extern char** environ;

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

void Check(bool ok, const std::string& what) {
  if (!ok) {
    std::cerr << "benchmark failed: " << what << "\n";
    std::exit(1);
  }
}

pid_t Spawn(std::vector<std::string> args, const std::string& err) {
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 2, err.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = -1;
  if (posix_spawn(&pid, argv[0], &fa, nullptr, argv.data(), environ) != 0) pid = -1;
  posix_spawn_file_actions_destroy(&fa);
  return pid;
}

void Stop(pid_t pid) {
  if (pid <= 0) return;
  kill(pid, SIGTERM);
  for (int i = 0; i < 200; ++i) {
    if (waitpid(pid, nullptr, WNOHANG) == pid) return;
    std::this_thread::sleep_for(10ms);
  }
  kill(pid, SIGKILL);
  waitpid(pid, nullptr, 0);
}

// CPU time of a process so far, in seconds (schedstat: ns on the CPU).
double CpuSeconds(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/schedstat");
  double ns = -1;
  in >> ns;
  return ns / 1e9;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

struct Pair {
  pid_t service = -1, monitor = -1;
  std::string dir;
};

// A service logging a salvus-format line every 100 ms, and its monitor.
Pair StartPair(const std::string& dir, const std::string& db, const std::string& name,
               const std::string& interval) {
  Pair p;
  p.dir = dir;
  fs::create_directories(dir);
  const std::string log = dir + "/service.log";
  const std::string script = "echo $$ > " + dir +
                             "/pid; while :; do echo \"$(date '+%Y-%m-%d %H:%M:%S.%6N') "
                             "[svc] [info] some work done, 42 items\" >> " +
                             log + "; sleep 0.1; done";
  p.service = Spawn({"/bin/sh", "-c", script}, dir + "/service.err");
  p.monitor = Spawn(
      {SALVUS_BINARY, "monitor",   "--pidfile",  dir + "/pid", "--type",      "bench", "--name",
       name,          "--address", "127.0.0.1",  "--port",     "1",           "--db",  db,
       "--logfile",   log,         "--interval", interval,     "--log-level", "warn"},
      dir + "/monitor.err");
  return p;
}

// Lets the monitors start (open and migrate the database, register), so the
// window measures steady state only.
void Settle(const std::vector<Pair>& pairs, std::chrono::milliseconds settle) {
  std::this_thread::sleep_for(settle);
  for (auto& p : pairs) {
    Check(waitpid(p.monitor, nullptr, WNOHANG) == 0,
          "monitor exited: " + ReadFile(p.dir + "/monitor.err"));
  }
}

struct Measure {
  double cpu_s = 0;
  double wall_s = 0;
  int monitors = 0;
};

Measure Window(const std::vector<Pair>& pairs, std::chrono::seconds window) {
  std::vector<double> before;
  for (auto& p : pairs) before.push_back(CpuSeconds(p.monitor));
  const auto t0 = Clock::now();
  std::this_thread::sleep_for(window);
  Measure m;
  m.wall_s = std::chrono::duration<double>(Clock::now() - t0).count();
  for (size_t i = 0; i < pairs.size(); ++i) {
    const double after = CpuSeconds(pairs[i].monitor);
    Check(after >= 0 && before[i] >= 0, "monitor gone: " + ReadFile(pairs[i].dir + "/monitor.err"));
    m.cpu_s += after - before[i];
  }
  m.monitors = static_cast<int>(pairs.size());
  return m;
}

std::string Direct(const std::string& root, const std::function<std::string(int)>& db, int n,
                   std::chrono::seconds window) {
  std::vector<Pair> pairs;
  for (int i = 0; i < n; ++i) {
    pairs.push_back(
        StartPair(root + "/d" + std::to_string(i), db(i), "svc" + std::to_string(i), "6"));
  }
  Settle(pairs, 3s);
  const Measure m = Window(pairs, window);
  for (auto& p : pairs) {
    Stop(p.monitor);
    Stop(p.service);
  }
  const double pct = 100.0 * m.cpu_s / (m.monitors * m.wall_s);
  char buf[256];
  std::snprintf(buf, sizeof buf,
                "{\"monitors\": %d, \"interval_s\": 6, \"window_s\": %.1f, \"cpu_s\": %.4f, "
                "\"pct_of_core_per_service\": %.4f}",
                m.monitors, m.wall_s, m.cpu_s, pct);
  return buf;
}

std::string PerTick(const std::string& root, const std::string& db, std::chrono::seconds window) {
  auto p = StartPair(root + "/t", db, "tick", "0.1");
  Settle({p}, 2s);
  const Measure m = Window({p}, window);
  Stop(p.monitor);
  Stop(p.service);
  const double ticks = m.wall_s / 0.1;
  const double ms_per_tick = 1000.0 * m.cpu_s / ticks;
  // If a 6 s tick cost what a 0.1 s one does (it carries 60 log lines, not
  // one: the direct measurement is the real figure).
  const double pct_6s = 100.0 * (ms_per_tick / 1000.0) / 6.0;
  char buf[320];
  std::snprintf(buf, sizeof buf,
                "{\"interval_s\": 0.1, \"window_s\": %.1f, \"cpu_s\": %.4f, "
                "\"pct_of_core\": %.3f, \"ms_per_tick\": %.4f, "
                "\"pct_of_core_at_6s_same_tick_cost\": %.4f}",
                m.wall_s, m.cpu_s, 100.0 * m.cpu_s / m.wall_s, ms_per_tick, pct_6s);
  return buf;
}

}  // namespace

int main(int argc, char** argv) {
  const bool quick = argc > 1 && std::string(argv[1]) == "--quick";
  const int n = quick ? 4 : 10;
  const auto direct_window = quick ? 13s : 61s;
  const auto tick_window = quick ? 3s : 10s;
  char tmpl[] = "/tmp/salvus-monitor-bench-XXXXXX";
  Check(mkdtemp(tmpl) != nullptr, "mkdtemp");
  const std::string root = tmpl;
  chmod(root.c_str(), 0755);

  std::string out = "{\n";
  auto sqlite = [&](const std::string& sub) {
    return [&, sub](int i) { return "sqlite:" + root + "/" + sub + std::to_string(i) + ".sqlite"; };
  };
  out += "  \"sqlite_per_tick\": " + PerTick(root + "/st", sqlite("st")(0), tick_window) + ",\n";
  out += "  \"sqlite_direct\": " + Direct(root + "/sd", sqlite("sd"), n, direct_window);

  salvus::testutil::PostgresServer pg;
  std::string pg_url;
  try {
    pg_url = pg.start();
  } catch (const std::exception& e) {
    std::cerr << "PostgreSQL not measured: " << e.what() << "\n";
  }
  if (!pg_url.empty()) {
    out += ",\n  \"postgres_per_tick\": " + PerTick(root + "/pt", pg_url, tick_window) + ",\n";
    out += "  \"postgres_direct\": " +
           Direct(
               root + "/pd", [&](int) { return pg_url; }, n, direct_window);
  }
  out += "\n}\n";
  std::cout << out;
  pg.stop();
  fs::remove_all(root);
  return 0;
}
