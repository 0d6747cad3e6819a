// How the compute server gets worker processes: it asks a WorkerLauncher to
// start one that speaks on a socket the server made, and hears back through
// a Listener. In production the zygote does it (zygote_launcher.h); tests
// use an in-process fake that speaks the worker protocol (worker.h) itself.
//
// Thread-safety: none. Every call, and every Listener call, happens on the
// compute server's event loop.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <string>

#include "proto/salvus.pb.h"

namespace salvus::compute {

class SessionCgroups;

// One worker to start.
struct WorkerSpec {
  uid_t uid = 0;  // 0: the server's own uid (not root)
  std::string home;
  bool isolate_network = false;
  // For a start that is waiting: set up at normal priority, without the
  // warm-up a pooled worker does (its first cell pays for that instead).
  bool urgent = false;
};

// The processes of one retired worker, to be killed and cleaned up.
struct ReapSpec {
  pid_t pid = 0;
  uid_t uid = 0;
  std::string home;
};

class WorkerLauncher {
 public:
  // What the launcher reports. `wid` is the id the server gave Spawn.
  class Listener {
   public:
    virtual ~Listener() = default;
    // The launcher can start workers now (once, first).
    virtual void OnLauncherReady(const std::string& info) = 0;
    virtual void OnLauncherWarning(const std::string& text) = 0;
    // A failure not tied to one worker (e.g. the zygote could not start).
    virtual void OnLauncherFailed(const std::string& text) = 0;
    // The launcher is gone: no more workers, no more events.
    virtual void OnLauncherLost() = 0;
    virtual void OnWorkerSpawned(uint64_t wid, pid_t pid) = 0;
    virtual void OnWorkerSpawnFailed(uint64_t wid, const std::string& why) = 0;
    // The process of `wid` ended (reported at most once, after OnWorkerSpawned).
    virtual void OnWorkerExited(uint64_t wid, const proto::WorkerExited& how) = 0;
  };

  virtual ~WorkerLauncher() = default;

  // Starts reporting to `listener`, which must outlive the launcher's events.
  virtual void Start(Listener* listener) = 0;
  // Starts worker `wid`, which speaks on `fd` (the launcher takes the fd).
  virtual void Spawn(uint64_t wid, const WorkerSpec& spec, int fd) = 0;
  // Sends SIGINT to the worker process `pid`, meant for its request
  // `request` (interrupt_target.h): kept if that request has not started.
  virtual void Interrupt(pid_t pid, uint64_t request) = 0;
  // A pooled worker finished warming up at low priority: normal priority again.
  virtual void Promote(pid_t pid) = 0;
  // Kills every process of a retired worker and removes its files, off the
  // event loop; `done` runs once that is over. False (and `done` never runs)
  // when the clean-up could not be started.
  virtual bool Reap(const ReapSpec& spec, std::function<void()> done) = 0;
  // The sessions' cgroups, or nullptr (then cgroup_problem() says why).
  virtual const SessionCgroups* cgroups() const = 0;
  virtual std::string cgroup_problem() const = 0;
};

}  // namespace salvus::compute
