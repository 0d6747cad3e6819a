#include "util/up_process.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <expected>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

#include "client/hub_client.h"
#include "util/child_process.h"
#include "util/compute_process.h"
#include "util/uid_block.h"

extern char** environ;

namespace salvus::testutil {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

UpProcess::UpProcess(std::vector<std::string> extra, UpSetup setup)
    // 1000 uids (what `salvus up` takes as root) among 250000..259999.
    : uid_base_(setup.own_uids ? ClaimUidBlock(250000, 1000, 10) : 0) {
  char tmpl[] = "/tmp/salvus-up-test-XXXXXX";
  dir_ = mkdtemp(tmpl);
  if (!setup.private_parent) chmod(dir_.c_str(), 0711);  // session uids pass through
  // The tests speak only to /ws; a stub page keeps them independent of the web build.
  fs::create_directories(dir_ + "/web");
  std::ofstream(dir_ + "/web/index.html") << "<!doctype html><title>stub</title>\n";
  std::vector<std::string> args = {SALVUS_BINARY, "up",   "--port", "0",
                                   "--data",      data(), "--web",  dir_ + "/web"};
  if (setup.pool != 0) {
    args.push_back("--pool");
    args.push_back(std::to_string(setup.pool));
  }
  if (setup.own_uids) {
    args.push_back("--uid-base");
    args.push_back(std::to_string(uid_base_));
  }
  args.insert(args.end(), extra.begin(), extra.end());
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 1, (dir_ + "/up.out").c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                   0644);
  posix_spawn_file_actions_adddup2(&fa, 1, 2);
  const int rc = posix_spawn(&pid_, SALVUS_BINARY, &fa, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) {
    pid_ = -1;
    return;
  }
  const uint16_t port = WaitForPortFile(data() + "/hub.port", &pid_, std::chrono::seconds(180));
  if (!setup.own_uids) {
    // "session uids 201000..201999 (...)"
    const std::string out = ReadFile(dir_ + "/up.out");
    const size_t at = out.find("session uids ");
    if (at != std::string::npos) uid_base_ = std::stoul(out.substr(at + 13));
  }
  if (port != 0 && WaitForSessions(port, extra)) port_ = port;
}

// hub.port appears once the hub is connected to its compute server on every
// event loop: from then on a session must start at the first try on any
// connection (they land on different event loops), never UNAVAILABLE.
bool UpProcess::WaitForSessions(uint16_t port, const std::vector<std::string>& extra) {
  client::HubClientOptions o;
  const bool tls = std::find(extra.begin(), extra.end(), "--tls-cert") != extra.end();
  o.url = std::string(tls ? "wss" : "ws") + "://127.0.0.1:" + std::to_string(port) + "/ws";
  auto kernel = std::find(extra.begin(), extra.end(), "--kernel");
  const std::string k = kernel != extra.end() && kernel + 1 != extra.end() ? kernel[1] : "";
  for (int i = 0; i < 8; ++i) {
    auto c = client::HubClient::Connect(o);
    auto s = c ? (*c)->StartSession(k) : std::unexpected(c.error());
    if (!s) {
      std::cerr << "salvus up: a session did not start right after hub.port appeared: " << s.error()
                << "\n";
      return false;
    }
    // Until its ack the session holds a place among its address's sessions.
    const uint64_t t = (*c)->Terminate(*s);
    for (auto m = (*c)->Receive(); m && m->id() != t; m = (*c)->Receive()) {
    }
    (*c)->Close();
  }
  return true;
}

std::string UpProcess::Stop() {
  std::string problems;
  if (pid_ > 0) {
    kill(pid_, SIGTERM);
    const auto deadline = Clock::now() + std::chrono::seconds(30);
    int status = 0;
    bool exited = false;
    while (Clock::now() < deadline) {
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        exited = true;
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    if (!exited) {
      problems += "salvus up did not exit within 30 s of SIGTERM; ";
      kill(pid_, SIGKILL);
      waitpid(pid_, &status, 0);
    } else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      problems += "salvus up exited with status " + std::to_string(status) + "; ";
    }
    pid_ = -1;
  }
  // Its compute server, zygote and workers name the data folder or run
  // with its uids; give the kernel a moment to reap them.
  for (int i = 0; i < 50; ++i) {
    if (Leftovers().empty()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  for (pid_t p : Leftovers()) {
    problems += "left behind: pid " + std::to_string(p) + " " +
                ReadFile("/proc/" + std::to_string(p) + "/cmdline") + "; ";
    kill(p, SIGKILL);
  }
  return problems;
}

UpProcess::~UpProcess() {
  Stop();
  std::error_code ec;
  fs::remove_all(dir_, ec);
}

std::string UpProcess::log() const {
  return ReadFile(dir_ + "/up.out") + ReadFile(data() + "/compute.log");
}

std::vector<pid_t> UpProcess::Leftovers() const {
  std::vector<pid_t> left = ProcessesMatching(data());
  if (geteuid() == 0 && uid_base_ != 0) {
    for (pid_t p : ProcessesWithUids(uid_base_, 1000)) left.push_back(p);
  }
  std::erase(left, getpid());
  return left;
}

namespace {
pid_t ParentOf(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(in)), {});
  const size_t paren = stat.rfind(')');
  if (paren == std::string::npos) return -1;
  std::istringstream rest(stat.substr(paren + 2));
  char state;
  pid_t ppid = -1;
  rest >> state >> ppid;
  return ppid;
}
}  // namespace

pid_t ComputeServerOf(const UpProcess& up) {
  for (pid_t p : ProcessesMatching(up.data() + "/compute.log")) {
    if (ParentOf(p) == up.pid()) return p;
  }
  return -1;
}

std::string StartAfterRestart(const UpProcess& up, pid_t old, client::HubClient& c) {
  if (!WaitFor(
          [&] {
            const pid_t now = ComputeServerOf(up);
            return now > 0 && now != old;
          },
          std::chrono::seconds(60))) {
    return "";
  }
  for (int i = 0; i < 300; ++i) {
    if (auto s = c.StartSession()) return *s;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  return "";
}

std::unique_ptr<client::HubClient> ConnectTo(const UpProcess& up) {
  client::HubClientOptions o;
  o.url = up.url();
  o.connect_timeout_s = 10;
  auto c = client::HubClient::Connect(o);
  return c ? std::move(*c) : nullptr;
}

}  // namespace salvus::testutil
