#include "util/postgres_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <grp.h>
#include <libpq-fe.h>
#include <pwd.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>
#include <vector>

#include "util/free_port.h"

namespace salvus::testutil {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

constexpr auto kStartTimeout = std::chrono::seconds(30);
constexpr auto kStopTimeout = std::chrono::seconds(10);

// Who runs initdb and postgres: ourselves, or `postgres` when we are root.
struct Identity {
  bool switch_user = false;
  uid_t uid = 0;
  gid_t gid = 0;
};

Identity ServerIdentity() {
  Identity who;
  who.uid = geteuid();
  who.gid = getegid();
  if (who.uid != 0) return who;
  const passwd* pw = getpwnam("postgres");
  if (pw == nullptr) {
    throw std::runtime_error(
        "running as root, and postgres refuses to run as root, but there is no `postgres` user "
        "to run it as (install the postgresql package)");
  }
  who.switch_user = true;
  who.uid = pw->pw_uid;
  who.gid = pw->pw_gid;
  return who;
}

// Forks and execs argv[0] as `who`, stdout and stderr to `out_fd`. The child
// gets SIGKILL if the calling thread dies. Returns its pid, or -1.
pid_t Spawn(const std::vector<std::string>& argv, int out_fd, const Identity& who) {
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  const pid_t parent = getpid();
  const pid_t pid = fork();
  if (pid != 0) return pid;
  // The child: async-signal-safe calls only (the parent may have threads).
  const int devnull = open("/dev/null", O_RDONLY);
  if (devnull < 0 || dup2(devnull, 0) < 0 || dup2(out_fd, 1) < 0 || dup2(out_fd, 2) < 0) _exit(126);
  close_range(3, ~0U, 0);  // the test's own sockets stay out of the server
  if (who.switch_user &&
      (setgroups(0, nullptr) != 0 || setgid(who.gid) != 0 || setuid(who.uid) != 0)) {
    _exit(126);
  }
  // After setuid, which clears it.
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() != parent) _exit(125);
  execv(args[0], args.data());
  _exit(127);
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string Tail(const std::string& s, size_t n = 3000) {
  return s.size() <= n ? s : "..." + s.substr(s.size() - n);
}

int OpenLog(const std::string& path) {
  const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) throw std::runtime_error("cannot create " + path);
  return fd;
}

// Runs argv as `who` to completion, output appended to `log_path`.
void RunChecked(const std::vector<std::string>& argv, const Identity& who,
                const std::string& log_path) {
  const int fd = OpenLog(log_path);
  const pid_t pid = Spawn(argv, fd, who);
  close(fd);
  if (pid < 0) throw std::runtime_error("fork failed");
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    throw std::runtime_error(argv[0] + " failed:\n" + Tail(ReadFile(log_path)));
  }
}

// 1 MB WAL segments instead of 16: the cluster copies in half the time.
std::vector<std::string> InitdbCommand(const std::string& bin, const std::string& data) {
  std::vector<std::string> args = {bin + "/initdb", "-D", data, "-U", "postgres", "-A", "trust"};
  args.insert(args.end(), {"-E", "UTF8", "--locale=C.UTF-8", "--wal-segsize=1", "--no-sync"});
  return args;
}

// A cluster made by initdb once per machine, PostgreSQL version and user;
// each server starts from a copy. "" if it cannot be made or trusted.
std::string TemplateCluster(const std::string& bin, const Identity& who,
                            const std::string& log_path) {
  const std::string version = fs::path(bin).parent_path().filename().string();
  // Bump "v2" when the initdb options change.
  std::string path = "/tmp/salvus-pg-template-v2-" + version + "-" + std::to_string(who.uid);
  auto usable = [&] {
    struct stat st {};
    return lstat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode) && st.st_uid == who.uid &&
           (st.st_mode & 077) == 0 && fs::exists(path + "/PG_VERSION");
  };
  if (usable()) return path;
  const std::string tmp = path + ".tmp-" + std::to_string(getpid());
  RunChecked(InitdbCommand(bin, tmp), who, log_path);
  // Atomic: a concurrent test process either wins or loses the race whole.
  if (rename(tmp.c_str(), path.c_str()) != 0) {
    std::error_code ec;
    fs::remove_all(tmp, ec);
  }
  return usable() ? path : "";
}

}  // namespace

std::string PostgresBinDir() {
  if (const char* env = std::getenv("SALVUS_PG_BIN"); env != nullptr && *env != '\0') {
    return env;
  }
  std::string best;
  int best_version = -1;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator("/usr/lib/postgresql", ec)) {
    const std::string name = entry.path().filename().string();
    const int version = std::atoi(name.c_str());
    if (version > best_version && fs::exists(entry.path() / "bin" / "postgres") &&
        fs::exists(entry.path() / "bin" / "initdb")) {
      best_version = version;
      best = (entry.path() / "bin").string();
    }
  }
  return best;
}

PostgresServer::~PostgresServer() { stop(); }

std::string PostgresServer::url(const std::string& database) const {
  return "postgresql://postgres@127.0.0.1:" + std::to_string(port_) + "/" + database;
}

std::string PostgresServer::log() const {
  return dir_.empty() ? "" : ReadFile(dir_ + "/postgres.log");
}

std::string PostgresServer::start() {
  if (running()) return url();
  const std::string bin = PostgresBinDir();
  if (bin.empty()) {
    throw std::runtime_error(
        "PostgreSQL not found in /usr/lib/postgresql/*/bin (install postgresql, or set "
        "SALVUS_PG_BIN)");
  }
  const Identity who = ServerIdentity();
  char tmpl[] = "/tmp/salvus-pg-XXXXXX";
  if (mkdtemp(tmpl) == nullptr) throw std::runtime_error("mkdtemp failed");
  dir_ = tmpl;
  try {
    if (who.switch_user && chown(dir_.c_str(), who.uid, who.gid) != 0) {
      throw std::runtime_error("cannot chown " + dir_);
    }
    const std::string setup_log = dir_ + "/setup.log";
    const std::string cluster = TemplateCluster(bin, who, setup_log);
    if (cluster.empty()) {
      RunChecked(InitdbCommand(bin, dir_ + "/data"), who, setup_log);
    } else {
      RunChecked({"/bin/cp", "-a", cluster, dir_ + "/data"}, who, setup_log);
    }
    // A port picked here may be taken by someone else before postgres binds
    // it: try a few.
    std::string error;
    for (int attempt = 0; attempt < 3; ++attempt) {
      if (TryStart(&error)) return CreateDatabase("salvus");
    }
    throw std::runtime_error(error);
  } catch (...) {
    stop();
    throw;
  }
}

bool PostgresServer::TryStart(std::string* error) {
  port_ = FreeLoopbackPort();
  if (port_ == 0) throw std::runtime_error("no free port");
  return Launch(error);
}

void PostgresServer::Restart() {
  if (pid_ <= 0) throw std::runtime_error("PostgreSQL is not running");
  kill(pid_, SIGQUIT);  // "immediate" shutdown: no checkpoint, recovery at the next start
  int status = 0;
  while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
  pid_ = -1;
  std::string error;
  if (!Launch(&error)) throw std::runtime_error(error);
}

bool PostgresServer::Launch(std::string* error) {
  const std::string bin = PostgresBinDir();
  const Identity who = ServerIdentity();
  const std::string log_path = dir_ + "/postgres.log";
  const int fd = OpenLog(log_path);
  pid_ =
      Spawn({bin + "/postgres", "-D", dir_ + "/data", "-p", std::to_string(port_), "-k", dir_, "-c",
             "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c", "synchronous_commit=off", "-c",
             "full_page_writes=off", "-c", "shared_buffers=32MB", "-c", "max_connections=50"},
            fd, who);
  close(fd);
  if (pid_ < 0) {
    *error = "fork failed";
    return false;
  }
  const std::string ping = "host=127.0.0.1 port=" + std::to_string(port_) +
                           " user=postgres dbname=postgres connect_timeout=2";
  const auto deadline = Clock::now() + kStartTimeout;
  while (Clock::now() < deadline) {
    if (PQping(ping.c_str()) == PQPING_OK) return true;
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      *error = "postgres exited at start:\n" + Tail(log());
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  *error = "postgres did not accept connections within 30 s:\n" + Tail(log());
  stop();
  throw std::runtime_error(*error);
}

std::string PostgresServer::CreateDatabase(const std::string& name) {
  if (name.empty() || !std::all_of(name.begin(), name.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
      })) {
    throw std::runtime_error("bad database name \"" + name + "\"");
  }
  PGconn* conn = PQconnectdb(url("postgres").c_str());
  std::string error;
  if (PQstatus(conn) != CONNECTION_OK) {
    error = PQerrorMessage(conn);
  } else {
    PGresult* res = PQexec(conn, ("CREATE DATABASE " + name).c_str());
    if (PQresultStatus(res) != PGRES_COMMAND_OK) error = PQresultErrorMessage(res);
    PQclear(res);
  }
  PQfinish(conn);
  if (!error.empty()) throw std::runtime_error("CREATE DATABASE " + name + ": " + error);
  return url(name);
}

void PostgresServer::stop() {
  if (pid_ > 0) {
    kill(pid_, SIGINT);  // "fast" shutdown: ends sessions, then exits
    const auto deadline = Clock::now() + kStopTimeout;
    int status = 0;
    bool gone = false;
    while (Clock::now() < deadline) {
      const pid_t r = waitpid(pid_, &status, WNOHANG);
      if (r == pid_ || (r < 0 && errno == ECHILD)) {
        gone = true;
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    if (!gone) {
      kill(pid_, SIGKILL);
      while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
      }
    }
    pid_ = -1;
  }
  if (!dir_.empty()) {
    std::error_code ec;
    fs::remove_all(dir_, ec);
    dir_.clear();
  }
  port_ = 0;
}

}  // namespace salvus::testutil
