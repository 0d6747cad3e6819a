// `salvus compute`: accepts hubs (token, optional TLS), multiplexes their
// sessions onto sandboxed workers started by a WorkerLauncher (the zygote in
// production), and enforces the sessions' deadlines. Runs on one
// single-threaded io_context and never runs Python itself.
//
// The implementation is split by concern:
//   server.cc        construction, start, stop, the launcher's own events
//   hub_conn.cc      hub connections: accept, TLS, hello, requests
//   sessions.cc      sessions: start, end, deadlines (walltime, idle, start)
//   worker_pool.cc   the pool: spawn, refill, priority, back-off, hand-out
//   worker_retire.cc a worker's end: EOF, exit report, retirement, reaping
#pragma once

#include <sys/types.h>

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <chrono>
#include <deque>
#include <expected>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>

#include "compute/compute_metrics.h"
#include "compute/uid_pool.h"
#include "compute/worker_launcher.h"
#include "core/address.h"
#include "core/clock.h"
#include "core/frame.h"
#include "proto/salvus.pb.h"

namespace salvus::compute {

struct HubConn;
struct SessionRecord;
struct WorkerRecord;
enum class WorkerState;

struct ComputeOptions {
  core::HostPort listen{"127.0.0.1", 6000};
  std::string token;
  std::string kernel = "sage";
  unsigned max_sessions = 32;
  unsigned pool_size = 2;  // preforked, ready workers kept at all times
  // Under a burst of starts the pool grows by one per start up to this many
  // ready workers, and shrinks back to pool_size after pool_idle without a start.
  unsigned pool_max = 16;
  // Workers being forked and set up at once: a few at a time, so that the
  // first are ready sooner than if all shared the CPU (0: the CPU count).
  unsigned spawn_in_flight = 0;
  std::string tls_cert, tls_key;  // both set: TLS
  bool isolate_network = false;
  std::string state_dir;    // homes live in <state_dir>/homes
  uid_t uid_base = 200000;  // session uids when run as root
  unsigned uid_count = 1000;
  proto::Limits default_limits;
  proto::Limits max_limits;
  size_t max_frame = core::kDefaultMaxFrame;
  // Backpressure towards the workers: while this many bytes wait to be
  // written to a hub (it reads slower than its sessions' workers write),
  // those workers are not read (their writes block) until it is down to
  // half. Past max_hub_queue the hub's connection is closed (it reads
  // nothing). A hub pauses single sessions itself (proto Flow).
  size_t hub_queue_high = 8 << 20;
  size_t max_hub_queue = 256 << 20;
  // Requests (execute, complete, interactUpdate) waiting for one session's
  // worker to read them, in bytes: past it a request gets RESOURCE_EXHAUSTED.
  size_t max_session_requests = 16 << 20;
  std::string port_file;  // written with the bound port once ready
  bool root = false;      // sandbox with uids (set from geteuid)

  // Timing. The defaults are production's; tests make them milliseconds.
  using Ms = std::chrono::milliseconds;
  Ms tls_handshake_timeout{10'000};  // a hub's TLS handshake must end by then
  Ms hello_timeout{10'000};          // a hub must say hello by then
  // A start that no worker takes up by then fails with a clear error.
  Ms start_timeout{60'000};
  // After a start that found a ready worker, the pool is refilled only this
  // much later: forking a Sage-sized zygote takes tens of milliseconds of
  // CPU, which must not compete with the session's first request.
  Ms refill_quiet{50};
  // The pool shrinks back to pool_size after this long without a start.
  Ms pool_idle{120'000};
  // After a worker fails to start, the next is forked this much later,
  // doubled for each further failure in a row, at most 2^5 times.
  Ms respawn_backoff{250};
  // After this many workers in a row failed to start, waiting starts fail.
  unsigned failures_before_rejecting = 3;
  // How long a worker whose socket closed waits for the launcher to say how
  // its process ended (for a better message) before it is retired anyway.
  Ms exit_report_grace{300};
  // AfterStop waits at most this long for the reapers, checking this often.
  Ms stop_reap_wait{3'000};
  Ms stop_reap_poll{20};
};

class ComputeServer : private WorkerLauncher::Listener {
 public:
  // `launcher` and `clock` must outlive the server. Throws if the TLS
  // certificate or key cannot be loaded.
  ComputeServer(boost::asio::io_context& io, ComputeOptions options, WorkerLauncher& launcher,
                core::Clock& clock = core::RealClock());
  ~ComputeServer() override;

  // Waits for the launcher, then listens. Returns when Stop() is called or
  // the launcher is lost.
  boost::asio::awaitable<void> Run();
  void Stop();
  // False when the server stopped because the launcher failed.
  bool stopped_cleanly() const { return launcher_error_.empty(); }
  // Calls `done` once every session's processes are reaped (at most
  // stop_reap_wait).
  void AfterStop(const std::function<void()>& done);
  // Sessions started and not ended (from every hub).
  size_t sessions_in_use() const { return sessions_.size(); }
  // Workers ready in the pool, and how many it aims to keep ready now.
  size_t workers_ready() const { return ready_workers_.size(); }
  unsigned pool_target() const { return pool_target_; }
  // Hub connections held (authenticated or not, until their end).
  size_t hubs_connected() const { return hubs_.size(); }
  // The port listened on (0 until Run listens).
  uint16_t port() const { return port_; }

 private:
  using TimePoint = core::Clock::TimePoint;

  // WorkerLauncher::Listener (server.cc, worker_pool.cc, worker_retire.cc).
  void OnLauncherReady(const std::string& info) override;
  void OnLauncherWarning(const std::string& text) override;
  void OnLauncherFailed(const std::string& text) override;
  void OnLauncherLost() override;
  void OnWorkerSpawned(uint64_t wid, pid_t pid) override;
  void OnWorkerSpawnFailed(uint64_t wid, const std::string& why) override;
  void OnWorkerExited(uint64_t wid, const proto::WorkerExited& how) override;

  void LogCgroups() const;
  // Arms `timer` for `when` as read on clock_.
  void ExpireAt(boost::asio::steady_timer& timer, TimePoint when);

  // hub_conn.cc
  boost::asio::awaitable<void> AcceptLoop();
  void AcceptHub(boost::asio::ip::tcp::socket sock);
  void OnHubFrame(const std::shared_ptr<HubConn>& hub, std::string_view body);
  void OnHubEnd(const std::shared_ptr<HubConn>& hub);
  void Reply(HubConn& hub, uint64_t id, proto::Message&& m);
  void ReplyError(HubConn& hub, uint64_t id, proto::Error::Code code, const std::string& text);
  SessionRecord* FindOwned(HubConn& hub, uint64_t id, const std::string& session);
  // Reads the session's worker unless its hub paused it or is backed up.
  void UpdateWorkerReading(const SessionRecord& s);
  void OnHubBacklog(const std::shared_ptr<HubConn>& hub, bool backed_up);

  // sessions.cc
  void HandleStart(const std::shared_ptr<HubConn>& hub, uint64_t id, const proto::StartSession& s);
  void ConfirmStart(SessionRecord& s);
  void FailWaitingStarts();
  void EndSession(const std::string& id, proto::Done::Status status, const std::string& reason,
                  bool notify_owner);
  void ArmDeadline(SessionRecord& s);
  void OnDeadline(const std::string& id);

  // worker_pool.cc
  void FillPool();
  bool DeferRefill();
  void SpawnWorker(bool urgent);
  void GrowPool();
  void ShrinkPool();
  void HurryForWaitingStarts();
  void MoveWorker(WorkerRecord& w, WorkerState to);  // every state change of a worker
  void Promote(WorkerRecord& w);
  // Sends the session's interrupt_for to its worker once it has one with a
  // known pid.
  void DeliverInterrupt(SessionRecord& s);
  void AssignWorkers();
  std::expected<void, std::string> SetSessionCgroupLimits(const WorkerRecord& w,
                                                          const proto::Limits& l);
  void OnWorkerFrame(uint64_t wid, std::string_view body);
  void OnFirstWorkerFrame(WorkerRecord& w, const proto::Message& m);

  // worker_retire.cc
  void OnWorkerEnd(uint64_t wid);
  void OutOfMemoryText(WorkerRecord& w);
  bool OutOfMemory(const WorkerRecord& w) const;  // killed by its cgroup's OOM killer
  ComputeMetrics::Cause ExitCause(const WorkerRecord& w, const proto::WorkerExited& how);
  void RetireWorker(uint64_t wid);
  void ReapWorker(WorkerRecord& w);
  void StartReaper(WorkerRecord& w);

  boost::asio::io_context& io_;
  ComputeOptions opt_;
  WorkerLauncher& launcher_;
  core::Clock& clock_;
  std::optional<boost::asio::ssl::context> tls_;
  boost::asio::ip::tcp::acceptor acceptor_;
  uint16_t port_ = 0;
  std::optional<UidPool> uids_;
  proto::Limits pool_limits_;  // a preforked worker's cgroup limits (the defaults)
  bool launcher_ready_ = false;
  bool stopping_ = false;
  boost::asio::steady_timer ready_;  // fires when the launcher is ready or lost
  std::string launcher_error_;

  uint64_t next_wid_ = 1;
  std::map<uint64_t, std::unique_ptr<WorkerRecord>> workers_;
  std::deque<uint64_t> ready_workers_;  // kIdle, in the order they became ready
  unsigned spawning_ = 0;               // workers in kSpawning
  unsigned urgent_spawning_ = 0;        // of which urgent (for waiting starts)
  std::map<std::string, std::unique_ptr<SessionRecord>> sessions_;
  // Connected hubs (authenticated or not): the server owns them, their
  // connections' handlers hold them weakly; OnHubEnd and Stop let go.
  std::set<std::shared_ptr<HubConn>> hubs_;
  std::deque<std::string> waiting_starts_;  // sessions waiting for a worker
  boost::asio::steady_timer respawn_backoff_;
  bool backoff_armed_ = false;
  TimePoint quiet_until_{};   // see ComputeOptions::refill_quiet
  unsigned pool_target_ = 0;  // ready workers aimed at: pool_size, more under a burst
  boost::asio::steady_timer pool_idle_timer_;
  boost::asio::steady_timer refill_timer_;
  bool refill_armed_ = false;
  unsigned reaps_running_ = 0;
  unsigned spawn_failures_ = 0;  // consecutive workers that failed to start
  std::string last_worker_error_;
  ComputeMetrics metrics_;
  void UpdateGauges();  // after every change of sessions or the pool
};

}  // namespace salvus::compute
