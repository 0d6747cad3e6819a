#include "compute/session_mounts.h"

#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

namespace salvus::compute {
namespace {

std::unexpected<std::string> Fail(const std::string& what) {
  return std::unexpected(what + ": " + std::strerror(errno));
}

bool IsDirectory(const char* path) {
  struct stat st;
  return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

// An open descriptor and its /proc/self/fd path (a mount source that
// needs no path, with /proc still the host's).
struct Fd {
  explicit Fd(int f) : fd(f) {}
  ~Fd() {
    if (fd >= 0) close(fd);
  }
  std::string Path() const { return "/proc/self/fd/" + std::to_string(fd); }
  int fd;
};

// The places programs expect to write besides the home, each a folder of
// the session's tmpfs.
struct Place {
  const char* folder;  // in the tmpfs
  const char* target;  // where it is mounted
};
constexpr Place kPlaces[] = {{"tmp", "/tmp"}, {"var-tmp", "/var/tmp"}, {"shm", "/dev/shm"}};

}  // namespace

std::string SessionTmpfsOptions(unsigned disk_mb) {
  std::string o = "mode=0711,uid=0,gid=0";
  if (disk_mb > 0) {
    // Inodes cost kernel memory outside `size`: one per 16 KiB allowed,
    // plenty for a home and a few temporary files.
    const unsigned long inodes = disk_mb * 64UL < 4096 ? 4096 : disk_mb * 64UL;
    o += ",size=" + std::to_string(disk_mb) + "m,nr_inodes=" + std::to_string(inodes);
  }
  return o;
}

std::expected<void, std::string> TrySessionMounts(const std::string& scratch) {
  if (mkdir(scratch.c_str(), 0700) != 0 && errno != EEXIST) return Fail("mkdir " + scratch);
  int p[2];
  if (pipe2(p, O_CLOEXEC) != 0) return Fail("pipe");
  const pid_t pid = fork();
  if (pid < 0) {
    close(p[0]);
    close(p[1]);
    return Fail("fork");
  }
  if (pid == 0) {
    close(p[0]);
    auto r = EnterSessionMounts({scratch, 65534, 1});
    const std::string why = r ? "" : r.error();
    (void)!write(p[1], why.data(), why.size());
    _exit(r ? 0 : 1);
  }
  close(p[1]);
  std::string why;
  char buf[256];
  ssize_t n;
  while ((n = read(p[0], buf, sizeof buf)) > 0) why.append(buf, static_cast<size_t>(n));
  close(p[0]);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  rmdir(scratch.c_str());
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return {};
  return std::unexpected(why.empty() ? "the trial ended abnormally" : why);
}

std::expected<void, std::string> EnterSessionMounts(const SessionMountsSpec& spec) {
  if (unshare(CLONE_NEWNS) != 0) return Fail("unshare(CLONE_NEWNS)");
  // Nothing done here may reach the host's mounts, nor the host's later
  // mounts this namespace.
  if (mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) {
    return Fail("making / private");
  }
  struct mount_attr ro {};
  ro.attr_set = MOUNT_ATTR_RDONLY;
  if (mount_setattr(AT_FDCWD, "/", AT_RECURSIVE, &ro, sizeof ro) != 0) {
    return Fail("mount_setattr(/, read-only, recursive)");
  }
  // The session's writable space: mounted after the tree went read-only.
  // Its folders are held by descriptors: the home itself may lie under
  // /tmp (a state dir there), which the bind below replaces.
  const char* home = spec.home.c_str();
  const std::string options = SessionTmpfsOptions(spec.disk_mb);
  if (mount("salvus-session", home, "tmpfs", MS_NOSUID | MS_NODEV, options.c_str()) != 0) {
    return Fail("mounting the session's tmpfs on " + spec.home);
  }
  const std::string inner_home = spec.home + "/home";
  if (mkdir(inner_home.c_str(), 0700) != 0 || chown(inner_home.c_str(), spec.uid, spec.uid) != 0) {
    return Fail("mkdir " + inner_home);
  }
  Fd home_fd(open(inner_home.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (home_fd.fd < 0) return Fail("open " + inner_home);
  for (const Place& p : kPlaces) {
    if (!IsDirectory(p.target)) continue;
    const std::string dir = spec.home + "/" + p.folder;
    if (mkdir(dir.c_str(), 0) != 0 || chmod(dir.c_str(), 01777) != 0) return Fail("mkdir " + dir);
    // A home under this place: where its path leads once the place is
    // replaced (root's folders, 0711, on the way).
    const std::string prefix = std::string(p.target) + "/";
    if (spec.home.starts_with(prefix)) {
      std::string path = dir;
      for (const auto& part : std::filesystem::path(spec.home.substr(prefix.size()))) {
        path += "/" + part.string();
        if (mkdir(path.c_str(), 0) != 0 || chmod(path.c_str(), 0711) != 0) {
          return Fail("mkdir " + path);  // (chmod: the umask may be 077)
        }
      }
    }
    Fd fd(open(dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (fd.fd < 0 || mount(fd.Path().c_str(), p.target, nullptr, MS_BIND, nullptr) != 0) {
      return Fail(std::string("bind-mounting ") + p.target);
    }
  }
  // The home on top of the tmpfs's root (or of the folder made above): the
  // session sees only its own folder.
  if (mount(home_fd.Path().c_str(), home, nullptr, MS_BIND, nullptr) != 0) {
    return Fail("bind-mounting the home");
  }
  // A /proc of this pid namespace, listing only the caller's uid's processes.
  const unsigned long proc_flags = MS_NOSUID | MS_NODEV | MS_NOEXEC;
  if (mount("proc", "/proc", "proc", proc_flags, "hidepid=invisible") != 0 &&
      mount("proc", "/proc", "proc", proc_flags, "hidepid=2") != 0) {
    return Fail("mounting /proc");
  }
  return {};
}

}  // namespace salvus::compute
