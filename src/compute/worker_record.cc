#include "compute/worker_record.h"

#include <spdlog/spdlog.h>

namespace salvus::compute {

std::string_view WorkerStateName(WorkerState s) {
  switch (s) {
    case WorkerState::kSpawning:
      return "spawning";
    case WorkerState::kIdle:
      return "idle";
    case WorkerState::kServing:
      return "serving";
    case WorkerState::kFailed:
      return "failed";
    case WorkerState::kEnded:
      return "ended";
    case WorkerState::kReaping:
      return "reaping";
  }
  return "?";
}

bool IsLegalMove(WorkerState from, WorkerState to) {
  using S = WorkerState;
  switch (to) {
    case S::kSpawning:
      return false;
    case S::kIdle:
    case S::kFailed:
      return from == S::kSpawning;
    case S::kServing:
      return from == S::kIdle;
    case S::kEnded:
      return from == S::kSpawning || from == S::kIdle || from == S::kServing || from == S::kFailed;
    case S::kReaping:
      return from != S::kReaping;
  }
  return false;
}

bool WorkerRecord::MoveTo(WorkerState to) {
  if (!IsLegalMove(state_, to)) {
    spdlog::error("worker {}: illegal move from {} to {} (ignored)", wid, WorkerStateName(state_),
                  WorkerStateName(to));
    return false;
  }
  state_ = to;
  return true;
}

}  // namespace salvus::compute
