// The zygote: a child of the compute server, started before any thread
// exists, that embeds CPython, imports Sage once and then forks one worker
// per session on request (DESIGN.md, "The compute server").
//
// It talks to the main process over a SOCK_SEQPACKET pair (ZygoteRequest in,
// ZygoteEvent out). It reaps every child (it is a child subreaper, and pid 1
// of its own pid namespace when run as root, so when it dies the kernel
// kills every process of every session). Cleaning up after a session is the
// main process's job (ReapSession), not the zygote's.
#pragma once

#include <string>
#include <vector>

namespace salvus::compute {

struct ZygoteConfig {
  std::string kernel;     // "sage" or "python"
  std::string state_dir;  // holds the zygote's own home (DOT_SAGE)
  bool per_uid_processes = false;
  // Each session's writable space (home, /tmp, /var/tmp, /dev/shm) in MiB,
  // with a session uid (SandboxSpec::disk_mb); 0: no cap.
  unsigned disk_mb = 0;
  // Where each worker's cgroup leaf goes (SessionCgroups::parents()); empty
  // when sessions have no cgroups. Set by ZygoteLink::Start.
  std::vector<std::string> cgroup_parents = {};
};

// Never returns.
[[noreturn]] void RunZygote(const ZygoteConfig& config, int control_fd);

// Sends / receives one message with an optional fd over a SEQPACKET socket.
// Blocking; used by the zygote. Returns false on error; `*eof` set on EOF.
bool SendPacket(int sock, const std::string& data, int fd_to_pass);
bool RecvPacket(int sock, std::string* data, int* fd_received, bool* eof);

}  // namespace salvus::compute
