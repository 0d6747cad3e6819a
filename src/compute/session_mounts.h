// A session's view of the file system (as root): a mount namespace of its
// own, entered by the freshly forked worker before it drops root.
//
// - The whole tree is read-only (every mount, recursively, in one call), so
//   no world-writable place anywhere (`/var/cache/sympow/datafiles`,
//   `/run/lock`, a folder an operator made 1777 last week) is shared
//   between sessions; nothing has to be found or listed for that.
// - One tmpfs of `disk_mb` holds everything the session may write: its home,
//   `/tmp`, `/var/tmp` and `/dev/shm` are folders of it, bind-mounted in
//   place. One cap for all of them; ENOSPC past it. Its pages are memory,
//   charged to the session's memory cgroup like any other.
// - `/proc` is a fresh mount with hidepid=invisible: the session sees its
//   own processes only (the zygote's pid namespace holds no host process;
//   hidepid hides the zygote and the other sessions).
//
// Nothing here outlives the session: when its last process ends, the kernel
// drops the namespace and the tmpfs with it (also when the compute server
// is killed), so there is nothing to clean on disk.
#pragma once

#include <sys/types.h>

#include <expected>
#include <string>

namespace salvus::compute {

struct SessionMountsSpec {
  std::string home;      // an existing, empty directory: the tmpfs goes on it
  uid_t uid = 0;         // owner of the home inside
  unsigned disk_mb = 0;  // 0: tmpfs's own default (half the RAM)
};

// Unshares the mount namespace and builds the view above.
// REQUIRES: root, in a single-threaded child right after fork.
std::expected<void, std::string> EnterSessionMounts(const SessionMountsSpec& spec);

// Whether this machine lets a child enter the session's mounts (Linux 5.12
// or later, root): tried once in a forked child on `scratch`, a directory
// made and removed for it. The reason when not.
std::expected<void, std::string> TrySessionMounts(const std::string& scratch);

// The tmpfs options for `spec`: size, inodes, mode.
std::string SessionTmpfsOptions(unsigned disk_mb);

}  // namespace salvus::compute
