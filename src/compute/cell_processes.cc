#include "compute/cell_processes.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <charconv>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

namespace salvus::compute {

bool ParseStatGroup(std::string_view stat, pid_t* pgrp, char* state) {
  // "pid (comm) state ppid pgrp ..."
  const size_t paren = stat.rfind(')');
  if (paren == std::string_view::npos || paren + 2 >= stat.size()) return false;
  std::string_view rest = stat.substr(paren + 2);
  *state = rest[0];
  size_t pos = 1;
  for (int field = 0; field < 2; ++field) {  // skip " ppid", land on pgrp
    pos = rest.find(' ', pos);
    if (pos == std::string_view::npos) return false;
    ++pos;
  }
  const char* end = rest.data() + rest.size();
  auto [p, ec] = std::from_chars(rest.data() + pos, end, *pgrp);
  return ec == std::errc() && p != rest.data() + pos;
}

pid_t NewestPid() {
  char buf[128];
  const int fd = open("/proc/loadavg", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  const ssize_t n = read(fd, buf, sizeof buf);
  close(fd);
  if (n <= 0) return -1;
  std::string_view text(buf, static_cast<size_t>(n));
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.remove_suffix(1);
  const size_t space = text.rfind(' ');
  if (space == std::string_view::npos) return -1;
  pid_t pid = -1;
  auto [p, ec] = std::from_chars(text.data() + space + 1, text.data() + text.size(), pid);
  return ec == std::errc() ? pid : -1;
}

namespace {

// What /proc/PID/fd/N links to ("pipe:[1234]"), or "".
std::string FdTarget(pid_t pid, int n) {
  char path[64], target[128];
  std::snprintf(path, sizeof path, "/proc/%d/fd/%d", pid, n);
  const ssize_t len = readlink(path, target, sizeof target);
  return len > 0 ? std::string(target, static_cast<size_t>(len)) : std::string();
}

// The live (not zombie) processes other than `self` of group `pgrp`, or
// writing into `outputs` (the caller's stdout and stderr pipes) from their
// fd 1 or 2, wherever they moved (setsid).
std::vector<pid_t> LeftBehind(pid_t pgrp, pid_t self, const std::string (&outputs)[2]) {
  auto writes_ours = [&](pid_t pid) {
    for (int n : {1, 2}) {
      const std::string t = FdTarget(pid, n);
      if (!t.empty() && (t == outputs[0] || t == outputs[1])) return true;
    }
    return false;
  };
  std::vector<pid_t> found;
  DIR* d = opendir("/proc");
  if (d == nullptr) return found;
  while (dirent* e = readdir(d)) {
    if (e->d_name[0] < '1' || e->d_name[0] > '9') continue;
    pid_t pid = 0;
    std::from_chars(e->d_name, e->d_name + std::strlen(e->d_name), pid);
    if (pid == self) continue;
    char path[64], buf[512];
    std::snprintf(path, sizeof path, "/proc/%d/stat", pid);
    const int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) continue;
    const ssize_t n = read(fd, buf, sizeof buf);
    close(fd);
    pid_t group = 0;
    char state = 0;
    if (n > 0 && ParseStatGroup(std::string_view(buf, static_cast<size_t>(n)), &group, &state) &&
        state != 'Z' && state != 'X' && (group == pgrp || writes_ours(pid))) {
      found.push_back(pid);
    }
  }
  closedir(d);
  return found;
}

}  // namespace

int EndOtherProcessesInGroup() {
  const pid_t self = getpid();
  const pid_t pgrp = getpgrp();
  // Only pipes count: a terminal or /dev/null is shared by unrelated processes.
  std::string outputs[2] = {FdTarget(self, 1), FdTarget(self, 2)};
  for (auto& o : outputs) {
    if (!o.starts_with("pipe:")) o = "-";
  }
  std::vector<pid_t> killed;
  // Until a scan finds none: a process killed while it forked leaves a child
  // the next scan finds (fork is atomic with respect to the signal).
  for (int round = 0; round < 500; ++round) {
    const size_t before = killed.size();
    for (pid_t p : LeftBehind(pgrp, self, outputs)) {
      if (kill(p, SIGKILL) == 0) killed.push_back(p);
    }
    if (killed.size() == before) break;
    usleep(round < 10 ? 200 : 2000);
  }
  // Our own children among them must not stay zombies (they would count
  // against the session's process limit); others' fail with ECHILD.
  // (Bounded: a pid reused meanwhile by a live child is not waited for long.)
  for (pid_t p : killed) {
    for (int i = 0; i < 100 && waitpid(p, nullptr, WNOHANG | __WALL) == 0; ++i) usleep(1000);
  }
  return static_cast<int>(killed.size());
}

}  // namespace salvus::compute
