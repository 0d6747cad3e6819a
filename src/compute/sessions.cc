// Sessions: start (limits resolved against the operator's), confirmation,
// end, and their deadlines (walltime, idle, and the start's own).
#include <spdlog/spdlog.h>

#include "compute/limits.h"
#include "compute/server.h"
#include "compute/server_records.h"
#include "compute/worker_record.h"
#include "core/hex.h"
#include "core/log.h"

namespace salvus::compute {

namespace asio = boost::asio;

namespace {

std::chrono::milliseconds Seconds(double s) {
  return std::chrono::milliseconds(static_cast<int64_t>(s * 1000));
}

}  // namespace

void ComputeServer::HandleStart(const std::shared_ptr<HubConn>& hub, uint64_t id,
                                const proto::StartSession& s) {
  if (!s.kernel().empty() && s.kernel() != opt_.kernel) {
    ReplyError(
        *hub, id, proto::Error::UNAVAILABLE,
        "this compute server runs the '" + opt_.kernel + "' kernel, not '" + s.kernel() + "'");
    return;
  }
  if (sessions_.size() >= opt_.max_sessions) {
    metrics_.starts_refused.Add();
    ReplyError(*hub, id, proto::Error::UNAVAILABLE,
               "the compute server is full: " + std::to_string(opt_.max_sessions) +
                   " sessions are running (--max-sessions)");
    return;
  }
  const TimePoint now = clock_.Now();
  auto session = std::make_unique<SessionRecord>();
  session->id = core::RandomHex(16);
  session->owner = hub;
  session->start_id = id;
  session->limits = ResolveLimits(s.limits(), opt_.default_limits, opt_.max_limits);
  session->walltime_end = now + Seconds(session->limits.walltime_s());
  session->idle_since = now;
  session->start_deadline = now + opt_.start_timeout;
  session->deadline = std::make_unique<asio::steady_timer>(io_);
  const std::string sid = session->id;
  hub->sessions.insert(sid);
  SessionRecord& ref = *session;
  sessions_[sid] = std::move(session);
  ArmDeadline(ref);
  waiting_starts_.push_back(sid);
  UpdateGauges();
  // With workers at hand, the replacement is forked a little later (see
  // DeferRefill; the period is not extended by the starts that follow);
  // without one, a worker is forked for this start right away.
  if (!ready_workers_.empty() && now >= quiet_until_) quiet_until_ = now + opt_.refill_quiet;
  GrowPool();
  AssignWorkers();
  FillPool();
  HurryForWaitingStarts();
}

// A ready worker applies the session's limits before it reads anything
// after WorkerStart, so no code of the session can run without them: the
// start is answered now, without waiting for the worker (on a busy machine
// every process hop costs a scheduler wake-up). A worker that cannot apply
// them says so and ends; the session then ends with the reason.
void ComputeServer::ConfirmStart(SessionRecord& s) {
  s.started = true;
  spdlog::debug("session {} started", core::LogId(s.id));
  ArmDeadline(s);  // the start deadline no longer applies
  auto hub = s.owner.lock();
  if (!hub) return;
  proto::Message m;
  m.mutable_session_started()->set_session(s.id);
  *m.mutable_session_started()->mutable_limits() = s.limits;
  Reply(*hub, s.start_id, std::move(m));
}

// When no worker can be started, a waiting start gets the reason instead of
// waiting forever.
void ComputeServer::FailWaitingStarts() {
  if (spawn_failures_ < opt_.failures_before_rejecting) return;
  std::vector<std::string> ids(waiting_starts_.begin(), waiting_starts_.end());
  for (auto& id : ids) {
    EndSession(id, proto::Done::REJECTED, "no worker could be started: " + last_worker_error_,
               false);
  }
}

void ComputeServer::EndSession(const std::string& id, proto::Done::Status status,
                               const std::string& reason, bool notify_owner) {
  auto it = sessions_.find(id);
  if (it == sessions_.end()) return;
  std::unique_ptr<SessionRecord> s = std::move(it->second);
  sessions_.erase(it);
  std::erase(waiting_starts_, id);
  metrics_.sessions_ended.Add();
  UpdateGauges();
  if (s->deadline) s->deadline->cancel();
  auto hub = s->owner.lock();
  if (hub) {
    hub->sessions.erase(id);
    if (!s->started) {
      ReplyError(*hub, s->start_id, proto::Error::UNAVAILABLE,
                 "session could not start: " + reason);
    }
    for (uint64_t rid : s->pending) {
      proto::Message d;
      d.mutable_done()->set_session(id);
      d.mutable_done()->set_status(status);
      d.mutable_done()->set_text(reason);
      Reply(*hub, rid, std::move(d));
    }
    if (notify_owner && s->started) {
      proto::Message e;
      e.mutable_session_ended()->set_session(id);
      e.mutable_session_ended()->set_reason(reason);
      Reply(*hub, 0, std::move(e));
    }
  }
  if (s->wid != 0) {
    auto w = workers_.find(s->wid);
    if (w != workers_.end()) {
      w->second->session.clear();
      ReapWorker(*w->second);
    }
  }
  FillPool();
}

void ComputeServer::ArmDeadline(SessionRecord& s) {
  TimePoint when = s.walltime_end;
  if (!s.started && s.start_deadline < when) when = s.start_deadline;
  if (s.pending.empty()) {  // idle
    const TimePoint idle_end = s.idle_since + Seconds(s.limits.idle_s());
    if (idle_end < when) when = idle_end;
  }
  ExpireAt(*s.deadline, when);
  s.deadline->async_wait([this, id = s.id](boost::system::error_code ec) {
    if (!ec) OnDeadline(id);
  });
}

void ComputeServer::OnDeadline(const std::string& id) {
  auto it = sessions_.find(id);
  if (it == sessions_.end()) return;
  const SessionRecord& s = *it->second;
  const TimePoint now = clock_.Now();
  const bool wall_hit = now >= s.walltime_end;
  const bool start_hit = !s.started && now >= s.start_deadline;
  const auto start_s = std::chrono::duration_cast<std::chrono::seconds>(opt_.start_timeout);
  std::string why =
      start_hit ? "no worker became ready within " + std::to_string(start_s.count()) + " s" +
                      (last_worker_error_.empty() ? "" : " (" + last_worker_error_ + ")")
      : wall_hit ? "the session reached its walltime limit of " +
                       std::to_string(static_cast<long>(s.limits.walltime_s())) + " s"
                 : "the session was idle for " +
                       std::to_string(static_cast<long>(s.limits.idle_s())) + " s";
  spdlog::info("session {}: {}", core::LogId(id), why);
  EndSession(id, proto::Done::DIED, why, true);
}

}  // namespace salvus::compute
