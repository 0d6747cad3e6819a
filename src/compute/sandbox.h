// The walls around one session's worker. Everything here runs in a freshly
// forked child (worker or reaper) of the zygote, never in an event loop.
//
// As root, each session gets a uid of its own (from UidPool), so the kernel
// itself separates sessions: files (0700 homes), signals, RLIMIT_NPROC (a
// fork bomb is limited to its own uid), and cleanup (kill(-1) as that uid
// reaches every process the session made, wherever it moved). Without root
// only rlimits, a process group and deadlines apply.
#pragma once

#include <sys/types.h>

#include <expected>
#include <string>
#include <vector>

#include "proto/salvus.pb.h"

namespace salvus::compute {

struct SandboxSpec {
  uid_t uid = 0;  // 0: stay as the current user
  std::string home;
  bool isolate_network = false;
  std::vector<std::string> cgroups;  // leaf directories to move into (cgroup.h)
  // With a session uid: a mount namespace of its own (session_mounts.h),
  // its writable space capped at this many MiB (0: no cap).
  unsigned disk_mb = 0;
};

// In a new worker: own session and process group, dies with its parent, its
// own cgroup (when given), fresh 0700 home, optional empty network
// namespace, then drops to `uid`. With a session uid also its own mount
// namespace (private, size-capped home, /tmp, /var/tmp, /dev/shm; the rest
// read-only; its own /proc) and IPC namespace (System V IPC and POSIX
// message queues end with the session).
// REQUIRES: called in a child right after fork, single-threaded.
std::expected<void, std::string> EnterSandbox(const SandboxSpec& spec);

// The process's current address space size.
size_t MappedBytes();

// Lowers the worker's rlimits to `limits` (zero fields are left alone).
// RLIMIT_AS counts from `mapped_bytes` (MappedBytes() of the idle worker):
// memory_mb is what the session may add to the warm image it inherited.
// `per_uid_processes`: RLIMIT_NPROC only means "this session" with a uid of its own.
std::expected<void, std::string> ApplyLimits(const proto::Limits& limits, bool per_uid_processes,
                                             size_t mapped_bytes);

// Kills every process of the session: every process in its cgroups (when
// it has them), and as root every process of `uid` (repeated until none is
// left, so fork loops cannot outrun it), otherwise the worker's process
// group. Then removes the cgroups, `home` and, for a session uid, every file
// it owns directly under /tmp (and /var/tmp, /dev/shm).
// REQUIRES: runs in a dedicated child process (it may change its own uid).
void ReapSession(pid_t pid, uid_t uid, const std::string& home,
                 const std::vector<std::string>& cgroups);

// Removes what uids [first, first+count) own directly under `dir`, as
// ReapSession does for one uid: leftovers of a run that was killed (or
// that had no mount namespaces). REQUIRES: no process of those uids runs.
void RemoveEntriesOfUids(const char* dir, uid_t first, unsigned count);

// Whether this process can give a child an empty network namespace (as
// EnterSandbox does for --isolate-network); the reason when not. Forks a
// child that only tries.
std::expected<void, std::string> CanIsolateNetwork();

// A process (other than the caller) whose real uid is in [first, first+count),
// or 0 if there is none.
pid_t AnyProcessWithUidIn(uid_t first, unsigned count);

// Recursively removes `path` without following symlinks. Best effort.
void RemoveTree(const std::string& path);

}  // namespace salvus::compute
