// Session cgroups: where the machine allows, each session's worker (and every
// process it starts, wherever it moves) lives in a cgroup of its own, limited
// to the session's memory and process limits, and killed and removed with
// the session. Elsewhere sessions make do with rlimits (see sandbox.h).
//
// Layout: one parent per compute server, `salvus-compute-<pid>`, below the
// server's own cgroup: in the unified (v2) hierarchy when it offers the
// memory and pids controllers, otherwise in the v1 memory and pids
// hierarchies (both needed). A session's leaf is named after its worker's
// home (`w<N>`), so the compute server (which creates the leaf at prefork
// time and sets its limits) and the zygote's child (which moves itself into
// it before dropping root) agree on it without another message.
#pragma once

#include <cstdint>
#include <expected>
#include <string>
#include <string_view>
#include <vector>

#include "proto/salvus.pb.h"

namespace salvus::compute {

// ---- Reading /proc (pure, unit-tested) ----

// One line of /proc/PID/cgroup, e.g. "4:memory:/a/b" or "0::/a/b".
struct CgroupMembership {
  std::string controllers;  // "memory", "cpu,cpuacct", "name=systemd"; "" for v2
  std::string path;         // "/a/b"
};
std::vector<CgroupMembership> ParseProcCgroup(std::string_view text);

// A cgroup file system from /proc/PID/mountinfo.
struct CgroupMount {
  bool unified = false;                  // cgroup2
  std::string root;                      // the cgroup shown at the mount point
  std::string mount_point;               // with mountinfo's octal escapes undone
  std::vector<std::string> controllers;  // v1 only, from the super options
};
std::vector<CgroupMount> ParseCgroupMounts(std::string_view mountinfo);

// The directory of the process's own cgroup in the v2 hierarchy (`controller`
// empty) or in the v1 hierarchy holding `controller`; "" when not mounted
// here or outside what the mount shows.
std::string OwnCgroupDirectory(const std::vector<CgroupMount>& mounts,
                               const std::vector<CgroupMembership>& memberships,
                               std::string_view controller);

// True when `words` (separated by blanks or commas) holds every one of `wanted`.
bool HasAllWords(std::string_view words, std::initializer_list<std::string_view> wanted);

// What goes into a limit file: the number, or `unlimited` for 0.
std::string LimitValue(uint64_t value, std::string_view unlimited);

// The leaf directories, under `parents`, of the worker living in `home`.
std::vector<std::string> CgroupLeafDirs(const std::vector<std::string>& parents,
                                        const std::string& home);

// ---- The compute server's cgroups ----

class SessionCgroups {
 public:
  enum class Version { kV1 = 1, kV2 = 2 };

  // Creates this server's parent cgroup(s), after removing those of compute
  // servers that are gone; or says why sessions cannot have cgroups here.
  // REQUIRES: no thread started yet (v2 may move this process into a leaf
  // of its own cgroup, so that the controllers can be enabled below it).
  static std::expected<SessionCgroups, std::string> Create();

  SessionCgroups(SessionCgroups&& other) noexcept;
  SessionCgroups& operator=(SessionCgroups&&) = delete;
  // Kills what is left in the leaves and removes them and the parents.
  ~SessionCgroups();

  Version version() const { return version_; }
  // v2: {parent}; v1: {memory parent, pids parent}.
  const std::vector<std::string>& parents() const { return parents_; }

  // Creates the leaf of the worker living in `home`, with `limits`' memory
  // and process limits (or, failing that, no leaf at all).
  std::expected<void, std::string> MakeLeaf(const std::string& home,
                                            const proto::Limits& limits) const;
  std::expected<void, std::string> SetLimits(const std::string& home,
                                             const proto::Limits& limits) const;
  // Removes the leaf if nothing ever moved into it. Best effort.
  void RemoveEmptyLeaf(const std::string& home) const;
  // How many processes the kernel killed in the leaf for lack of memory.
  uint64_t OomKills(const std::string& home) const;

 private:
  SessionCgroups(Version version, std::vector<std::string> parents)
      : version_(version), parents_(std::move(parents)) {}

  Version version_;
  std::vector<std::string> parents_;
  bool owner_ = true;
};

// In a freshly forked worker, before it drops root: moves the calling
// process into each of `leaf_dirs`.
std::expected<void, std::string> JoinCgroups(const std::vector<std::string>& leaf_dirs);

// Sends SIGKILL to every process in `leaf_dirs`, once: cgroup.kill where the
// kernel has it, otherwise each pid listed.
void KillCgroups(const std::vector<std::string>& leaf_dirs);

// Kills every process in `leaf_dirs` until none is left, then removes them.
// Blocks for up to a few seconds; meant for a reaper process.
void KillAndRemoveCgroups(const std::vector<std::string>& leaf_dirs);

}  // namespace salvus::compute
