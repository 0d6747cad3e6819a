#include "compute/cgroup.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <set>

namespace salvus::compute {
namespace {

constexpr std::string_view kParentPrefix = "salvus-compute-";
constexpr uint64_t kMiB = 1024 * 1024;

std::unexpected<std::string> Fail(const std::string& what) {
  return std::unexpected(what + ": " + std::strerror(errno));
}

std::vector<std::string_view> Split(std::string_view s, std::string_view separators) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < s.size()) {
    const size_t j = s.find_first_of(separators, i);
    const size_t end = j == std::string_view::npos ? s.size() : j;
    if (end > i) out.push_back(s.substr(i, end - i));
    i = end + 1;
  }
  return out;
}

// mountinfo escapes blanks, tabs, newlines and backslashes as \ooo.
std::string Unescape(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    const auto octal = [](char c) { return c >= '0' && c <= '7'; };
    if (s[i] == '\\' && i + 3 < s.size() &&
        std::all_of(s.begin() + i + 1, s.begin() + i + 4, octal)) {
      out += static_cast<char>((s[i + 1] - '0') * 64 + (s[i + 2] - '0') * 8 + (s[i + 3] - '0'));
      i += 3;
    } else {
      out += s[i];
    }
  }
  return out;
}

std::expected<std::string, std::string> ReadFile(const std::string& path) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Fail("open " + path);
  std::string out;
  char buf[4096];
  for (;;) {
    ssize_t n = read(fd, buf, sizeof buf);
    if (n > 0) {
      out.append(buf, static_cast<size_t>(n));
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else {
      const int err = errno;
      close(fd);
      if (n < 0) {
        errno = err;
        return Fail("read " + path);
      }
      return out;
    }
  }
}

std::expected<void, std::string> WriteFile(const std::string& path, std::string_view value) {
  int fd = open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return Fail("open " + path);
  const ssize_t n = write(fd, value.data(), value.size());
  const int err = errno;
  close(fd);
  if (n != static_cast<ssize_t>(value.size())) {
    errno = n < 0 ? err : EIO;
    return Fail("write '" + std::string(value) + "' to " + path);
  }
  return {};
}

bool Exists(const std::string& path) { return access(path.c_str(), F_OK) == 0; }

std::string Trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

// The pids listed in a cgroup.procs file.
std::vector<pid_t> ListedPids(const std::string& dir) {
  std::vector<pid_t> pids;
  auto text = ReadFile(dir + "/cgroup.procs");
  if (!text) return pids;
  for (std::string_view w : Split(*text, "\n ")) {
    const long pid = std::strtol(std::string(w).c_str(), nullptr, 10);
    if (pid > 0) pids.push_back(static_cast<pid_t>(pid));
  }
  return pids;
}

// Sends SIGKILL to every process listed in `dir`. A pid is first pinned
// with a pidfd and signalled only if it is still listed afterwards, so a
// pid reused by an unrelated process is never hit. Returns how many were listed.
size_t KillListed(const std::string& dir) {
  const std::vector<pid_t> pids = ListedPids(dir);
  std::vector<std::pair<pid_t, int>> pinned;
  for (pid_t pid : pids) {
    const int fd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
    if (fd >= 0) {
      pinned.emplace_back(pid, fd);
    } else if (errno == ENOSYS) {
      kill(pid, SIGKILL);  // an old kernel: the best we can do
    }
  }
  const std::vector<pid_t> still = ListedPids(dir);
  for (auto [pid, fd] : pinned) {
    if (std::find(still.begin(), still.end(), pid) != still.end()) {
      syscall(SYS_pidfd_send_signal, fd, SIGKILL, nullptr, 0);
    }
    close(fd);
  }
  return pids.size();
}

// The subdirectories of `dir`.
std::vector<std::string> Children(const std::string& dir) {
  std::vector<std::string> out;
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) return out;
  while (dirent* e = readdir(d)) {
    if (e->d_type == DT_DIR && std::strcmp(e->d_name, ".") != 0 &&
        std::strcmp(e->d_name, "..") != 0) {
      out.push_back(dir + "/" + e->d_name);
    }
  }
  closedir(d);
  return out;
}

// Kills what is in `dir`'s leaves, removes them, then `dir`.
void RemoveParent(const std::string& dir) {
  for (const std::string& leaf : Children(dir)) KillAndRemoveCgroups({leaf});
  rmdir(dir.c_str());
}

// The pid in a name like "salvus-compute-123" or "salvus-compute-123-main"; 0 if none.
pid_t ParentOwner(std::string_view name) {
  if (!name.starts_with(kParentPrefix)) return 0;
  name.remove_prefix(kParentPrefix.size());
  const size_t digits = name.find_first_not_of("0123456789");
  if (digits == 0) return 0;
  if (digits != std::string_view::npos && name.substr(digits) != "-main") return 0;
  return static_cast<pid_t>(std::strtol(std::string(name.substr(0, digits)).c_str(), nullptr, 10));
}

// Removes what compute servers that are gone (killed, crashed) left in `dir`.
// Only empty cgroups can be removed, so nothing alive is touched.
void RemoveStaleParents(const std::string& dir) {
  for (const std::string& sub : Children(dir)) {
    const pid_t owner = ParentOwner(std::string_view(sub).substr(dir.size() + 1));
    if (owner <= 0 || owner == getpid()) continue;
    if (kill(owner, 0) == 0 || errno != ESRCH) continue;
    for (const std::string& leaf : Children(sub)) rmdir(leaf.c_str());
    rmdir(sub.c_str());
  }
}

std::expected<void, std::string> MakeDirectory(const std::string& dir) {
  if (mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) return Fail("mkdir " + dir);
  return {};
}

// Enables the memory and pids controllers for the children of `dir`.
std::expected<void, std::string> EnableControllers(const std::string& dir) {
  auto enabled = ReadFile(dir + "/cgroup.subtree_control");
  if (!enabled) return std::unexpected(enabled.error());
  if (HasAllWords(*enabled, {"memory", "pids"})) return {};
  return WriteFile(dir + "/cgroup.subtree_control", "+memory +pids");
}

// cgroup v2: controllers can only be enabled below a cgroup without
// processes of its own. When this process is alone in its cgroup (a service
// given a delegated cgroup, e.g. systemd's Delegate=yes), it moves into a
// leaf `<name>-main` first, as the kernel's documentation recommends.
std::expected<void, std::string> EnableControllersBelowSelf(const std::string& dir,
                                                            const std::string& name) {
  auto first = EnableControllers(dir);
  if (first) return {};
  const std::vector<pid_t> members = ListedPids(dir);
  if (members != std::vector<pid_t>{getpid()}) {
    return std::unexpected(first.error() +
                           " (other processes share the compute server's cgroup; give it a "
                           "cgroup of its own, e.g. a systemd service with Delegate=yes)");
  }
  const std::string self = dir + "/" + name + "-main";
  if (auto r = MakeDirectory(self); !r) return r;
  if (auto r = JoinCgroups({self}); !r) {
    rmdir(self.c_str());
    return r;
  }
  return EnableControllers(dir);
}

std::expected<std::vector<std::string>, std::string> CreateV2(const std::string& dir,
                                                              const std::string& name) {
  auto offered = ReadFile(dir + "/cgroup.controllers");
  if (!offered) return std::unexpected(offered.error());
  if (!HasAllWords(*offered, {"memory", "pids"})) {
    return std::unexpected("cgroup v2 " + dir + " does not offer the memory and pids controllers" +
                           " (it offers: '" + Trim(*offered) + "')");
  }
  if (auto r = EnableControllersBelowSelf(dir, name); !r) return std::unexpected(r.error());
  RemoveStaleParents(dir);
  const std::string parent = dir + "/" + name;
  if (auto r = MakeDirectory(parent); !r) return std::unexpected(r.error());
  if (auto r = EnableControllers(parent); !r) {
    rmdir(parent.c_str());
    return std::unexpected(r.error());
  }
  return std::vector<std::string>{parent};
}

std::expected<std::vector<std::string>, std::string> CreateV1(const std::string& memory,
                                                              const std::string& pids,
                                                              const std::string& name) {
  RemoveStaleParents(memory);
  RemoveStaleParents(pids);
  std::vector<std::string> parents{memory + "/" + name, pids + "/" + name};
  if (auto r = MakeDirectory(parents[0]); !r) return std::unexpected(r.error());
  if (auto r = MakeDirectory(parents[1]); !r) {
    rmdir(parents[0].c_str());
    return std::unexpected(r.error());
  }
  return parents;
}

}  // namespace

std::vector<CgroupMembership> ParseProcCgroup(std::string_view text) {
  std::vector<CgroupMembership> out;
  for (std::string_view line : Split(text, "\n")) {
    const size_t a = line.find(':');
    const size_t b = a == std::string_view::npos ? a : line.find(':', a + 1);
    if (b == std::string_view::npos) continue;
    out.push_back({std::string(line.substr(a + 1, b - a - 1)), std::string(line.substr(b + 1))});
  }
  return out;
}

std::vector<CgroupMount> ParseCgroupMounts(std::string_view mountinfo) {
  std::vector<CgroupMount> out;
  for (std::string_view line : Split(mountinfo, "\n")) {
    const size_t dash = line.find(" - ");
    if (dash == std::string_view::npos) continue;
    const auto before = Split(line.substr(0, dash), " ");
    const auto after = Split(line.substr(dash + 3), " ");
    if (before.size() < 5 || after.size() < 3) continue;
    CgroupMount m;
    if (after[0] == "cgroup2") {
      m.unified = true;
    } else if (after[0] != "cgroup") {
      continue;
    }
    m.root = Unescape(before[3]);
    m.mount_point = Unescape(before[4]);
    if (!m.unified) {
      for (std::string_view option : Split(after[2], ",")) {
        if (option != "rw" && option != "ro" && option.find('=') == std::string_view::npos) {
          m.controllers.emplace_back(option);
        }
      }
    }
    out.push_back(std::move(m));
  }
  return out;
}

bool HasAllWords(std::string_view words, std::initializer_list<std::string_view> wanted) {
  const auto have = Split(words, " ,\n\t");
  return std::all_of(wanted.begin(), wanted.end(), [&](std::string_view w) {
    return std::find(have.begin(), have.end(), w) != have.end();
  });
}

std::string OwnCgroupDirectory(const std::vector<CgroupMount>& mounts,
                               const std::vector<CgroupMembership>& memberships,
                               std::string_view controller) {
  const bool unified = controller.empty();
  auto member =
      std::find_if(memberships.begin(), memberships.end(), [&](const CgroupMembership& m) {
        return unified ? m.controllers.empty() : HasAllWords(m.controllers, {controller});
      });
  if (member == memberships.end()) return "";
  for (const CgroupMount& mount : mounts) {
    if (mount.unified != unified) continue;
    if (!unified && std::find(mount.controllers.begin(), mount.controllers.end(), controller) ==
                        mount.controllers.end()) {
      continue;
    }
    std::string_view path = member->path;
    const std::string_view root =
        mount.root == "/" ? std::string_view() : std::string_view(mount.root);
    if (!path.starts_with(root) || (path.size() > root.size() && path[root.size()] != '/'))
      continue;
    path.remove_prefix(root.size());
    if (path == "/") path = "";
    return mount.mount_point + std::string(path);
  }
  return "";
}

std::string LimitValue(uint64_t value, std::string_view unlimited) {
  return value == 0 ? std::string(unlimited) : std::to_string(value);
}

std::vector<std::string> CgroupLeafDirs(const std::vector<std::string>& parents,
                                        const std::string& home) {
  std::string_view name = home;
  while (name.size() > 1 && name.back() == '/') name.remove_suffix(1);
  if (const size_t slash = name.rfind('/'); slash != std::string_view::npos) {
    name.remove_prefix(slash + 1);
  }
  std::vector<std::string> out;
  for (const std::string& parent : parents) out.push_back(parent + "/" + std::string(name));
  return out;
}

std::expected<SessionCgroups, std::string> SessionCgroups::Create() {
  auto mountinfo = ReadFile("/proc/self/mountinfo");
  auto own = ReadFile("/proc/self/cgroup");
  if (!mountinfo || !own) return std::unexpected(mountinfo ? own.error() : mountinfo.error());
  const auto mounts = ParseCgroupMounts(*mountinfo);
  const auto memberships = ParseProcCgroup(*own);
  const std::string name = std::string(kParentPrefix) + std::to_string(getpid());

  std::string why_not_v2 = "no cgroup v2 hierarchy";
  if (const std::string dir = OwnCgroupDirectory(mounts, memberships, ""); !dir.empty()) {
    auto parents = CreateV2(dir, name);
    if (parents) return SessionCgroups(Version::kV2, std::move(*parents));
    why_not_v2 = parents.error();
  }
  std::string why_not_v1 = "no cgroup v1 memory and pids hierarchies";
  const std::string memory = OwnCgroupDirectory(mounts, memberships, "memory");
  const std::string pids = OwnCgroupDirectory(mounts, memberships, "pids");
  if (!memory.empty() && !pids.empty()) {
    auto parents = CreateV1(memory, pids, name);
    if (parents) return SessionCgroups(Version::kV1, std::move(*parents));
    why_not_v1 = "cgroup v1: " + parents.error();
  }
  return std::unexpected(why_not_v2 + "; " + why_not_v1);
}

SessionCgroups::SessionCgroups(SessionCgroups&& other) noexcept
    : version_(other.version_), parents_(std::move(other.parents_)), owner_(other.owner_) {
  other.owner_ = false;
}

SessionCgroups::~SessionCgroups() {
  if (!owner_) return;
  for (const std::string& parent : parents_) RemoveParent(parent);
}

std::expected<void, std::string> SessionCgroups::MakeLeaf(const std::string& home,
                                                          const proto::Limits& limits) const {
  auto made = [&]() -> std::expected<void, std::string> {
    for (const std::string& dir : CgroupLeafDirs(parents_, home)) {
      if (auto r = MakeDirectory(dir); !r) return r;
    }
    return SetLimits(home, limits);
  }();
  // No leaf without its limits: the worker then fails to join, and says so.
  if (!made) RemoveEmptyLeaf(home);
  return made;
}

std::expected<void, std::string> SessionCgroups::SetLimits(const std::string& home,
                                                           const proto::Limits& limits) const {
  const auto dirs = CgroupLeafDirs(parents_, home);
  const uint64_t memory = limits.memory_mb() * kMiB;
  if (version_ == Version::kV2) {
    if (auto r = WriteFile(dirs[0] + "/memory.max", LimitValue(memory, "max")); !r) return r;
    // Without swap limited too, a session over its limit would swap.
    if (Exists(dirs[0] + "/memory.swap.max")) (void)WriteFile(dirs[0] + "/memory.swap.max", "0");
    return WriteFile(dirs[0] + "/pids.max", LimitValue(limits.processes(), "max"));
  }
  if (auto r = WriteFile(dirs[0] + "/memory.limit_in_bytes", LimitValue(memory, "-1")); !r)
    return r;
  return WriteFile(dirs[1] + "/pids.max", LimitValue(limits.processes(), "max"));
}

void SessionCgroups::RemoveEmptyLeaf(const std::string& home) const {
  for (const std::string& dir : CgroupLeafDirs(parents_, home)) rmdir(dir.c_str());
}

uint64_t SessionCgroups::OomKills(const std::string& home) const {
  const auto dirs = CgroupLeafDirs(parents_, home);
  auto text =
      ReadFile(dirs[0] + (version_ == Version::kV2 ? "/memory.events" : "/memory.oom_control"));
  if (!text) return 0;
  for (std::string_view line : Split(*text, "\n")) {
    if (line.starts_with("oom_kill ")) {
      return std::strtoull(std::string(line.substr(9)).c_str(), nullptr, 10);
    }
  }
  return 0;
}

std::expected<void, std::string> JoinCgroups(const std::vector<std::string>& leaf_dirs) {
  for (const std::string& dir : leaf_dirs) {
    if (auto r = WriteFile(dir + "/cgroup.procs", "0"); !r) return r;
  }
  return {};
}

void KillCgroups(const std::vector<std::string>& leaf_dirs) {
  for (const std::string& dir : leaf_dirs) {
    if (!Exists(dir + "/cgroup.kill") || !WriteFile(dir + "/cgroup.kill", "1")) KillListed(dir);
  }
}

void KillAndRemoveCgroups(const std::vector<std::string>& leaf_dirs) {
  KillCgroups(leaf_dirs);
  std::set<std::string> left(leaf_dirs.begin(), leaf_dirs.end());
  // Up to ~5 s: a process being killed leaves the cgroup as it exits.
  for (int round = 0; round < 2500 && !left.empty(); ++round) {
    size_t listed = 0;
    for (const std::string& dir : left) listed += KillListed(dir);
    if (listed == 0) {
      std::erase_if(
          left, [](const std::string& dir) { return rmdir(dir.c_str()) == 0 || errno == ENOENT; });
    }
    if (!left.empty()) usleep(2000);
  }
}

}  // namespace salvus::compute
