// The pool of preforked workers: spawning (with back-off when workers cannot
// start, a few forks at a time), refilling (after a quiet period following a
// start), growing under a burst of starts and shrinking when idle, priority,
// handing ready workers to waiting starts, and the frames workers send.
#include <spdlog/spdlog.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

#include "compute/cgroup.h"
#include "compute/server.h"
#include "compute/server_records.h"
#include "compute/worker_record.h"
#include "core/log.h"

namespace salvus::compute {

namespace asio = boost::asio;

void ComputeServer::MoveWorker(WorkerRecord& w, WorkerState to) {
  const WorkerState from = w.state();
  if (!w.MoveTo(to)) return;
  if (from == WorkerState::kSpawning) {
    --spawning_;
    if (w.urgent) --urgent_spawning_;
  }
  if (from == WorkerState::kIdle) std::erase(ready_workers_, w.wid);
  if (to == WorkerState::kIdle) ready_workers_.push_back(w.wid);
  UpdateGauges();
}

void ComputeServer::UpdateGauges() {
  metrics_.sessions.Set(static_cast<int64_t>(sessions_.size()));
  metrics_.waiting_starts.Set(static_cast<int64_t>(waiting_starts_.size()));
  metrics_.pool_ready.Set(static_cast<int64_t>(ready_workers_.size()));
  metrics_.pool_spawning.Set(spawning_);
  metrics_.pool_target.Set(pool_target_);
}

// True when refilling the pool should wait for the quiet period after a
// start (and a timer will do it then). Only while more than one worker is
// still ready: never while a start waits for a worker, nor when the next
// start would find the pool empty.
bool ComputeServer::DeferRefill() {
  if (!waiting_starts_.empty() || ready_workers_.size() <= 1 || clock_.Now() >= quiet_until_) {
    return false;
  }
  if (!refill_armed_) {
    refill_armed_ = true;
    ExpireAt(refill_timer_, quiet_until_);
    refill_timer_.async_wait([this](boost::system::error_code ec) {
      refill_armed_ = false;
      if (!ec) FillPool();
    });
  }
  return true;
}

// Spawns workers until the pool holds its target beyond the workers owed
// to waiting starts, a few forks at a time. Called whenever that balance
// may have changed: a start, a worker ready or gone, a reap, a timer.
void ComputeServer::FillPool() {
  if (stopping_ || !launcher_ready_ || backoff_armed_) return;
  if (DeferRefill()) return;
  for (;;) {
    // A waiting start gets a worker of its own, set up without delay; the
    // pool's own workers warm up at low priority (whichever is ready first
    // serves the start that waited longest).
    const bool for_start = waiting_starts_.size() > urgent_spawning_;
    const bool for_pool = ready_workers_.size() + spawning_ < pool_target_ + waiting_starts_.size();
    if (!for_start && !for_pool) break;
    // Processes alive at most: one per session that may run, plus the pool.
    if (workers_.size() >= opt_.max_sessions + opt_.pool_max) break;
    // A few forks at a time (the next when one is ready), counted apart for
    // waiting starts, so the pool's own warm-ups never hold a start back.
    if ((for_start ? urgent_spawning_ : spawning_) >= opt_.spawn_in_flight) break;
    if (uids_ && uids_->free_count() == 0) {
      spdlog::warn("no free session uid left in {}..{}", opt_.uid_base,
                   opt_.uid_base + opt_.uid_count - 1);
      break;
    }
    SpawnWorker(for_start);
  }
}

// A start arrived: the pool aims one worker higher (up to pool_max) until
// pool_idle passes without a start.
void ComputeServer::GrowPool() {
  pool_target_ = std::min(opt_.pool_max, pool_target_ + 1);
  UpdateGauges();
  pool_idle_timer_.expires_after(opt_.pool_idle);
  pool_idle_timer_.async_wait([this](boost::system::error_code ec) {
    if (!ec) ShrinkPool();
  });
}

// No start for pool_idle: back to pool_size ready workers; the newest of
// the others are retired.
void ComputeServer::ShrinkPool() {
  pool_target_ = opt_.pool_size;
  UpdateGauges();
  while (ready_workers_.size() > pool_target_) {
    WorkerRecord& w = *workers_[ready_workers_.back()];
    spdlog::debug("the pool shrinks: worker {} retires", w.wid);
    ReapWorker(w);
  }
}

// More starts wait than workers are being set up for them (forks at a time
// are capped): workers set up for the pool at low priority get their normal
// priority now, as many as are missing, so a warm-up never delays a start.
void ComputeServer::HurryForWaitingStarts() {
  size_t owed =
      waiting_starts_.size() > urgent_spawning_ ? waiting_starts_.size() - urgent_spawning_ : 0;
  for (auto& [wid, w] : workers_) {
    if (owed == 0) break;
    if (w->state() != WorkerState::kSpawning || w->urgent) continue;
    --owed;
    if (w->low_priority && w->pid > 0) {
      w->low_priority = false;
      launcher_.Promote(w->pid);
    }
  }
}

void ComputeServer::SpawnWorker(bool urgent) {
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
    spdlog::error("socketpair: {}", strerror(errno));
    return;
  }
  auto w = std::make_unique<WorkerRecord>();
  w->wid = next_wid_++;
  if (uids_) w->uid = *uids_->Acquire();
  w->home = opt_.state_dir + "/homes/w" + std::to_string(w->wid);
  // The worker moves into its cgroup before it runs anything; if this
  // fails, so does the worker's start, with the reason.
  if (const SessionCgroups* cg = launcher_.cgroups()) {
    if (auto r = cg->MakeLeaf(w->home, pool_limits_); !r) {
      spdlog::error("worker {}: cgroup: {}", w->wid, r.error());
    }
  }
  using Local = asio::local::stream_protocol;
  auto conn = std::make_shared<core::FramedConn<Local::socket>>(
      Local::socket(io_, Local(), sv[0]), "worker " + std::to_string(w->wid), opt_.max_frame);
  w->conn = conn;
  const uint64_t wid = w->wid;
  conn->Start({[this, wid](std::string_view body) { OnWorkerFrame(wid, body); },
               [this, wid](core::ConnEnd) { OnWorkerEnd(wid); }});
  w->urgent = urgent;
  w->low_priority = !urgent;
  w->spawned_at = std::chrono::steady_clock::now();
  (urgent ? metrics_.urgent_forks : metrics_.forks).Add();
  if (urgent) ++urgent_spawning_;
  const WorkerSpec spec{w->uid, w->home, opt_.isolate_network, urgent};
  workers_[wid] = std::move(w);
  ++spawning_;
  UpdateGauges();
  launcher_.Spawn(wid, spec, sv[1]);
}

// A pooled worker is forked and warmed up at low priority; once ready it
// sleeps, so it can get its normal priority back now, off the start path.
// Called when it is ready and when its pid is known: it acts on the later.
void ComputeServer::Promote(WorkerRecord& w) {
  const bool ready = w.state() == WorkerState::kIdle || w.state() == WorkerState::kServing;
  if (!ready || !w.low_priority || w.pid <= 0) return;
  w.low_priority = false;
  launcher_.Promote(w.pid);
}

void ComputeServer::DeliverInterrupt(SessionRecord& s) {
  if (s.interrupt_for == 0 || s.wid == 0) return;
  auto w = workers_.find(s.wid);
  if (w == workers_.end() || w->second->pid <= 0) return;
  launcher_.Interrupt(w->second->pid, s.interrupt_for);
  s.interrupt_for = 0;
}

void ComputeServer::OnWorkerSpawned(uint64_t wid, pid_t pid) {
  auto it = workers_.find(wid);
  if (it == workers_.end()) return;
  WorkerRecord& w = *it->second;
  w.pid = pid;
  if (w.state() == WorkerState::kReaping) {
    StartReaper(w);
    if (w.awaiting_pid) workers_.erase(it);
  } else {
    Promote(w);
    if (auto s = sessions_.find(w.session); s != sessions_.end()) DeliverInterrupt(*s->second);
    HurryForWaitingStarts();
  }
}

void ComputeServer::OnWorkerSpawnFailed(uint64_t wid, const std::string& why) {
  spdlog::error("could not start a worker: {}", why);
  auto it = workers_.find(wid);
  if (it == workers_.end()) return;
  it->second->never_forked = true;
  if (it->second->awaiting_pid) {  // retired already: only its uid is left
    RetireWorker(wid);
    return;
  }
  // Its socket may have reached EOF already (the launcher closed its end).
  if (it->second->state() == WorkerState::kSpawning) MoveWorker(*it->second, WorkerState::kFailed);
  it->second->conn->Close();
}

void ComputeServer::AssignWorkers() {
  while (!waiting_starts_.empty() && !ready_workers_.empty()) {
    const std::string sid = waiting_starts_.front();
    waiting_starts_.pop_front();
    auto it = sessions_.find(sid);
    if (it == sessions_.end()) continue;
    SessionRecord& s = *it->second;
    WorkerRecord& w = *workers_[ready_workers_.front()];
    MoveWorker(w, WorkerState::kServing);
    spdlog::debug("session {} gets worker {} ({} more ready)", core::LogId(sid), w.wid,
                  ready_workers_.size());
    w.session = sid;
    s.wid = w.wid;
    if (auto r = SetSessionCgroupLimits(w, s.limits); !r) {
      spdlog::error("session {}: {}", core::LogId(sid), r.error());
      EndSession(sid, proto::Done::DIED, r.error(), false);
      continue;
    }
    proto::WorkerStart start;
    start.set_session(sid);
    *start.mutable_limits() = s.limits;
    w.conn->Send(core::EncodeFrame(start));
    for (auto& f : s.queued) w.conn->Send(std::move(f));
    s.queued.clear();
    DeliverInterrupt(s);
    metrics_.sessions_started.Add();
    s.queued_bytes = 0;
    UpdateWorkerReading(s);
    ConfirmStart(s);
  }
  UpdateGauges();
}

// The worker's cgroup was made with the pool's limits; a session that asked
// for others gets them before it can run anything.
std::expected<void, std::string> ComputeServer::SetSessionCgroupLimits(const WorkerRecord& w,
                                                                       const proto::Limits& l) {
  const SessionCgroups* cg = launcher_.cgroups();
  if (cg == nullptr ||
      (l.memory_mb() == pool_limits_.memory_mb() && l.processes() == pool_limits_.processes())) {
    return {};
  }
  if (auto r = cg->SetLimits(w.home, l); !r) {
    return std::unexpected("cannot set the session's cgroup limits: " + r.error());
  }
  return {};
}

void ComputeServer::OnWorkerFrame(uint64_t wid, std::string_view body) {
  auto wit = workers_.find(wid);
  if (wit == workers_.end()) return;
  WorkerRecord& w = *wit->second;
  proto::Message m;
  if (!m.ParseFromArray(body.data(), static_cast<int>(body.size()))) {
    spdlog::error("worker {}: malformed frame; ending it", wid);
    w.conn->Close();
    return;
  }
  if (w.state() == WorkerState::kSpawning) {
    OnFirstWorkerFrame(w, m);
    return;
  }
  if (w.state() != WorkerState::kServing) return;
  auto sit = sessions_.find(w.session);
  if (sit == sessions_.end()) return;
  SessionRecord& s = *sit->second;
  auto hub = s.owner.lock();
  if (m.has_error()) {  // the worker could not set up the session
    spdlog::error("session {}: the worker could not set it up: {}", core::LogId(s.id),
                  m.error().text());
    EndSession(s.id, proto::Done::DIED, "the session could not start: " + m.error().text(), true);
    return;
  }
  if (m.has_done()) {
    if (!s.pending.empty()) s.pending.pop_front();
    s.idle_since = clock_.Now();
    ArmDeadline(s);
  }
  // Forwarded unchanged: the worker already filled in the id and the session.
  if (hub) hub->conn->Send(core::FrameBody(body));
}

// A worker's first frame: an ack (ready for a session) or why it cannot start.
void ComputeServer::OnFirstWorkerFrame(WorkerRecord& w, const proto::Message& m) {
  if (m.has_ack()) {
    spawn_failures_ = 0;
    metrics_.worker_ready_seconds.Observe(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - w.spawned_at).count());
    MoveWorker(w, WorkerState::kIdle);
    Promote(w);
    spdlog::debug("worker {} ready ({} ready)", w.wid, ready_workers_.size());
    AssignWorkers();
    FillPool();  // the next fork, if the pool or a waiting start needs one
    return;
  }
  last_worker_error_ = m.has_error() ? m.error().text() : "unexpected first message";
  metrics_.worker_failures.Add();
  spdlog::error("worker {} failed to start: {}", w.wid, last_worker_error_);
  MoveWorker(w, WorkerState::kFailed);
  w.conn->Close();
  // Back off rather than spin when workers cannot start at all.
  spawn_failures_ = std::min(spawn_failures_ + 1, 6u);
  if (!backoff_armed_) {
    backoff_armed_ = true;
    respawn_backoff_.expires_after(opt_.respawn_backoff * (1 << (spawn_failures_ - 1)));
    respawn_backoff_.async_wait([this](boost::system::error_code ec) {
      if (ec) return;
      backoff_armed_ = false;
      FillPool();
    });
  }
  FailWaitingStarts();
}

}  // namespace salvus::compute
