// A WorkerLauncher for tests of the compute server: its "workers" are
// threads of the test process speaking the worker protocol (worker.h) on
// the socket the server made. No Sage, no fork, nothing to reap.
//
// A worker sends its first frame (see FakeStart), reads its WorkerStart,
// then answers each request by its code:
//   "die"   its socket closes mid-request and it "was killed" (SIGKILL)
//   "hang"  no answer (until the socket closes)
//   other   an Output echoing the code, then Done OK
// It reports its exit when its socket closes.
//
// Thread-safety: the WorkerLauncher calls come from the server's event
// loop; Listener calls are posted to it. The counters and last_limits() may
// be read from any thread. REQUIRES: destroyed after the server, before
// the io_context, with the event loop stopped.
#pragma once

#include <atomic>
#include <boost/asio.hpp>
#include <mutex>
#include <thread>
#include <vector>

#include "compute/worker_launcher.h"

namespace salvus::compute {

// What a fake worker sends first.
enum class FakeStart {
  kReady,      // an ack
  kFail,       // an error: "no Sage here"
  kNeverReady  // nothing
};

class FakeWorkerLauncher final : public WorkerLauncher {
 public:
  explicit FakeWorkerLauncher(boost::asio::io_context& io) : io_(io) {}
  ~FakeWorkerLauncher() override;

  // How workers spawned from now on start.
  std::atomic<FakeStart> start_mode{FakeStart::kReady};
  std::atomic<int> spawned{0}, reaped{0}, exited{0}, promoted{0}, interrupts{0};
  std::atomic<int> urgent{0};  // spawns for a waiting start (WorkerSpec::urgent)
  // The limits the last WorkerStart carried.
  proto::Limits last_limits();
  // While set, spawned workers' pids are not reported (they run, and answer,
  // all the same) until ReportHeldPids().
  std::atomic<bool> hold_pids{false};
  void ReportHeldPids();

  void Start(Listener* listener) override;
  void Spawn(uint64_t wid, const WorkerSpec& spec, int fd) override;
  void Interrupt(pid_t pid, uint64_t request) override;
  void Promote(pid_t) override { ++promoted; }
  bool Reap(const ReapSpec& spec, std::function<void()> done) override;
  const SessionCgroups* cgroups() const override { return nullptr; }
  std::string cgroup_problem() const override { return "a fake launcher"; }

 private:
  void RunWorker(int fd, uint64_t wid, pid_t pid, FakeStart mode);
  void Exited(uint64_t wid, pid_t pid, int code, int signal);

  boost::asio::io_context& io_;
  Listener* listener_ = nullptr;
  pid_t next_pid_ = 1000;
  std::mutex mu_;
  std::vector<int> fds_;                               // GUARDED_BY(mu_)
  std::vector<std::thread> threads_;                   // GUARDED_BY(mu_)
  proto::Limits last_limits_;                          // GUARDED_BY(mu_)
  std::vector<std::pair<uint64_t, pid_t>> held_pids_;  // GUARDED_BY(mu_)
};

}  // namespace salvus::compute
