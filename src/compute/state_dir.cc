#include "compute/state_dir.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

namespace salvus::compute {
namespace {

namespace fs = std::filesystem;

std::string Errno(const std::string& what) { return what + ": " + std::strerror(errno); }

// Makes `path` mode `mode` if it is a directory (not a symlink) owned by
// `uid`; checked and changed through one descriptor, so that it cannot be
// swapped in between.
std::expected<void, std::string> ChmodOwnDirectory(const std::string& path, uid_t uid,
                                                   mode_t mode) {
  struct stat st;
  if (lstat(path.c_str(), &st) != 0) return std::unexpected(Errno("lstat " + path));
  if (S_ISLNK(st.st_mode)) return std::unexpected(path + " is a symlink");
  const int fd = open(path.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return std::unexpected(Errno("open " + path));
  std::expected<void, std::string> r;
  if (fstat(fd, &st) != 0) {
    r = std::unexpected(Errno("fstat " + path));
  } else if (st.st_uid != uid) {
    r = std::unexpected(
        fmt::format("{} belongs to uid {}, not to this user (uid {})", path, st.st_uid, uid));
  } else if (fchmod(fd, mode) != 0) {
    r = std::unexpected(Errno(fmt::format("chmod {:o} {}", mode, path)));
  }
  close(fd);
  return r;
}

}  // namespace

std::expected<StateDir, std::string> DefaultStateDir(bool root, const char* xdg_runtime_dir) {
  if (root) return StateDir{"/var/lib/salvus/compute", false};
  const uid_t uid = geteuid();
  if (xdg_runtime_dir != nullptr && xdg_runtime_dir[0] == '/') {
    struct stat st;
    if (lstat(xdg_runtime_dir, &st) == 0 && S_ISDIR(st.st_mode) && st.st_uid == uid &&
        (st.st_mode & 077) == 0) {
      return StateDir{std::string(xdg_runtime_dir) + "/salvus-compute", false};
    }
  }
  std::string tmpl = "/tmp/salvus-compute-" + std::to_string(uid) + "-XXXXXX";
  if (mkdtemp(tmpl.data()) == nullptr) return std::unexpected(Errno("mkdtemp " + tmpl));
  return StateDir{tmpl, true};
}

std::expected<void, std::string> PrepareOwnDirectory(const std::string& dir, mode_t mode) {
  if (mkdir(dir.c_str(), mode) != 0 && errno != EEXIST) {
    std::error_code ec;
    fs::create_directories(dir, ec);  // missing parents, as mkdir -p
    if (ec) return std::unexpected("cannot create " + dir + ": " + ec.message());
  }
  return ChmodOwnDirectory(dir, geteuid(), mode);
}

std::expected<void, std::string> PrepareStateDir(const std::string& dir, bool root) {
  const mode_t mode = root ? 0711 : 0700;
  if (auto r = PrepareOwnDirectory(dir, mode); !r) return r;
  return PrepareOwnDirectory(dir + "/homes", mode);
}

std::string FirstClosedToOthers(const std::string& path) {
  fs::path at;
  for (const auto& part : fs::path(path).lexically_normal()) {
    if (part.empty()) continue;
    at /= part;
    struct stat st;
    if (stat(at.c_str(), &st) != 0) break;  // not there yet: made by us, 0711
    if ((st.st_mode & S_IXOTH) == 0) {
      return fmt::format("{} (mode {:o})", at.string(), st.st_mode & 07777);
    }
  }
  return "";
}

}  // namespace salvus::compute
