#include "util/memcached_process.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <thread>
#include <vector>

extern char** environ;

namespace salvus::testutil {

bool Accepts(uint16_t port) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(port);
  const bool ok = connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  close(fd);
  return ok;
}

MemcachedProcess::MemcachedProcess() {
  // The port may be taken between choosing and binding: try a few.
  for (int attempt = 0; attempt < 5 && pid_ <= 0; ++attempt) {
    port_ = FreeLoopbackPort();
    Launch();
  }
}

void MemcachedProcess::Restart() {
  Kill();
  Launch();
}

void MemcachedProcess::Launch() {
  std::vector<std::string> args = {
      "/usr/bin/memcached", "-l", "127.0.0.1", "-p", std::to_string(port_), "-U", "0", "-m", "16"};
  if (geteuid() == 0) args.insert(args.end(), {"-u", "nobody"});
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid;
  if (posix_spawn(&pid, argv[0], nullptr, nullptr, argv.data(), environ) != 0) return;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (std::chrono::steady_clock::now() < deadline) {
    int status;
    if (waitpid(pid, &status, WNOHANG) == pid) {
      pid = -1;  // exited: port taken?
      break;
    }
    if (Accepts(port_)) {
      pid_ = pid;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  if (pid_ <= 0 && pid > 0) {
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
  }
}

MemcachedProcess::~MemcachedProcess() { Kill(); }

void MemcachedProcess::Kill() {
  if (pid_ <= 0) return;
  kill(pid_, SIGKILL);
  waitpid(pid_, nullptr, 0);
  pid_ = -1;
}

}  // namespace salvus::testutil
