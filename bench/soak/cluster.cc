#include "soak/cluster.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "util/child_process.h"
#include "util/free_port.h"

namespace salvus::soak {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

struct ProcInfo {
  pid_t pid = 0;
  pid_t ppid = 0;
  long uid = -1;
  std::string comm;
};

// Every process, with its parent, real uid and name (those that end while
// they are read are skipped).
std::vector<ProcInfo> Processes() {
  std::vector<ProcInfo> out;
  DIR* d = opendir("/proc");
  if (d == nullptr) return out;
  while (dirent* e = readdir(d)) {
    if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
    const std::string status = ReadFile(std::string("/proc/") + e->d_name + "/status");
    if (status.empty()) continue;
    ProcInfo p;
    p.pid = static_cast<pid_t>(std::atoi(e->d_name));
    std::istringstream in(status);
    std::string line;
    while (std::getline(in, line)) {
      if (line.rfind("Name:", 0) == 0) p.comm = line.substr(line.find_first_not_of(" \t", 5));
      if (line.rfind("PPid:", 0) == 0) p.ppid = static_cast<pid_t>(std::atol(line.c_str() + 5));
      if (line.rfind("Uid:", 0) == 0) p.uid = std::atol(line.c_str() + 4);
    }
    out.push_back(p);
  }
  closedir(d);
  return out;
}

bool Alive(pid_t pid) { return pid > 0 && kill(pid, 0) == 0; }

// Directories named salvus-compute-* under `dir`, `depth` levels down.
void FindCgroups(const std::string& dir, int depth, std::vector<std::string>* out) {
  if (depth < 0) return;
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) return;
  while (dirent* e = readdir(d)) {
    if (e->d_type != DT_DIR || e->d_name[0] == '.') continue;
    const std::string sub = dir + "/" + e->d_name;
    if (std::strncmp(e->d_name, "salvus-compute-", 15) == 0) {
      out->push_back(sub);
    } else {
      FindCgroups(sub, depth - 1, out);
    }
  }
  closedir(d);
}

}  // namespace

long RssKb(pid_t pid) {
  std::istringstream in(ReadFile("/proc/" + std::to_string(pid) + "/status"));
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::atol(line.c_str() + 6);
  }
  return 0;
}

Cluster::Cluster(std::string binary, unsigned max_sessions, unsigned uid_base)
    : binary_(std::move(binary)), max_sessions_(max_sessions), uid_base_(uid_base) {
  char tmpl[] = "/tmp/salvus-soak-XXXXXX";
  if (mkdtemp(tmpl) == nullptr) throw std::runtime_error("mkdtemp failed");
  dir_ = tmpl;
  chmod(dir_.c_str(), 0711);  // session uids pass through to their homes
  fs::create_directories(dir_ + "/web");
  std::ofstream(dir_ + "/web/index.html") << "<!doctype html><title>soak</title>\n";
  db_url_ = pg_.start();
  memcached_ = std::make_unique<testutil::MemcachedProcess>();
  if (!memcached_->ok()) throw std::runtime_error("memcached did not start");
  port_ = testutil::FreeLoopbackPort();
  StartUp();
}

Cluster::~Cluster() {
  if (up_) StopUp(SIGKILL);
  if (getenv("BENCH_KEEP_DATA") != nullptr) {  // to read its logs
    fprintf(stderr, "kept %s\n", dir_.c_str());
    return;
  }
  std::error_code ec;
  fs::remove_all(dir_, ec);
}

void Cluster::StartUp() {
  unlink((data() + "/hub.port").c_str());
  std::vector<std::string> args = {binary_,
                                   "up",
                                   "--port",
                                   std::to_string(port_),
                                   "--data",
                                   data(),
                                   "--web",
                                   dir_ + "/web",
                                   "--db",
                                   db_url_,
                                   "--memcached",
                                   memcached_->address(),
                                   "--max-sessions",
                                   std::to_string(max_sessions_),
                                   "--max-sessions-per-address",
                                   "0",
                                   "--uid-base",
                                   std::to_string(uid_base_)};
  up_ = std::make_unique<testutil::Child>(args, dir_ + "/up.out", dir_ + "/up.out");
  pid_t pid = up_->pid();
  if (testutil::WaitForPortFile(data() + "/hub.port", &pid, std::chrono::seconds(180)) == 0) {
    up_.reset();  // killed if it still runs
    throw std::runtime_error("salvus up did not start:\n" + ReadFile(dir_ + "/up.out"));
  }
}

void Cluster::StopUp(int signal) {
  const pid_t compute = compute_pid();
  up_->Signal(signal);
  up_->Wait(std::chrono::seconds(60));
  up_.reset();
  // Its compute server follows it (--exit-with-parent), and the zygote and
  // workers follow that.
  for (int i = 0; i < 200 && Alive(compute); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

pid_t Cluster::compute_pid() const {
  for (const ProcInfo& p : Processes()) {
    if (p.ppid == up_pid()) return p.pid;  // its only child
  }
  return 0;
}

std::string Cluster::KillWorker(std::mt19937& rng) {
  std::vector<pid_t> workers;
  for (const ProcInfo& p : Processes()) {
    if (p.uid >= uid_base_ && p.uid < uid_base_ + 1000 && p.comm == "salvus-zygote") {
      workers.push_back(p.pid);
    }
  }
  if (workers.empty()) return "";
  const pid_t victim = workers[std::uniform_int_distribution<size_t>(0, workers.size() - 1)(rng)];
  kill(victim, SIGKILL);
  return "worker " + std::to_string(victim);
}

std::string Cluster::KillCompute() {
  const pid_t pid = compute_pid();
  if (pid <= 0) return "";
  kill(pid, SIGKILL);
  return "compute server " + std::to_string(pid);
}

std::string Cluster::RestartMemcached() {
  memcached_->Restart();
  if (!memcached_->ok()) throw std::runtime_error("memcached did not come back");
  return "memcached";
}

std::string Cluster::RestartPostgres() {
  pg_.Restart();
  return "postgresql";
}

std::string Cluster::RestartUp() {
  StopUp(SIGKILL);
  StartUp();
  return "salvus up";
}

std::vector<std::string> Cluster::StopAndListLeftovers() {
  std::vector<std::string> left;
  if (up_) StopUp(SIGTERM);
  // What a stopped compute server reaps goes within a few seconds.
  const auto deadline = Clock::now() + std::chrono::seconds(10);
  for (;;) {
    left.clear();
    for (const ProcInfo& p : Processes()) {
      if (p.uid >= uid_base_ && p.uid < uid_base_ + 1000) {
        left.push_back("process " + std::to_string(p.pid) + " (" + p.comm + ") of uid " +
                       std::to_string(p.uid));
      }
    }
    std::vector<std::string> cgroups;
    FindCgroups("/sys/fs/cgroup", 3, &cgroups);
    for (const auto& c : cgroups) {
      // salvus-compute-PID[-main]: another compute server's while PID runs.
      const pid_t owner =
          static_cast<pid_t>(std::atol(c.c_str() + c.rfind("salvus-compute-") + 15));
      if (!Alive(owner)) left.push_back("cgroup " + c);
    }
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(data() + "/compute/homes", ec)) {
      left.push_back("home " + e.path().string());
    }
    for (const char* tmp : {"/tmp", "/var/tmp", "/dev/shm"}) {
      for (const auto& e : fs::directory_iterator(tmp, ec)) {
        struct stat st;
        if (lstat(e.path().c_str(), &st) == 0 && st.st_uid >= uid_base_ &&
            st.st_uid < uid_base_ + 1000) {
          left.push_back("file " + e.path().string() + " of uid " + std::to_string(st.st_uid));
        }
      }
    }
    if (left.empty() || Clock::now() > deadline) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  return left;
}

}  // namespace salvus::soak
