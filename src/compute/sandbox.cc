#include "compute/sandbox.h"

#include <dirent.h>
#include <fcntl.h>
#include <grp.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "compute/cgroup.h"
#include "compute/session_mounts.h"

namespace salvus::compute {
namespace {

std::unexpected<std::string> Fail(const std::string& what) {
  return std::unexpected(what + ": " + std::strerror(errno));
}

// Removes everything inside the directory open as `dirfd`, recursively.
void RemoveContents(int dirfd) {
  DIR* d = fdopendir(dirfd);
  if (d == nullptr) {
    close(dirfd);
    return;
  }
  while (dirent* e = readdir(d)) {
    if (std::strcmp(e->d_name, ".") == 0 || std::strcmp(e->d_name, "..") == 0) continue;
    if (unlinkat(dirfd, e->d_name, 0) == 0) continue;
    int sub = openat(dirfd, e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (sub >= 0) {
      fchmod(sub, 0700);  // user code may have made it unreadable
      RemoveContents(sub);
    }
    unlinkat(dirfd, e->d_name, AT_REMOVEDIR);
  }
  closedir(d);
}

// Removes entries directly under `dir` owned by a uid in [first, first +
// count) (recursively).
void RemoveOwnedEntries(const char* dir, uid_t first, unsigned count = 1) {
  int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0) return;
  DIR* d = fdopendir(dfd);
  if (d == nullptr) {
    close(dfd);
    return;
  }
  while (dirent* e = readdir(d)) {
    if (std::strcmp(e->d_name, ".") == 0 || std::strcmp(e->d_name, "..") == 0) continue;
    struct stat st;
    if (fstatat(dfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 || st.st_uid < first ||
        st.st_uid - first >= count) {
      continue;
    }
    if (S_ISDIR(st.st_mode)) {
      int sub = openat(dfd, e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if (sub >= 0) RemoveContents(sub);
      unlinkat(dfd, e->d_name, AT_REMOVEDIR);
    } else {
      unlinkat(dfd, e->d_name, 0);
    }
  }
  closedir(d);
}

// A process other than the caller, not yet a zombie, whose real uid is in
// [first, first + count); 0 if none. (kill(-1) cannot tell: it succeeds
// whenever any process exists.)
pid_t FindLiveProcess(uid_t first, unsigned count) {
  char self[32] = {0};
  if (readlink("/proc/self", self, sizeof self - 1) < 0) return 0;
  DIR* d = opendir("/proc");
  if (d == nullptr) return 0;
  pid_t found = 0;
  while (dirent* e = readdir(d)) {
    if (e->d_name[0] < '0' || e->d_name[0] > '9' || std::strcmp(e->d_name, self) == 0) continue;
    char path[64];
    std::snprintf(path, sizeof path, "/proc/%s/status", e->d_name);
    FILE* f = std::fopen(path, "re");
    if (f == nullptr) continue;
    char line[256];
    bool zombie = false;
    long ruid = -1;
    while (std::fgets(line, sizeof line, f)) {
      if (std::strncmp(line, "State:", 6) == 0) zombie = std::strchr(line, 'Z') != nullptr;
      if (std::strncmp(line, "Uid:", 4) == 0) {
        ruid = std::strtol(line + 4, nullptr, 10);
        break;
      }
    }
    std::fclose(f);
    if (!zombie && ruid >= static_cast<long>(first) &&
        ruid < static_cast<long>(first) + static_cast<long>(count)) {
      found = static_cast<pid_t>(std::atoi(e->d_name));
      break;
    }
  }
  closedir(d);
  return found;
}

}  // namespace

pid_t AnyProcessWithUidIn(uid_t first, unsigned count) { return FindLiveProcess(first, count); }

std::expected<void, std::string> CanIsolateNetwork() {
  const pid_t pid = fork();
  if (pid < 0) return Fail("fork");
  if (pid == 0) _exit(unshare(CLONE_NEWNET) == 0 ? 0 : errno);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return {};
  errno = WIFEXITED(status) ? WEXITSTATUS(status) : ECHILD;
  return Fail("unshare(CLONE_NEWNET)");
}

void RemoveEntriesOfUids(const char* dir, uid_t first, unsigned count) {
  RemoveOwnedEntries(dir, first, count);
}

void RemoveTree(const std::string& path) {
  int fd = open(path.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd >= 0) RemoveContents(fd);
  if (rmdir(path.c_str()) != 0) unlink(path.c_str());
}

std::expected<void, std::string> EnterSandbox(const SandboxSpec& spec) {
  if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) return Fail("prctl(PR_SET_PDEATHSIG)");
  if (setsid() < 0) return Fail("setsid");
  // Before anything else is started, and while still allowed to.
  if (auto r = JoinCgroups(spec.cgroups); !r) return std::unexpected("cgroup: " + r.error());
  // A leftover home from a crashed run must not leak into a new session.
  RemoveTree(spec.home);
  if (mkdir(spec.home.c_str(), 0700) != 0) return Fail("mkdir " + spec.home);
  if (spec.uid != 0) {
    if (chown(spec.home.c_str(), spec.uid, spec.uid) != 0) return Fail("chown " + spec.home);
    if (spec.isolate_network && unshare(CLONE_NEWNET) != 0) return Fail("unshare(CLONE_NEWNET)");
    if (unshare(CLONE_NEWIPC) != 0) return Fail("unshare(CLONE_NEWIPC)");
    if (auto r = EnterSessionMounts({spec.home, spec.uid, spec.disk_mb}); !r) return r;
    if (setgroups(0, nullptr) != 0) return Fail("setgroups");
    if (setresgid(spec.uid, spec.uid, spec.uid) != 0) return Fail("setresgid");
    if (setresuid(spec.uid, spec.uid, spec.uid) != 0) return Fail("setresuid");
    if (geteuid() == 0 || getuid() == 0) {
      errno = EPERM;
      return Fail("dropping root");
    }
  } else if (spec.isolate_network && unshare(CLONE_NEWUSER | CLONE_NEWNET) != 0) {
    return Fail("unshare(CLONE_NEWNET) without root");
  }
  // No core dumps: they would land in the home and could be huge.
  struct rlimit core = {0, 0};
  setrlimit(RLIMIT_CORE, &core);
  if (chdir(spec.home.c_str()) != 0) return Fail("chdir " + spec.home);
  // Sharing the server's uid, no other process of it may trace the worker.
  // With a uid of its own only the session's processes could, and the
  // worker must see them in its /proc to end what a cell forked
  // (cell_processes.h): hidepid hides non-dumpable processes, and dropping
  // root made this one (and so its forks) non-dumpable.
  prctl(PR_SET_DUMPABLE, spec.uid == 0 ? 0 : 1);
  return {};
}

size_t MappedBytes() {
  // The first field of statm is the address space size in pages. (Reading it
  // takes about a millisecond for a Sage-sized process here: do it early.)
  unsigned long pages = 0;
  if (FILE* f = std::fopen("/proc/self/statm", "re")) {
    if (std::fscanf(f, "%lu", &pages) != 1) pages = 0;
    std::fclose(f);
  }
  return static_cast<size_t>(pages) * static_cast<size_t>(sysconf(_SC_PAGESIZE));
}

std::expected<void, std::string> ApplyLimits(const proto::Limits& l, bool per_uid_processes,
                                             size_t mapped_bytes) {
  auto set = [](int resource, rlim_t value, const char* name,
                rlim_t hard_extra = 0) -> std::expected<void, std::string> {
    struct rlimit cur;
    getrlimit(resource, &cur);
    // Only ever lower: a worker cannot raise a hard limit anyway.
    rlim_t v = value, h = value + hard_extra;
    if (cur.rlim_max != RLIM_INFINITY && h > cur.rlim_max) h = cur.rlim_max;
    if (v > h) v = h;
    struct rlimit r = {v, h};
    if (setrlimit(resource, &r) != 0) return Fail(std::string("setrlimit ") + name);
    return {};
  };
  if (l.cputime_s() > 0) {
    // SIGXCPU at the soft limit ends the worker with a clear cause; the
    // hard limit (SIGKILL) is the backstop if user code ignores it.
    auto r = set(RLIMIT_CPU, static_cast<rlim_t>(l.cputime_s() + 0.999), "RLIMIT_CPU", 2);
    if (!r) return r;
  }
  if (l.memory_mb() > 0) {
    const rlim_t base = static_cast<rlim_t>(mapped_bytes);
    auto r = set(RLIMIT_AS, base + static_cast<rlim_t>(l.memory_mb()) * 1024 * 1024, "RLIMIT_AS");
    if (!r) return r;
  }
  if (l.open_files() > 0) {
    auto r = set(RLIMIT_NOFILE, l.open_files(), "RLIMIT_NOFILE");
    if (!r) return r;
  }
  if (l.processes() > 0 && per_uid_processes) {
    auto r = set(RLIMIT_NPROC, l.processes(), "RLIMIT_NPROC");
    if (!r) return r;
  }
  if (l.file_size_mb() > 0) {
    auto r = set(RLIMIT_FSIZE, static_cast<rlim_t>(l.file_size_mb()) * 1024 * 1024, "RLIMIT_FSIZE");
    if (!r) return r;
  }
  return {};
}

void ReapSession(pid_t pid, uid_t uid, const std::string& home,
                 const std::vector<std::string>& cgroups) {
  if (uid == 0) {
    if (pid > 0) {
      kill(-pid, SIGKILL);  // the worker leads its own process group
      kill(pid, SIGKILL);
    }
    KillAndRemoveCgroups(cgroups);
    RemoveTree(home);
    return;
  }
  // Everything in the session's cgroups, whatever uid it runs as now (a
  // set-uid program, say); removed at the end, once the uid is clean too.
  KillCgroups(cgroups);
  // Real and effective uid become the session's, the saved uid stays root.
  // kill(-1) then signals exactly the processes of that uid (never the
  // caller itself), and files are removed with the session's own rights, so
  // a planted symlink cannot make root delete anything else.
  if (setresuid(uid, uid, 0) != 0) _exit(3);
  // kill(-1) is atomic with respect to fork, so a fork loop cannot outrun
  // it; repeat only in case a process was between exec and becoming ours.
  for (int i = 0; i < 500; ++i) {
    kill(-1, SIGKILL);
    if (FindLiveProcess(uid, 1) == 0) break;
    usleep(2000);
  }
  int fd = open(home.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd >= 0) RemoveContents(fd);
  RemoveOwnedEntries("/tmp", uid);
  RemoveOwnedEntries("/var/tmp", uid);
  RemoveOwnedEntries("/dev/shm", uid);
  if (setresuid(0, 0, 0) != 0) _exit(3);
  KillAndRemoveCgroups(cgroups);
  RemoveTree(home);  // the (now empty) home sits in a root-owned folder
}

}  // namespace salvus::compute
