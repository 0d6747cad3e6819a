// `salvus compute`: accepts hubs (token, optional TLS), multiplexes their
// sessions onto sandboxed workers forked by the zygote, and enforces the
// sessions' deadlines. Runs on one single-threaded io_context and never runs
// Python itself.
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

#include "compute/uid_pool.h"
#include "compute/zygote_link.h"
#include "core/address.h"
#include "core/conn.h"
#include "proto/salvus.pb.h"

namespace salvus::compute {

struct ComputeOptions {
  core::HostPort listen{"127.0.0.1", 6000};
  std::string token;
  std::string kernel = "sage";
  unsigned max_sessions = 32;
  unsigned pool_size = 2;            // preforked, ready workers
  std::string tls_cert, tls_key;     // both set: TLS
  bool isolate_network = false;
  std::string state_dir;             // homes live in <state_dir>/homes
  uid_t uid_base = 200000;           // session uids when run as root
  unsigned uid_count = 1000;
  proto::Limits default_limits;
  proto::Limits max_limits;
  size_t max_frame = core::kDefaultMaxFrame;
  std::string port_file;             // written with the bound port once ready
  bool root = false;                 // sandbox with uids (set from geteuid)
};

class ComputeServer {
 public:
  ComputeServer(boost::asio::io_context& io, ComputeOptions options, ZygoteLink zygote);
  ~ComputeServer();

  // Waits for the zygote, then listens. Returns when Stop() is called or the
  // zygote is lost.
  boost::asio::awaitable<void> Run();
  void Stop();
  // False when the server stopped because the zygote failed.
  bool stopped_cleanly() const { return zygote_error_.empty(); }
  // Calls `done` once every session's processes are reaped (at most ~3 s).
  void AfterStop(std::function<void()> done);
  // Kills the zygote (and so every worker) and waits until it is gone.
  void KillZygote();
  // Sessions started and not ended (from every hub).
  size_t sessions_in_use() const { return sessions_.size(); }

 private:
  struct Worker;
  struct Session;
  struct Hub;

  boost::asio::awaitable<void> AcceptLoop();
  void OnHubFrame(const std::shared_ptr<Hub>& hub, std::string_view body);
  void OnHubEnd(const std::shared_ptr<Hub>& hub);
  void Reply(Hub& hub, uint64_t id, proto::Message&& m);
  void ReplyError(Hub& hub, uint64_t id, proto::Error::Code code, const std::string& text);

  void HandleStart(const std::shared_ptr<Hub>& hub, uint64_t id, const proto::StartSession& s);
  Session* FindOwned(Hub& hub, uint64_t id, const std::string& session);

  void FillPool();
  bool DeferRefill();
  void Promote(Worker& w);
  void DoneSpawning(Worker& w);  // exactly once per worker
  void FailWaitingStarts();
  void SpawnWorker();
  void AssignWorkers();
  std::expected<void, std::string> SetSessionCgroupLimits(const Worker& w, const proto::Limits& l);
  void ConfirmStart(Session& s);
  void LogCgroups() const;
  void OutOfMemoryText(Worker& w);
  void OnZygoteEvent(const proto::ZygoteEvent& ev);
  void OnWorkerFrame(uint64_t wid, std::string_view body);
  void OnWorkerEnd(uint64_t wid);
  void FinishWorker(uint64_t wid);
  void ReapWorker(Worker& w);
  void OnSigchld();
  void EndSession(const std::string& id, proto::Done::Status status, const std::string& reason,
                  bool notify_owner);
  void ArmDeadline(Session& s);

  boost::asio::io_context& io_;
  ComputeOptions opt_;
  ZygoteLink zygote_;
  std::optional<boost::asio::ssl::context> tls_;
  boost::asio::ip::tcp::acceptor acceptor_;
  std::optional<UidPool> uids_;
  proto::Limits pool_limits_;  // a preforked worker's cgroup limits (the defaults)
  bool zygote_ready_ = false;
  bool stopping_ = false;
  boost::asio::steady_timer ready_;  // fires when the zygote is ready or lost
  std::string zygote_error_;

  uint64_t next_wid_ = 1;
  uint64_t next_zreq_ = 1;
  std::map<uint64_t, std::unique_ptr<Worker>> workers_;
  std::map<pid_t, uint64_t> wid_by_pid_;
  std::map<uint64_t, uint64_t> wid_by_spawn_req_;
  std::deque<uint64_t> ready_workers_;  // preforked and ready, no session yet
  unsigned spawning_ = 0;
  std::map<std::string, std::unique_ptr<Session>> sessions_;
  std::deque<std::string> waiting_starts_;  // sessions waiting for a worker
  boost::asio::steady_timer respawn_backoff_;
  bool backoff_armed_ = false;
  // After a start that found a ready worker, the pool is refilled only from
  // quiet_until_ on: forking a Sage-sized zygote takes tens of milliseconds
  // of CPU, which must not compete with the session's first request.
  std::chrono::steady_clock::time_point quiet_until_{};
  boost::asio::steady_timer refill_timer_;
  bool refill_armed_ = false;
  boost::asio::signal_set sigchld_;
  std::map<pid_t, uid_t> reapers_;  // reaper pid -> the uid it frees
  unsigned spawn_failures_ = 0;     // consecutive workers that failed to start
  std::string last_worker_error_;
};

}  // namespace salvus::compute
