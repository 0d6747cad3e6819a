#include "compute/zygote.h"

#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <map>

#include "compute/cgroup.h"
#include "compute/python.h"
#include "compute/sandbox.h"
#include "compute/session_env.h"
#include "compute/worker.h"
#include "core/descriptors.h"
#include "core/fork.h"
#include "core/frame.h"
#include "proto/salvus.pb.h"

namespace salvus::compute {

bool SendPacket(int sock, const std::string& data, int fd_to_pass) {
  iovec iov{const_cast<char*>(data.data()), data.size()};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))];
  if (fd_to_pass >= 0) {
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    std::memcpy(CMSG_DATA(c), &fd_to_pass, sizeof(int));
  }
  for (;;) {
    ssize_t n = sendmsg(sock, &msg, MSG_NOSIGNAL);
    if (n >= 0) return true;
    if (errno != EINTR) return false;
  }
}

bool RecvPacket(int sock, std::string* data, int* fd_received, bool* eof) {
  char buf[65536];
  iovec iov{buf, sizeof buf};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))];
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  *fd_received = -1;
  *eof = false;
  ssize_t n;
  do {
    n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
  } while (n < 0 && errno == EINTR);
  if (n < 0) return false;
  if (n == 0) {
    *eof = true;
    return false;
  }
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
      std::memcpy(fd_received, CMSG_DATA(c), sizeof(int));
    }
  }
  data->assign(buf, static_cast<size_t>(n));
  return true;
}

namespace {

int g_control = -1;
// What Python opened while the zygote started it (a font file, semaphores):
// workers keep these, and nothing else of the zygote's.
std::vector<int> g_python_fds;
constexpr int kPoolNice = 10;

// Getting a worker ready for a future session (its warm-up: 60-100 ms of
// CPU here, much of it copy-on-write faults) must not slow the sessions
// running now: it runs at a lower priority, which the compute server asks
// back (promote_pid) once the worker is ready and asleep. Only done where
// the priority can be raised again, i.e. with CAP_SYS_NICE (as root). (The
// fork itself stays at normal priority: the zygote answers nothing else
// meanwhile, interrupts included, and the compute server already keeps it
// away from starts.)
struct PoolPriority {
  bool enabled = geteuid() == 0;
  int normal = getpriority(PRIO_PROCESS, 0);
  int low() const { return normal + kPoolNice > 19 ? 19 : normal + kPoolNice; }
};

void Send(const proto::ZygoteEvent& ev) {
  std::string data;
  ev.SerializeToString(&data);
  if (!SendPacket(g_control, data, -1)) _exit(0);  // main process gone
}

// Runs in the child after fork: sandbox, then serve the session.
[[noreturn]] void BecomeWorker(const proto::SpawnWorker& spawn, int sock, int sigfd,
                               const sigset_t& old_mask, const ZygoteConfig& config,
                               const PoolPriority& priority) {
  close(g_control);
  close(sigfd);
  sigprocmask(SIG_SETMASK, &old_mask, nullptr);
  // A worker a start waits for keeps its priority (and skips the warm-up).
  if (priority.enabled && !spawn.urgent()) setpriority(PRIO_PROCESS, 0, priority.low());
  signal(SIGCHLD, SIG_DFL);
  // The socket to the main process moves to fd 3, out of the way of stdio.
  if (sock != 3) {
    dup2(sock, 3);
    close(sock);
    sock = 3;
  }
  // Nothing else of the zygote's: a socket another spawn request brought,
  // whatever the zygote got since it started Python.
  std::vector<int> keep = {0, 1, 2, 3};
  keep.insert(keep.end(), g_python_fds.begin(), g_python_fds.end());
  core::CloseAllExcept(std::move(keep));
  SandboxSpec spec{static_cast<uid_t>(spawn.uid()), spawn.home(), spawn.isolate_network(),
                   CgroupLeafDirs(config.cgroup_parents, spawn.home()), config.disk_mb};
  if (auto r = EnterSandbox(spec); !r) {
    proto::Message m;
    m.mutable_error()->set_code(proto::Error::INTERNAL);
    m.mutable_error()->set_text("sandbox: " + r.error());
    const std::string frame = core::FrameBody(m.SerializeAsString());
    (void)!write(sock, frame.data(), frame.size());
    _exit(20);
  }
  const std::string& home = spawn.home();
  SetWorkerEnvironment(home);
  WorkerConfig wc{sock, home, config.per_uid_processes, !spawn.urgent()};
  int code = RunWorker(wc);
  _exit(code);
}

}  // namespace

[[noreturn]] void RunZygote(const ZygoteConfig& config, int control_fd) {
  g_control = control_fd;
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  prctl(PR_SET_CHILD_SUBREAPER, 1);
  prctl(PR_SET_NAME, "salvus-zygote");

  const std::string home = config.state_dir + "/zygote";
  mkdir(home.c_str(), 0700);
  SetZygoteEnvironment(home);  // nothing of the operator's

  if (auto r = InitPython(config.kernel); !r) {
    proto::ZygoteEvent ev;
    ev.set_failed(r.error());
    Send(ev);
    _exit(1);
  }
  for (int fd : core::OpenDescriptors()) {
    if (fd > 2 && fd != control_fd) g_python_fds.push_back(fd);
  }

  sigset_t chld, old_mask;
  sigemptyset(&chld);
  sigaddset(&chld, SIGCHLD);
  sigprocmask(SIG_BLOCK, &chld, &old_mask);
  int sigfd = signalfd(-1, &chld, SFD_CLOEXEC | SFD_NONBLOCK);

  {
    proto::ZygoteEvent ev;
    ev.set_ready(config.kernel);
    Send(ev);
  }

  std::map<pid_t, bool> workers;  // live worker pids
  const PoolPriority priority;

  const core::ForkHooks python_hooks{PythonBeforeFork, PythonAfterForkParent, PythonAfterForkChild};
  for (;;) {
    pollfd fds[2] = {{control_fd, POLLIN, 0}, {sigfd, POLLIN, 0}};
    if (poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      _exit(2);
    }
    if (fds[1].revents & POLLIN) {
      signalfd_siginfo si;
      while (read(sigfd, &si, sizeof si) > 0) {
      }
      int status;
      pid_t pid;
      while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
        if (workers.erase(pid)) {
          proto::ZygoteEvent ev;
          auto* ex = ev.mutable_exited();
          ex->set_pid(pid);
          ex->set_exit_code(WIFEXITED(status) ? WEXITSTATUS(status) : -1);
          ex->set_signal(WIFSIGNALED(status) ? WTERMSIG(status) : 0);
          Send(ev);
        }  // others: orphans we adopted as subreaper (or pid 1)
      }
    }
    if (fds[0].revents & (POLLIN | POLLHUP | POLLERR)) {
      std::string data;
      int fd = -1;
      bool eof = false;
      if (!RecvPacket(control_fd, &data, &fd, &eof)) {
        if (eof) _exit(0);  // the main process is gone; so are we (and our pid namespace)
        continue;
      }
      proto::ZygoteRequest req;
      if (!req.ParseFromString(data)) {
        if (fd >= 0) close(fd);
        continue;
      }
      proto::ZygoteEvent ev;
      ev.set_id(req.id());
      if (req.has_spawn()) {
        if (fd < 0) {
          ev.set_failed("spawn without a socket");
          Send(ev);
          continue;
        }
        pid_t pid = core::Fork(python_hooks);
        if (pid == 0) BecomeWorker(req.spawn(), fd, sigfd, old_mask, config, priority);
        close(fd);
        if (pid < 0) {
          ev.set_failed(std::string("fork: ") + std::strerror(errno));
        } else {
          workers[pid] = true;
          ev.set_spawned_pid(pid);
        }
        Send(ev);
      } else if (req.has_promote_pid()) {
        if (fd >= 0) close(fd);
        if (priority.enabled && workers.count(req.promote_pid())) {
          setpriority(PRIO_PROCESS, req.promote_pid(), priority.normal);
        }
      } else if (req.has_signal()) {
        if (fd >= 0) close(fd);
        // Only our own live workers may be signalled. The value names the
        // request an interrupt is meant for (interrupt_target.h).
        const proto::SignalWorker& sw = req.signal();
        sigval value{};
        value.sival_ptr = reinterpret_cast<void*>(static_cast<uintptr_t>(sw.request()));
        if (workers.count(sw.pid())) sigqueue(sw.pid(), sw.signal(), value);
      }
    }
  }
}

}  // namespace salvus::compute
