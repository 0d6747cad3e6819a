#include "core/descriptors.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdlib>

namespace salvus::core {
namespace {

// [first, last] closed; false if close_range(2) is not available here.
bool CloseRange(unsigned first, unsigned last) {
  return syscall(SYS_close_range, first, last, 0) == 0;
}

}  // namespace

bool SetCloseOnExec(int fd) {
  const int flags = fcntl(fd, F_GETFD);
  if (flags < 0) return false;
  return (flags & FD_CLOEXEC) != 0 || fcntl(fd, F_SETFD, flags | FD_CLOEXEC) == 0;
}

std::vector<int> OpenDescriptors() {
  std::vector<int> fds;
  DIR* d = opendir("/proc/self/fd");
  if (d == nullptr) return fds;
  const int own = dirfd(d);
  while (dirent* e = readdir(d)) {
    if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
    const int fd = std::atoi(e->d_name);
    if (fd != own) fds.push_back(fd);
  }
  closedir(d);
  std::sort(fds.begin(), fds.end());
  return fds;
}

void CloseAllExcept(std::vector<int> keep) {
  std::sort(keep.begin(), keep.end());
  keep.erase(std::unique(keep.begin(), keep.end()), keep.end());
  std::erase_if(keep, [](int fd) { return fd < 0; });
  unsigned first = 0;
  bool ranges = true;
  for (int k : keep) {
    if (static_cast<unsigned>(k) > first) ranges = ranges && CloseRange(first, k - 1);
    first = static_cast<unsigned>(k) + 1;
  }
  ranges = ranges && CloseRange(first, UINT_MAX);
  if (ranges) return;
  for (int fd : OpenDescriptors()) {
    if (!std::binary_search(keep.begin(), keep.end(), fd)) close(fd);
  }
}

}  // namespace salvus::core
