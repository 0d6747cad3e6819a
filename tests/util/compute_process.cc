#include "util/compute_process.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "util/child_process.h"
#include "util/uid_block.h"

extern char** environ;

namespace salvus::testutil {

namespace fs = std::filesystem;

ComputeProcess::ComputeProcess(std::vector<std::string> extra)
    // 100 uids of its own among 300000..399999 (web e2e: 200000+, salvus up
    // tests: 250000+).
    : uid_base_(ClaimUidBlock(300000, 100, 1000)) {
  char tmpl[] = "/tmp/salvus-test-XXXXXX";
  dir_ = mkdtemp(tmpl);
  chmod(dir_.c_str(), 0711);  // session uids pass through to their homes
  token_ = "test-token-" + std::to_string(getpid()) + "-0123456789abcdef";
  { std::ofstream(dir_ + "/token") << token_ << "\n"; }
  std::vector<std::string> args = {SALVUS_BINARY, "compute", "--listen", "127.0.0.1:0",
                                   "--token-file", dir_ + "/token", "--port-file", dir_ + "/port",
                                   "--state-dir", dir_ + "/state", "--log-file", dir_ + "/log",
                                   // Each test server gets uids of its own: tests run in parallel.
                                   "--uid-base", std::to_string(uid_base()), "--uid-count", "100"};
  args.insert(args.end(), extra.begin(), extra.end());
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  if (posix_spawn(&pid_, SALVUS_BINARY, nullptr, nullptr, argv.data(), environ) != 0) {
    pid_ = -1;
    return;
  }
  port_ = WaitForPortFile(dir_ + "/port", &pid_, std::chrono::seconds(120));
}

ComputeProcess::~ComputeProcess() {
  if (pid_ > 0) {
    kill(pid_, SIGTERM);
    for (int i = 0; i < 100; ++i) {
      int status;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    if (pid_ > 0) Kill(SIGKILL);
  }
  std::error_code ec;
  fs::remove_all(dir_, ec);
}

void ComputeProcess::Kill(int sig) {
  if (pid_ <= 0) return;
  kill(pid_, sig);
  int status;
  waitpid(pid_, &status, 0);
  pid_ = -1;
}

std::string ComputeProcess::WriteFile(const std::string& path, const std::string& content) {
  std::ofstream(path) << content;
  return path;
}

std::string ComputeProcess::log() const {
  std::ifstream in(dir_ + "/log");
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

compute::ClientOptions ComputeProcess::client_options() const {
  compute::ClientOptions o;
  o.host = "127.0.0.1";
  o.port = port_;
  o.token = token_;
  return o;
}

std::unique_ptr<compute::ComputeClient> ComputeProcess::Connect() const {
  auto c = compute::ComputeClient::Connect(client_options());
  if (!c) return nullptr;
  return std::move(*c);
}

namespace {
template <class F>
std::vector<pid_t> ScanProc(F&& keep) {
  std::vector<pid_t> out;
  for (auto& e : fs::directory_iterator("/proc")) {
    const std::string name = e.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    // A process may end while it is read (ESRCH: libstdc++ throws from
    // istreambuf_iterator): it is not there any more.
    try {
      if (keep(e.path())) out.push_back(std::stoi(name));
    } catch (const std::exception&) {
      continue;
    }
  }
  return out;
}
}  // namespace

std::vector<pid_t> ProcessesWithUids(uid_t first, unsigned count) {
  return ScanProc([&](const fs::path& p) {
    std::ifstream in(p / "status");
    std::string line;
    while (std::getline(in, line)) {
      if (line.rfind("Uid:", 0) == 0) {
        std::istringstream ss(line.substr(4));
        uid_t ruid = 0;
        ss >> ruid;
        return ruid >= first && ruid < first + count;
      }
    }
    return false;
  });
}

std::vector<pid_t> ProcessesMatching(const std::string& needle) {
  return ScanProc([&](const fs::path& p) {
    std::ifstream in(p / "cmdline");
    std::string cmd((std::istreambuf_iterator<char>(in)), {});
    return cmd.find(needle) != std::string::npos;
  });
}

}  // namespace salvus::testutil
