#include "util/uid_block.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <string>

namespace salvus::testutil {

uid_t ClaimUidBlock(uid_t base, unsigned size, unsigned slots) {
  for (unsigned n = 0; n < slots; ++n) {
    const std::string path =
        "/tmp/salvus-uids-" + std::to_string(base) + "-" + std::to_string(n) + ".lock";
    const int fd = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) continue;
    // flock conflicts between open files even within one process, so a second
    // claim here gets the next block. The descriptor stays open: the lock
    // lasts as long as the process.
    if (flock(fd, LOCK_EX | LOCK_NB) == 0) return base + n * size;
    close(fd);
  }
  return base;
}

}  // namespace salvus::testutil
