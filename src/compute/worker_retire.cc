// A worker's end: its socket closing, the launcher's report of how its
// process ended, its retirement (the session it served ends with the
// reason) and the reaping of its processes (and so the return of its uid).
#include <signal.h>
#include <spdlog/spdlog.h>

#include <cstring>

#include "compute/cgroup.h"
#include "compute/server.h"
#include "compute/server_records.h"
#include "compute/worker_record.h"
#include "core/log.h"

namespace salvus::compute {

namespace asio = boost::asio;

namespace {

std::string ExitText(const proto::WorkerExited& ex) {
  if (ex.signal() != 0) {
    std::string name = strsignal(ex.signal());
    if (ex.signal() == SIGXCPU) return "the session used up its CPU time limit";
    if (ex.signal() == SIGKILL) return "the session's process was killed (SIGKILL)";
    return "the session's process died: " + name + " (signal " + std::to_string(ex.signal()) + ")";
  }
  return "the session's process exited with code " + std::to_string(ex.exit_code());
}

}  // namespace

void ComputeServer::OnWorkerExited(uint64_t wid, const proto::WorkerExited& how) {
  auto it = workers_.find(wid);
  if (it == workers_.end()) return;
  WorkerRecord& w = *it->second;
  w.exit_text = ExitText(how);
  if (how.signal() == SIGKILL) OutOfMemoryText(w);
  w.exit_cause = ExitCause(w, how);
  // Its socket already closed (a grace timer runs from then): retire it now.
  if (w.state() == WorkerState::kEnded || w.grace) {
    RetireWorker(wid);
    return;
  }
  // A paused session's worker (proto Flow) is read again: what it wrote
  // last, then its socket's EOF, end it as usual.
  w.conn->ResumeReading();
}

ComputeMetrics::Cause ComputeServer::ExitCause(const WorkerRecord& w,
                                               const proto::WorkerExited& how) {
  if (w.state() == WorkerState::kReaping) return ComputeMetrics::kEndedByServer;
  if (how.signal() == SIGXCPU) return ComputeMetrics::kCpuTime;
  if (how.signal() == SIGKILL && OutOfMemory(w)) return ComputeMetrics::kOutOfMemory;
  if (how.signal() != 0) return ComputeMetrics::kSignal;
  return how.exit_code() == 0 ? ComputeMetrics::kExitOk : ComputeMetrics::kExitError;
}

bool ComputeServer::OutOfMemory(const WorkerRecord& w) const {
  const SessionCgroups* cg = launcher_.cgroups();
  return cg != nullptr && cg->OomKills(w.home) > 0;
}

// A worker the kernel killed for lack of memory in its cgroup gets that said.
void ComputeServer::OutOfMemoryText(WorkerRecord& w) {
  if (!OutOfMemory(w)) return;
  auto s = sessions_.find(w.session);
  const uint64_t mb =
      s != sessions_.end() ? s->second->limits.memory_mb() : pool_limits_.memory_mb();
  w.exit_text = "the session ran out of memory (its limit is " + std::to_string(mb) + " MB)";
}

// The worker's socket reached EOF (it ended, or was closed here).
void ComputeServer::OnWorkerEnd(uint64_t wid) {
  auto it = workers_.find(wid);
  if (it == workers_.end()) return;
  WorkerRecord& w = *it->second;
  const bool reap_started = w.state() == WorkerState::kReaping && w.pid > 0;
  if (!w.exit_text.empty() || reap_started) {
    RetireWorker(wid);
    return;
  }
  if (w.state() != WorkerState::kReaping) MoveWorker(w, WorkerState::kEnded);
  // Give the launcher a moment to say how the process ended, for a better message.
  w.grace = std::make_unique<asio::steady_timer>(io_, opt_.exit_report_grace);
  w.grace->async_wait([this, wid](boost::system::error_code ec) {
    if (!ec) RetireWorker(wid);
  });
}

// The worker's socket is closed: fail what it owed, end its session, reap it.
void ComputeServer::RetireWorker(uint64_t wid) {
  auto it = workers_.find(wid);
  if (it == workers_.end()) return;
  WorkerRecord& w = *it->second;
  if (w.grace) w.grace->cancel();
  // Counted once, here (a worker the server ended is retired before, or
  // without, the launcher's report of its exit); one never forked is not.
  if (w.pid > 0) {
    metrics_
        .worker_exits[w.exit_cause                         ? *w.exit_cause
                      : w.state() == WorkerState::kReaping ? ComputeMetrics::kEndedByServer
                                                           : ComputeMetrics::kUnreported]
        ->Add();
  }
  if (!w.session.empty() && sessions_.count(w.session)) {
    std::string why = w.exit_text.empty() ? "the session's process ended" : w.exit_text;
    spdlog::warn("session {}: {}", core::LogId(w.session), why);
    EndSession(w.session, proto::Done::DIED, why, true);
  }
  ReapWorker(w);
  if (w.pid == 0 && !w.never_forked) {
    // Forked, but its pid not said yet: reaped (and its uid given back)
    // when it is (OnWorkerSpawned), or given back if the fork failed.
    w.awaiting_pid = true;
    FillPool();
    return;
  }
  if (w.pid == 0) {
    // Never forked: nothing ran as its uid, and its cgroup holds nothing.
    if (uids_ && w.uid != 0) uids_->Release(w.uid);
    if (launcher_.cgroups()) launcher_.cgroups()->RemoveEmptyLeaf(w.home);
  }
  workers_.erase(it);
  FillPool();
}

// Ends the worker: closes its socket and, once its pid is known, kills its
// processes. Idempotent.
void ComputeServer::ReapWorker(WorkerRecord& w) {
  if (w.state() == WorkerState::kReaping) return;
  MoveWorker(w, WorkerState::kReaping);
  w.conn->Close();
  if (w.pid > 0) StartReaper(w);  // otherwise when the launcher reports its pid
}

void ComputeServer::StartReaper(WorkerRecord& w) {
  spdlog::debug("reaping worker {} (pid {}, uid {})", w.wid, w.pid, w.uid);
  const uid_t uid = w.uid;
  const bool started = launcher_.Reap({w.pid, uid, w.home}, [this, uid] {
    --reaps_running_;
    if (uids_ && uid != 0) uids_->Release(uid);
    spdlog::debug("reaped uid {}", uid);
    FillPool();
  });
  // If it could not start, its uid stays out of the pool rather than be shared.
  if (started) ++reaps_running_;
}

}  // namespace salvus::compute
