#include "admin/process.h"

#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <sched.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <thread>

#include "core/descriptors.h"
#include "core/fork.h"

namespace salvus::admin {

namespace {

// In the child: only async-signal-safe calls until exec, and a message on
// stderr when something fails.
[[noreturn]] void Fail(const char* what) {
  const char* e = std::strerror(errno);
  (void)!write(2, "salvus admin: ", 14);
  (void)!write(2, what, std::strlen(what));
  (void)!write(2, ": ", 2);
  (void)!write(2, e, std::strlen(e));
  (void)!write(2, "\n", 1);
  _exit(127);
}

struct Prepared {
  std::vector<std::string> argv_s;
  std::vector<char*> argv;
  std::vector<std::string> env_s;
  std::vector<char*> env;
  int netns_fd = -1;
  uid_t uid = 0;
  gid_t gid = 0;
  std::string user;
  bool as_user = false;
};

std::expected<Prepared, std::string> Prepare(const std::vector<std::string>& argv,
                                             const ProcessOptions& o) {
  Prepared p;
  if (argv.empty()) return std::unexpected("nothing to run");
  p.argv_s = argv;
  for (auto& a : p.argv_s) p.argv.push_back(a.data());
  p.argv.push_back(nullptr);
  for (char** e = environ; *e; ++e) p.env_s.emplace_back(*e);
  for (const auto& e : o.env) p.env_s.push_back(e);
  for (auto& e : p.env_s) p.env.push_back(e.data());
  p.env.push_back(nullptr);
  if (!o.netns.empty()) {
    const std::string path = "/run/netns/" + o.netns;
    p.netns_fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (p.netns_fd < 0) {
      return std::unexpected("no network namespace " + o.netns + ": " + std::strerror(errno));
    }
  }
  if (o.uid) {
    const passwd* pw = getpwuid(*o.uid);
    if (!pw) return std::unexpected("no user with uid " + std::to_string(*o.uid));
    p.as_user = true;
    p.uid = pw->pw_uid;
    p.gid = pw->pw_gid;
    p.user = pw->pw_name;
  }
  return p;
}

// The child's side: namespace, user, descriptors, then exec.
[[noreturn]] void Become(const Prepared& p, const ProcessOptions& o, int out_fd, bool own_session) {
  if (own_session) setsid();
  if (p.netns_fd >= 0 && setns(p.netns_fd, CLONE_NEWNET) != 0) Fail("setns");
  const int in = open("/dev/null", O_RDONLY);
  if (in < 0 || dup2(in, 0) < 0) Fail("stdin");
  if (out_fd >= 0 && (dup2(out_fd, 1) < 0 || dup2(out_fd, 2) < 0)) Fail("stdout");
  core::CloseAllExcept({0, 1, 2});
  if (p.as_user) {
    if (initgroups(p.user.c_str(), p.gid) != 0) Fail("initgroups");
    if (setgid(p.gid) != 0) Fail("setgid");
    if (setuid(p.uid) != 0) Fail("setuid");
  }
  if (!o.cwd.empty() && chdir(o.cwd.c_str()) != 0) Fail("chdir");
  signal(SIGPIPE, SIG_DFL);
  execvpe(p.argv[0], p.argv.data(), p.env.data());
  Fail(p.argv[0]);
}

}  // namespace

std::string Quote(const std::vector<std::string>& argv) {
  std::string s;
  for (const auto& a : argv) {
    if (!s.empty()) s += ' ';
    if (a.find_first_of(" '\"\\$") == std::string::npos && !a.empty()) {
      s += a;
    } else {
      s += "'";
      for (char c : a) s += c == '\'' ? std::string("'\\''") : std::string(1, c);
      s += "'";
    }
  }
  return s;
}

RunResult Run(const std::vector<std::string>& argv, const ProcessOptions& o,
              std::chrono::seconds timeout) {
  RunResult r;
  auto p = Prepare(argv, o);
  if (!p) {
    r.output = p.error();
    return r;
  }
  int pipe_fds[2] = {-1, -1};
  int out = -1;
  if (o.log.empty()) {
    if (pipe2(pipe_fds, O_CLOEXEC) != 0) {
      r.output = std::string("pipe: ") + std::strerror(errno);
      return r;
    }
    out = pipe_fds[1];
  } else {
    out = open(o.log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  }
  const pid_t pid = core::Fork();
  if (pid == 0) Become(*p, o, out, false);
  if (p->netns_fd >= 0) close(p->netns_fd);
  if (out >= 0) close(out);
  if (pid < 0) {
    if (pipe_fds[0] >= 0) close(pipe_fds[0]);
    r.output = std::string("fork: ") + std::strerror(errno);
    return r;
  }
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  if (pipe_fds[0] >= 0) {
    fcntl(pipe_fds[0], F_SETFL, O_NONBLOCK);
  }
  int status = 0;
  for (;;) {
    if (pipe_fds[0] >= 0) {
      char buf[4096];
      ssize_t n;
      while ((n = read(pipe_fds[0], buf, sizeof buf)) > 0) {
        if (r.output.size() < (64u << 10)) r.output.append(buf, static_cast<size_t>(n));
      }
    }
    const pid_t w = waitpid(pid, &status, WNOHANG);
    if (w == pid) break;
    if (w < 0 && errno != EINTR) break;
    if (std::chrono::steady_clock::now() > deadline) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      r.output += "\n(killed after " + std::to_string(timeout.count()) + " s)";
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  if (pipe_fds[0] >= 0) {
    char buf[4096];
    ssize_t n;
    while ((n = read(pipe_fds[0], buf, sizeof buf)) > 0) {
      if (r.output.size() < (64u << 10)) r.output.append(buf, static_cast<size_t>(n));
    }
    close(pipe_fds[0]);
  }
  r.status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return r;
}

std::expected<pid_t, std::string> Launch(const std::vector<std::string>& argv,
                                         const ProcessOptions& o) {
  auto p = Prepare(argv, o);
  if (!p) return std::unexpected(p.error());
  const std::string log = o.log.empty() ? "/dev/null" : o.log;
  const int out = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (out < 0) {
    if (p->netns_fd >= 0) close(p->netns_fd);
    return std::unexpected("cannot open " + log + ": " + std::strerror(errno));
  }
  if (p->as_user) (void)!fchown(out, p->uid, p->gid);
  const pid_t pid = core::Fork();
  if (pid == 0) Become(*p, o, out, true);
  const int saved = errno;
  close(out);
  if (p->netns_fd >= 0) close(p->netns_fd);
  if (pid < 0) return std::unexpected(std::string("fork: ") + std::strerror(saved));
  return pid;
}

bool InNetns(const std::string& netns, const std::function<bool()>& probe,
             std::chrono::seconds timeout) {
  if (netns.empty()) return probe();
  const std::string path = "/run/netns/" + netns;
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  const pid_t pid = core::Fork();
  if (pid == 0) {
    if (setns(fd, CLONE_NEWNET) != 0) _exit(2);
    _exit(probe() ? 0 : 1);
  }
  close(fd);
  if (pid < 0) return false;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  int status = 0;
  while (waitpid(pid, &status, WNOHANG) == 0) {
    if (std::chrono::steady_clock::now() > deadline) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

bool Alive(pid_t pid) {
  if (pid <= 0) return false;
  int status;
  if (waitpid(pid, &status, WNOHANG) == pid) return false;  // our child, now reaped
  if (kill(pid, 0) != 0 && errno != EPERM) return false;
  // A zombie (exited, not yet reaped by its parent) is gone too.
  const std::string stat = "/proc/" + std::to_string(pid) + "/stat";
  char buf[512] = {};
  const int fd = open(stat.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  const ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  const char* paren = n > 0 ? std::strrchr(buf, ')') : nullptr;
  return !(paren && paren[1] == ' ' && (paren[2] == 'Z' || paren[2] == 'X'));
}

bool Stop(pid_t pid, std::chrono::milliseconds grace) {
  if (!Alive(pid)) return true;
  kill(pid, SIGTERM);
  const auto deadline = std::chrono::steady_clock::now() + grace;
  while (std::chrono::steady_clock::now() < deadline) {
    if (!Alive(pid)) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  kill(pid, SIGKILL);
  for (int i = 0; i < 250 && Alive(pid); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return !Alive(pid);
}

}  // namespace salvus::admin
