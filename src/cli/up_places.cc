#include "cli/up_places.h"

#include <dirent.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "compute/sandbox.h"
#include "compute/state_dir.h"

namespace salvus::cli {
namespace {

namespace fs = std::filesystem;

std::string Errno(const std::string& what) { return what + ": " + std::strerror(errno); }

// Holds the lock for `base` until this process exits; false if another holds it.
bool LockUidBlock(unsigned base) {
  const std::string path = fmt::format("/run/salvus-up-uids-{}.lock", base);
  const int fd = open(path.c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) return true;  // no /run to lock in: the process check alone decides
  if (flock(fd, LOCK_EX | LOCK_NB) == 0) return true;  // fd stays open: the lock with it
  close(fd);
  return false;
}

}  // namespace

std::expected<unsigned, std::string> PickUidBlock(unsigned first, unsigned size, unsigned blocks) {
  for (unsigned i = 0; i < blocks; ++i) {
    const unsigned base = first + i * size;
    if (compute::AnyProcessWithUidIn(base, size) == 0 && LockUidBlock(base)) return base;
  }
  return std::unexpected(fmt::format(
      "every block of session uids in {}..{} is in use (other compute servers?); choose a free "
      "one with --uid-base",
      first, first + blocks * size - 1));
}

std::expected<SessionHomes, std::string> PlaceSessionHomes(const std::string& data, bool root) {
  // `data` itself is ours to open (MakeDataPrivate); the folders above are not.
  const std::string closed =
      root ? compute::FirstClosedToOthers(fs::path(data).parent_path().string()) : "";
  if (closed.empty()) return SessionHomes{data + "/compute", false};
  const std::string parent = "/var/lib/salvus";
  auto fail = [&](const std::string& why) {
    return std::unexpected(fmt::format(
        "session uids cannot reach homes under {} ({} lets no other user through), and no other "
        "place would do ({}); use a --data folder that others can pass through",
        data, closed, why));
  };
  if (auto r = compute::PrepareOwnDirectory(parent, 0711); !r) return fail(r.error());
  if (const std::string c = compute::FirstClosedToOthers(parent); !c.empty()) {
    return fail(c + " lets no other user through");
  }
  std::string dir = parent + "/up-XXXXXX";
  if (mkdtemp(dir.data()) == nullptr) return fail(Errno("mkdtemp " + dir));
  if (chmod(dir.c_str(), 0711) != 0) {
    const std::string e = Errno("chmod 711 " + dir);
    rmdir(dir.c_str());
    return fail(e);
  }
  return SessionHomes{dir, true};
}

std::expected<void, std::string> MakeDataPrivate(const std::string& data, bool homes_inside) {
  const mode_t mode = homes_inside ? 0711 : 0700;
  if (chmod(data.c_str(), mode) != 0)
    return std::unexpected(Errno(fmt::format("chmod {:o} {}", mode, data)));
  DIR* d = opendir(data.c_str());
  if (d == nullptr) return std::unexpected(Errno("opendir " + data));
  std::expected<void, std::string> result;
  while (dirent* e = readdir(d)) {
    struct stat st;
    if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode) ||
        (st.st_mode & 077) == 0) {
      continue;
    }
    const int fd = openat(dirfd(d), e->d_name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0 || fchmod(fd, 0600) != 0) {
      result = std::unexpected(Errno("chmod 600 " + data + "/" + e->d_name));
    }
    if (fd >= 0) close(fd);
  }
  closedir(d);
  return result;
}

}  // namespace salvus::cli
