// What the compute server knows of one worker process: its socket, pid, uid,
// home, the session it serves, and where it is in its life. (The process
// itself is worker.h; the thread that would be a "worker" does not exist:
// the server is single-threaded.)
//
// A worker's life is one WorkerState, changed only through MoveTo, which
// refuses a move the table below does not allow:
//
//   kSpawning -> kIdle     its first frame is an ack: ready, in the pool
//   kSpawning -> kFailed   the launcher could not start it, or its first
//                          frame was not an ack; its socket is being closed
//   kIdle     -> kServing  handed a session
//   any live  -> kEnded    its socket reached EOF first (the process ended on
//                          its own); it is retired once the launcher says how
//                          it ended, or after a short grace
//   any       -> kReaping  retired (its session ended, or it ended): socket
//                          closed, its processes killed once its pid is known
//
// kReaping is the last state: the record is dropped from there.
#pragma once

#include <sys/types.h>

#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "compute/compute_metrics.h"
#include "core/conn.h"

namespace salvus::compute {

enum class WorkerState { kSpawning, kIdle, kServing, kFailed, kEnded, kReaping };

std::string_view WorkerStateName(WorkerState s);

// True when a worker in `from` may move to `to` (the table above).
bool IsLegalMove(WorkerState from, WorkerState to);

struct WorkerRecord {
  uint64_t wid = 0;
  std::shared_ptr<core::Conn> conn;
  pid_t pid = 0;  // as the launcher reports it; 0 until then
  uid_t uid = 0;
  std::string home;
  // Set up at a low priority (a worker for the pool, not for a waiting start)
  // and not yet given its normal priority back.
  bool low_priority = false;
  bool urgent = false;  // forked for a waiting start (WorkerSpec::urgent)
  std::chrono::steady_clock::time_point spawned_at;  // when its fork was asked for
  std::string session;                               // set while kServing (kept into kEnded)
  std::string exit_text;                            // how the process ended, once the launcher said
  std::optional<ComputeMetrics::Cause> exit_cause;  // the same, for /metrics
  std::unique_ptr<boost::asio::steady_timer> grace;  // kEnded: waits for the exit report
  bool never_forked = false;  // the launcher said its fork failed: its uid ran nothing
  // Retired before the launcher said its pid (kReaping): kept only until
  // then, to reap its processes and give its uid back.
  bool awaiting_pid = false;

  WorkerState state() const { return state_; }
  // Moves to `to` if that is legal; otherwise logs, changes nothing and
  // returns false.
  bool MoveTo(WorkerState to);

 private:
  WorkerState state_ = WorkerState::kSpawning;
};

}  // namespace salvus::compute
