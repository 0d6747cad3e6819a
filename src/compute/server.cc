#include "compute/server.h"


#include <signal.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <fstream>

#include "compute/cgroup.h"
#include "compute/limits.h"
#include "compute/sandbox.h"
#include "core/fork.h"
#include "core/hex.h"
#include "core/tls.h"
#include "core/token.h"

namespace salvus::compute {

namespace asio = boost::asio;
using asio::ip::tcp;
using Clock = std::chrono::steady_clock;
// A start that no worker takes up by then fails with a clear error.
constexpr std::chrono::seconds kStartTimeout{60};
// How long after a session start the pool waits before refilling.
constexpr std::chrono::milliseconds kRefillQuiet{50};

struct ComputeServer::Hub {
  std::shared_ptr<core::Conn> conn;
  bool authenticated = false;
  std::set<std::string> sessions;
};

struct ComputeServer::Worker {
  uint64_t wid = 0;
  std::shared_ptr<core::Conn> conn;
  pid_t pid = 0;           // in the zygote's pid namespace
  uid_t uid = 0;
  std::string home;
  bool ready = false;      // sent its first ack
  bool promoted = false;   // back to normal priority (asked of the zygote)
  bool spawning = true;    // counted in spawning_ (until ready or gone)
  std::string session;     // empty while in the pool
  bool eof = false;        // its socket closed
  std::string exit_text;   // how the process ended, once the zygote said
  bool exited = false;
  bool reap_sent = false;
  bool reap_wanted = false;
  std::unique_ptr<asio::steady_timer> grace;  // waits for exit info after EOF
};

struct ComputeServer::Session {
  std::string id;
  std::weak_ptr<Hub> owner;
  uint64_t wid = 0;  // 0 until a worker is assigned
  uint64_t start_id = 0;
  bool started = false;
  proto::Limits limits;
  std::deque<uint64_t> pending;  // Execute ids sent to the worker, in order
  std::deque<std::string> queued;  // Execute frames waiting for a worker
  Clock::time_point walltime_end;
  Clock::time_point start_deadline;  // while not started: give up then
  Clock::time_point idle_since;
  std::unique_ptr<asio::steady_timer> deadline;
};

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

std::string Frame(const proto::Message& m) { return core::EncodeFrame(m); }

}  // namespace

ComputeServer::ComputeServer(asio::io_context& io, ComputeOptions options, ZygoteLink zygote)
    : io_(io),
      opt_(std::move(options)),
      zygote_(std::move(zygote)),
      acceptor_(io),
      ready_(io),
      respawn_backoff_(io),
      refill_timer_(io),
      sigchld_(io, SIGCHLD) {
  ready_.expires_at(Clock::time_point::max());
  if (opt_.root) uids_.emplace(opt_.uid_base, opt_.uid_count);
  pool_limits_ = ResolveLimits({}, opt_.default_limits, opt_.max_limits);
  if (!opt_.tls_cert.empty()) tls_.emplace(core::MakeServerTlsContext(opt_.tls_cert, opt_.tls_key));
}

ComputeServer::~ComputeServer() = default;

void ComputeServer::Stop() {
  stopping_ = true;
  boost::system::error_code ec;
  acceptor_.close(ec);
  ready_.cancel();
  refill_timer_.cancel();
  std::vector<std::string> ids;
  for (auto& [id, s] : sessions_) ids.push_back(id);
  for (auto& id : ids) EndSession(id, proto::Done::DIED, "the compute server is shutting down", true);
}

void ComputeServer::KillZygote() {
  if (zygote_.pid() <= 0) return;
  kill(zygote_.pid(), SIGKILL);
  int status;
  while (waitpid(zygote_.pid(), &status, 0) < 0 && errno == EINTR) {
  }
}

void ComputeServer::AfterStop(std::function<void()> done) {
  auto t = std::make_shared<asio::steady_timer>(io_);
  auto deadline = Clock::now() + std::chrono::seconds(3);
  auto check = std::make_shared<std::function<void()>>();
  *check = [this, t, deadline, done, check] {
    if (reapers_.empty() || Clock::now() > deadline) {
      *check = nullptr;  // break the cycle
      done();
      return;
    }
    t->expires_after(std::chrono::milliseconds(20));
    t->async_wait([check](boost::system::error_code) {
      if (*check) (*check)();
    });
  };
  (*check)();
}

asio::awaitable<void> ComputeServer::Run() {
  sigchld_.async_wait([this](boost::system::error_code ec, int) {
    if (!ec) OnSigchld();
  });
  zygote_.Attach(
      io_, [this](const proto::ZygoteEvent& ev) { OnZygoteEvent(ev); },
      [this] {
        zygote_error_ = zygote_error_.empty() ? "the zygote process ended" : zygote_error_;
        spdlog::critical("lost the zygote: {}", zygote_error_);
        zygote_ready_ = false;
        Stop();
        ready_.cancel();
      });
  boost::system::error_code ec;
  co_await ready_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  if (!zygote_ready_) {
    spdlog::critical("compute server cannot start: {}", zygote_error_);
    co_return;
  }
  tcp::endpoint ep(asio::ip::make_address(opt_.listen.host), opt_.listen.port);
  acceptor_.open(ep.protocol());
  acceptor_.set_option(asio::socket_base::reuse_address(true));
  acceptor_.bind(ep);
  acceptor_.listen();
  const auto port = acceptor_.local_endpoint().port();
  LogCgroups();
  spdlog::info("compute server ({}) listening on {}:{}{}; max {} sessions, pool {}", opt_.kernel,
               opt_.listen.host, port, tls_ ? " (TLS)" : "", opt_.max_sessions, opt_.pool_size);
  if (!opt_.port_file.empty()) {
    const std::string tmp = opt_.port_file + ".tmp";
    std::ofstream(tmp) << port << "\n";
    std::rename(tmp.c_str(), opt_.port_file.c_str());
  }
  FillPool();
  co_await AcceptLoop();
}

void ComputeServer::LogCgroups() const {
  if (const SessionCgroups* cg = zygote_.cgroups()) {
    spdlog::info("each session gets a cgroup v{} of its own (memory and process limits) in {}",
                 static_cast<int>(cg->version()), fmt::join(cg->parents(), " and "));
  } else {
    spdlog::warn("sessions get no cgroups on this machine ({}); their memory and processes are "
                 "limited by rlimits alone",
                 zygote_.cgroup_problem());
  }
}

asio::awaitable<void> ComputeServer::AcceptLoop() {
  while (!stopping_) {
    boost::system::error_code ec;
    tcp::socket sock = co_await acceptor_.async_accept(asio::redirect_error(asio::use_awaitable, ec));
    if (ec) {
      if (stopping_) break;
      spdlog::warn("accept: {}", ec.message());
      continue;
    }
    sock.set_option(tcp::no_delay(true), ec);
    std::string peer = "?";
    auto rep = sock.remote_endpoint(ec);
    if (!ec) peer = rep.address().to_string() + ":" + std::to_string(rep.port());
    auto hub = std::make_shared<Hub>();
    std::weak_ptr<Hub> weak = hub;
    core::ConnHandlers handlers{
        [this, weak](std::string_view body) {
          if (auto h = weak.lock()) OnHubFrame(h, body);
        },
        [this, hub](core::ConnEnd end) {
          if (end == core::ConnEnd::kTooBig) {
            spdlog::warn("hub {}: frame over {} bytes; closing", hub->conn->peer(), opt_.max_frame);
          }
          OnHubEnd(hub);
        }};
    if (tls_) {
      using TlsStream = asio::ssl::stream<tcp::socket>;
      auto conn = std::make_shared<core::FramedConn<TlsStream>>(TlsStream(std::move(sock), *tls_),
                                                                 peer, opt_.max_frame);
      hub->conn = conn;
      asio::co_spawn(
          io_,
          [conn, handlers, peer]() -> asio::awaitable<void> {
            boost::system::error_code ec;
            asio::steady_timer t(co_await asio::this_coro::executor);
            t.expires_after(std::chrono::seconds(10));
            t.async_wait([conn](boost::system::error_code e) {
              if (!e) conn->Close();
            });
            co_await conn->stream().async_handshake(asio::ssl::stream_base::server,
                                                    asio::redirect_error(asio::use_awaitable, ec));
            t.cancel();
            if (ec) {
              spdlog::warn("hub {}: TLS handshake failed: {}", peer, ec.message());
              conn->Close();
              co_return;
            }
            conn->Start(handlers);
          },
          asio::detached);
    } else {
      auto conn = std::make_shared<core::FramedConn<tcp::socket>>(std::move(sock), peer,
                                                                   opt_.max_frame);
      hub->conn = conn;
      conn->Start(handlers);
    }
    // A hub must say hello promptly.
    auto t = std::make_shared<asio::steady_timer>(io_, std::chrono::seconds(10));
    t->async_wait([t, weak](boost::system::error_code e) {
      auto h = weak.lock();
      if (!e && h && !h->authenticated) {
        spdlog::warn("hub {}: no hello within 10 s; closing", h->conn->peer());
        h->conn->Close();
      }
    });
  }
}

void ComputeServer::Reply(Hub& hub, uint64_t id, proto::Message&& m) {
  m.set_id(id);
  hub.conn->Send(Frame(m));
}

void ComputeServer::ReplyError(Hub& hub, uint64_t id, proto::Error::Code code,
                               const std::string& text) {
  proto::Message m;
  m.mutable_error()->set_code(code);
  m.mutable_error()->set_text(text);
  Reply(hub, id, std::move(m));
}

void ComputeServer::OnHubFrame(const std::shared_ptr<Hub>& hub, std::string_view body) {
  proto::Message m;
  if (!m.ParseFromArray(body.data(), static_cast<int>(body.size()))) {
    spdlog::warn("hub {}: malformed message ({} bytes)", hub->conn->peer(), body.size());
    ReplyError(*hub, 0, proto::Error::BAD_REQUEST,
               "malformed message: not a valid salvus.proto.Message (or invalid UTF-8 in a "
               "text field)");
    if (!hub->authenticated) hub->conn->CloseAfterWrites();
    return;
  }
  const uint64_t id = m.id();
  if (!hub->authenticated) {
    if (!m.has_hello() || !core::TokensEqual(m.hello().token(), opt_.token)) {
      spdlog::warn("hub {}: refused: {}", hub->conn->peer(),
                   m.has_hello() ? "wrong token" : "first message is not hello");
      ReplyError(*hub, id, proto::Error::UNAUTHENTICATED,
                 "refused: the first message must be hello with the cluster token");
      hub->conn->CloseAfterWrites();
      return;
    }
    hub->authenticated = true;
    spdlog::info("hub {} connected ({})", hub->conn->peer(), m.hello().client());
    proto::Message r;
    r.mutable_hello_ok()->set_server("salvus compute");
    r.mutable_hello_ok()->add_kernels(opt_.kernel);
    Reply(*hub, id, std::move(r));
    return;
  }
  switch (m.body_case()) {
    case proto::Message::kStartSession:
      HandleStart(hub, id, m.start_session());
      return;
    case proto::Message::kExecute:
    case proto::Message::kComplete:
    case proto::Message::kInteractUpdate: {
      // Requests the session's worker answers (outputs, then one done), in order.
      const std::string& session = m.has_execute()    ? m.execute().session()
                                   : m.has_complete() ? m.complete().session()
                                                      : m.interact_update().session();
      Session* s = FindOwned(*hub, id, session);
      if (s == nullptr) return;
      proto::Message fwd = std::move(m);
      fwd.set_id(id);
      if (s->wid == 0) {
        s->queued.push_back(Frame(fwd));
      } else {
        workers_[s->wid]->conn->Send(Frame(fwd));
      }
      s->pending.push_back(id);
      ArmDeadline(*s);
      return;
    }
    case proto::Message::kInterrupt: {
      Session* s = FindOwned(*hub, id, m.interrupt().session());
      if (s == nullptr) return;
      if (!s->pending.empty() && s->wid != 0) {
        Worker& w = *workers_[s->wid];
        if (w.pid > 0) {
          proto::ZygoteRequest zr;
          zr.set_id(next_zreq_++);
          zr.mutable_signal()->set_pid(w.pid);
          zr.mutable_signal()->set_signal(SIGINT);
          zygote_.Send(zr);
        }
      }
      proto::Message r;
      r.mutable_ack();
      Reply(*hub, id, std::move(r));
      return;
    }
    case proto::Message::kTerminate: {
      Session* s = FindOwned(*hub, id, m.terminate().session());
      if (s == nullptr) return;
      EndSession(s->id, proto::Done::DIED, "the session was terminated", false);
      proto::Message r;
      r.mutable_ack();
      Reply(*hub, id, std::move(r));
      return;
    }
    case proto::Message::kHello:
      ReplyError(*hub, id, proto::Error::BAD_REQUEST, "already authenticated");
      return;
    default:
      ReplyError(*hub, id, proto::Error::BAD_REQUEST,
                 "unexpected message type for a compute server");
      return;
  }
}

ComputeServer::Session* ComputeServer::FindOwned(Hub& hub, uint64_t id,
                                                 const std::string& session) {
  auto it = sessions_.find(session);
  if (it == sessions_.end()) {
    ReplyError(hub, id, proto::Error::NOT_FOUND, "no such session: '" + session + "'");
    return nullptr;
  }
  if (!hub.sessions.count(session)) {
    spdlog::warn("hub {}: request for another connection's session {}", hub.conn->peer(), session);
    ReplyError(hub, id, proto::Error::PERMISSION_DENIED,
               "session " + session + " belongs to another connection");
    return nullptr;
  }
  return it->second.get();
}

void ComputeServer::HandleStart(const std::shared_ptr<Hub>& hub, uint64_t id,
                                const proto::StartSession& s) {
  if (!s.kernel().empty() && s.kernel() != opt_.kernel) {
    ReplyError(*hub, id, proto::Error::UNAVAILABLE,
               "this compute server runs the '" + opt_.kernel + "' kernel, not '" + s.kernel() +
                   "'");
    return;
  }
  if (sessions_.size() >= opt_.max_sessions) {
    ReplyError(*hub, id, proto::Error::UNAVAILABLE,
               "the compute server is full: " + std::to_string(opt_.max_sessions) +
                   " sessions are running (--max-sessions)");
    return;
  }
  auto session = std::make_unique<Session>();
  session->id = core::RandomHex(16);
  session->owner = hub;
  session->start_id = id;
  session->limits = ResolveLimits(s.limits(), opt_.default_limits, opt_.max_limits);
  session->walltime_end =
      Clock::now() + std::chrono::milliseconds(static_cast<int64_t>(session->limits.walltime_s() * 1000));
  session->idle_since = Clock::now();
  session->start_deadline = Clock::now() + kStartTimeout;
  session->deadline = std::make_unique<asio::steady_timer>(io_);
  const std::string sid = session->id;
  hub->sessions.insert(sid);
  Session& ref = *session;
  sessions_[sid] = std::move(session);
  ArmDeadline(ref);
  waiting_starts_.push_back(sid);
  // With a worker at hand, its replacement is forked a little later (see
  // DeferRefill); without one, a worker is forked for this start right away.
  if (!ready_workers_.empty()) quiet_until_ = Clock::now() + kRefillQuiet;
  AssignWorkers();
  FillPool();
}

void ComputeServer::AssignWorkers() {
  while (!waiting_starts_.empty() && !ready_workers_.empty()) {
    const std::string sid = waiting_starts_.front();
    waiting_starts_.pop_front();
    auto it = sessions_.find(sid);
    if (it == sessions_.end()) continue;
    Session& s = *it->second;
    const uint64_t wid = ready_workers_.front();
    ready_workers_.pop_front();
    spdlog::debug("session {} gets worker {} ({} more ready)", sid, wid, ready_workers_.size());
    Worker& w = *workers_[wid];
    w.session = sid;
    s.wid = wid;
    if (auto r = SetSessionCgroupLimits(w, s.limits); !r) {
      spdlog::error("session {}: {}", sid, r.error());
      EndSession(sid, proto::Done::DIED, r.error(), false);
      continue;
    }
    proto::WorkerStart start;
    start.set_session(sid);
    *start.mutable_limits() = s.limits;
    w.conn->Send(core::EncodeFrame(start));
    for (auto& f : s.queued) w.conn->Send(std::move(f));
    s.queued.clear();
    ConfirmStart(s);
  }
}

// The worker's cgroup was made with the pool's limits; a session that asked
// for others gets them before it can run anything.
std::expected<void, std::string> ComputeServer::SetSessionCgroupLimits(const Worker& w,
                                                                       const proto::Limits& l) {
  const SessionCgroups* cg = zygote_.cgroups();
  if (cg == nullptr ||
      (l.memory_mb() == pool_limits_.memory_mb() && l.processes() == pool_limits_.processes())) {
    return {};
  }
  if (auto r = cg->SetLimits(w.home, l); !r) {
    return std::unexpected("cannot set the session's cgroup limits: " + r.error());
  }
  return {};
}

// A ready worker applies the session's limits before it reads anything
// after WorkerStart, so no code of the session can run without them: the
// start is answered now, without waiting for the worker (on a busy machine
// every process hop costs a scheduler wake-up). A worker that cannot apply
// them says so and ends; the session then ends with the reason.
void ComputeServer::ConfirmStart(Session& s) {
  s.started = true;
  spdlog::debug("session {} started", s.id);
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
  if (spawn_failures_ < 3) return;
  std::vector<std::string> ids(waiting_starts_.begin(), waiting_starts_.end());
  for (auto& id : ids) {
    EndSession(id, proto::Done::REJECTED, "no worker could be started: " + last_worker_error_,
               false);
  }
}

void ComputeServer::DoneSpawning(Worker& w) {
  if (!w.spawning) return;
  w.spawning = false;
  --spawning_;
}

// A pooled worker is forked and warmed up at low priority; once ready it
// sleeps, so it can get its normal priority back now, off the start path.
void ComputeServer::Promote(Worker& w) {
  if (w.promoted || !w.ready || w.pid <= 0) return;
  w.promoted = true;
  proto::ZygoteRequest zr;
  zr.set_id(next_zreq_++);
  zr.set_promote_pid(w.pid);
  zygote_.Send(zr);
}

// True when refilling the pool should wait for the quiet period after a
// start (and a timer will do it then). Never while a start waits for a
// worker or none is ready.
bool ComputeServer::DeferRefill() {
  if (!waiting_starts_.empty() || ready_workers_.empty() || Clock::now() >= quiet_until_) {
    return false;
  }
  if (!refill_armed_) {
    refill_armed_ = true;
    refill_timer_.expires_at(quiet_until_);
    refill_timer_.async_wait([this](boost::system::error_code ec) {
      refill_armed_ = false;
      if (!ec) FillPool();
    });
  }
  return true;
}

void ComputeServer::FillPool() {
  if (stopping_ || !zygote_ready_ || backoff_armed_) return;
  if (DeferRefill()) return;
  // Workers in the pool or on their way, beyond those already owed to waiting starts.
  while (ready_workers_.size() + spawning_ < opt_.pool_size + waiting_starts_.size()) {
    unsigned live_sessions = static_cast<unsigned>(sessions_.size());
    if (workers_.size() >= opt_.max_sessions + opt_.pool_size ||
        ready_workers_.size() + spawning_ + live_sessions >= opt_.max_sessions + opt_.pool_size) {
      break;
    }
    if (uids_ && uids_->free_count() == 0) {
      spdlog::warn("no free session uid left in {}..{}", opt_.uid_base,
                   opt_.uid_base + opt_.uid_count - 1);
      break;
    }
    SpawnWorker();
  }
}

void ComputeServer::SpawnWorker() {
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
    spdlog::error("socketpair: {}", strerror(errno));
    return;
  }
  auto w = std::make_unique<Worker>();
  w->wid = next_wid_++;
  if (uids_) w->uid = *uids_->Acquire();
  w->home = opt_.state_dir + "/homes/w" + std::to_string(w->wid);
  // The worker moves into its cgroup before it runs anything; if this
  // fails, so does the worker's start, with the reason.
  if (const SessionCgroups* cg = zygote_.cgroups()) {
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
  proto::ZygoteRequest zr;
  zr.set_id(next_zreq_++);
  auto* sp = zr.mutable_spawn();
  sp->set_uid(w->uid);
  sp->set_home(w->home);
  sp->set_isolate_network(opt_.isolate_network);
  wid_by_spawn_req_[zr.id()] = wid;
  workers_[wid] = std::move(w);
  ++spawning_;
  zygote_.Send(zr, sv[1]);
}

void ComputeServer::OnZygoteEvent(const proto::ZygoteEvent& ev) {
  switch (ev.body_case()) {
    case proto::ZygoteEvent::kReady:
      spdlog::info("zygote ready ({})", ev.ready());
      zygote_ready_ = true;
      ready_.cancel();
      return;
    case proto::ZygoteEvent::kWarning:
      spdlog::warn("zygote: {}", ev.warning());
      return;
    case proto::ZygoteEvent::kFailed: {
      auto it = wid_by_spawn_req_.find(ev.id());
      if (ev.id() == 0 || it == wid_by_spawn_req_.end()) {
        zygote_error_ = ev.failed();
        spdlog::error("zygote: {}", ev.failed());
        return;
      }
      spdlog::error("could not start a worker: {}", ev.failed());
      uint64_t wid = it->second;
      wid_by_spawn_req_.erase(it);
      if (auto w = workers_.find(wid); w != workers_.end()) {
        DoneSpawning(*w->second);
        w->second->conn->Close();
      }
      return;
    }
    case proto::ZygoteEvent::kSpawnedPid: {
      auto it = wid_by_spawn_req_.find(ev.id());
      if (it == wid_by_spawn_req_.end()) return;
      uint64_t wid = it->second;
      wid_by_spawn_req_.erase(it);
      auto w = workers_.find(wid);
      if (w == workers_.end()) return;
      w->second->pid = ev.spawned_pid();
      wid_by_pid_[ev.spawned_pid()] = wid;
      if (w->second->reap_wanted) {
        ReapWorker(*w->second);
      } else {
        Promote(*w->second);
      }
      return;
    }
    case proto::ZygoteEvent::kExited: {
      auto it = wid_by_pid_.find(ev.exited().pid());
      if (it == wid_by_pid_.end()) return;
      uint64_t wid = it->second;
      wid_by_pid_.erase(it);
      auto w = workers_.find(wid);
      if (w == workers_.end()) return;
      w->second->exited = true;
      w->second->exit_text = ExitText(ev.exited());
      if (ev.exited().signal() == SIGKILL) OutOfMemoryText(*w->second);
      if (w->second->eof) FinishWorker(wid);
      return;
    }
    default:
      return;
  }
}

// A worker the kernel killed for lack of memory in its cgroup gets that said.
void ComputeServer::OutOfMemoryText(Worker& w) {
  const SessionCgroups* cg = zygote_.cgroups();
  if (cg == nullptr || cg->OomKills(w.home) == 0) return;
  auto s = sessions_.find(w.session);
  const uint64_t mb = s != sessions_.end() ? s->second->limits.memory_mb() : pool_limits_.memory_mb();
  w.exit_text = "the session ran out of memory (its limit is " + std::to_string(mb) + " MB)";
}

void ComputeServer::OnWorkerFrame(uint64_t wid, std::string_view body) {
  auto wit = workers_.find(wid);
  if (wit == workers_.end()) return;
  Worker& w = *wit->second;
  proto::Message m;
  if (!m.ParseFromArray(body.data(), static_cast<int>(body.size()))) {
    spdlog::error("worker {}: malformed frame; ending it", wid);
    w.conn->Close();
    return;
  }
  if (!w.ready) {
    if (m.has_ack()) {
      w.ready = true;
      spawn_failures_ = 0;
      DoneSpawning(w);
      if (w.reap_wanted) return;
      Promote(w);
      ready_workers_.push_back(wid);
      spdlog::debug("worker {} ready ({} ready)", wid, ready_workers_.size());
      AssignWorkers();
      return;
    }
    last_worker_error_ = m.has_error() ? m.error().text() : "unexpected first message";
    spdlog::error("worker {} failed to start: {}", wid, last_worker_error_);
    DoneSpawning(w);
    w.conn->Close();
    // Back off (up to 30 s) rather than spin when workers cannot start at all.
    spawn_failures_ = std::min(spawn_failures_ + 1, 6u);
    if (!backoff_armed_) {
      backoff_armed_ = true;
      respawn_backoff_.expires_after(std::chrono::milliseconds(250) * (1 << (spawn_failures_ - 1)));
      respawn_backoff_.async_wait([this](boost::system::error_code ec) {
        if (ec) return;
        backoff_armed_ = false;
        FillPool();
      });
    }
    FailWaitingStarts();
    return;
  }
  auto sit = sessions_.find(w.session);
  if (sit == sessions_.end()) return;  // session ended; worker is being reaped
  Session& s = *sit->second;
  auto hub = s.owner.lock();
  if (m.has_error()) {  // the worker could not set up the session
    spdlog::error("session {}: the worker could not set it up: {}", s.id, m.error().text());
    EndSession(s.id, proto::Done::DIED, "the session could not start: " + m.error().text(), true);
    return;
  }
  if (m.has_done()) {
    if (!s.pending.empty()) s.pending.pop_front();
    s.idle_since = Clock::now();
    ArmDeadline(s);
  }
  // Forwarded unchanged: the worker already filled in the id and the session.
  if (hub) hub->conn->Send(core::FrameBody(body));
}

void ComputeServer::OnWorkerEnd(uint64_t wid) {
  auto it = workers_.find(wid);
  if (it == workers_.end()) return;
  Worker& w = *it->second;
  w.eof = true;
  if (w.exited || w.reap_sent) {
    FinishWorker(wid);
    return;
  }
  // Give the zygote a moment to say how the process ended, for a better message.
  w.grace = std::make_unique<asio::steady_timer>(io_, std::chrono::milliseconds(300));
  w.grace->async_wait([this, wid](boost::system::error_code ec) {
    if (!ec) FinishWorker(wid);
  });
}

// The worker's socket is closed: fail what it owed, end its session, reap it.
void ComputeServer::FinishWorker(uint64_t wid) {
  auto it = workers_.find(wid);
  if (it == workers_.end()) return;
  Worker& w = *it->second;
  if (w.grace) w.grace->cancel();
  std::erase(ready_workers_, wid);
  DoneSpawning(w);
  if (!w.session.empty() && sessions_.count(w.session)) {
    std::string why = w.exit_text.empty() ? "the session's process ended" : w.exit_text;
    spdlog::warn("session {}: {}", w.session, why);
    EndSession(w.session, proto::Done::DIED, why, true);
  }
  ReapWorker(w);
  if (w.pid > 0) wid_by_pid_.erase(w.pid);
  // Never forked (or not yet): its cgroup holds nothing to reap.
  if (w.pid == 0 && zygote_.cgroups()) zygote_.cgroups()->RemoveEmptyLeaf(w.home);
  workers_.erase(it);
  FillPool();
}

void ComputeServer::ReapWorker(Worker& w) {
  if (w.reap_sent) return;
  w.reap_wanted = true;
  w.conn->Close();
  if (w.pid == 0) return;  // reaped when the zygote reports its pid
  w.reap_sent = true;
  spdlog::debug("reaping worker {} (pid {}, uid {})", w.wid, w.pid, w.uid);
  // A short-lived child of this (small, single-threaded) process kills the
  // session's processes and removes its files, off the event loop. Forking
  // the zygote instead would copy Sage's page tables for nothing.
  const pid_t pid = w.pid;
  const uid_t uid = w.uid;
  const std::string home = w.home;
  const std::vector<std::string> cgroups =
      zygote_.cgroups() ? CgroupLeafDirs(zygote_.cgroups()->parents(), home)
                        : std::vector<std::string>{};
  pid_t reaper = core::Fork();
  if (reaper == 0) {
    ReapSession(pid, uid, home, cgroups);
    _exit(0);
  }
  if (reaper < 0) {
    spdlog::error("fork for the reaper of worker {}: {}", w.wid, strerror(errno));
    return;  // its uid stays out of the pool rather than be shared
  }
  reapers_[reaper] = uid;
}

void ComputeServer::OnSigchld() {
  int status;
  pid_t pid;
  while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
    auto it = reapers_.find(pid);
    if (it != reapers_.end()) {
      if (uids_ && it->second != 0) uids_->Release(it->second);
      spdlog::debug("reaped uid {}", it->second);
      reapers_.erase(it);
      FillPool();
    } else if (pid == zygote_.pid()) {
      spdlog::debug("zygote exited with status {}", status);
    }
  }
  sigchld_.async_wait([this](boost::system::error_code ec, int) {
    if (!ec) OnSigchld();
  });
}

void ComputeServer::EndSession(const std::string& id, proto::Done::Status status,
                               const std::string& reason, bool notify_owner) {
  auto it = sessions_.find(id);
  if (it == sessions_.end()) return;
  std::unique_ptr<Session> s = std::move(it->second);
  sessions_.erase(it);
  std::erase(waiting_starts_, id);
  if (s->deadline) s->deadline->cancel();
  auto hub = s->owner.lock();
  if (hub) {
    hub->sessions.erase(id);
    if (!s->started) {
      ReplyError(*hub, s->start_id, proto::Error::UNAVAILABLE, "session could not start: " + reason);
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

void ComputeServer::ArmDeadline(Session& s) {
  Clock::time_point when = s.walltime_end;
  if (!s.started && s.start_deadline < when) when = s.start_deadline;
  bool idle = s.pending.empty();
  if (idle) {
    auto idle_end =
        s.idle_since + std::chrono::milliseconds(static_cast<int64_t>(s.limits.idle_s() * 1000));
    if (idle_end < when) when = idle_end;
  }
  s.deadline->expires_at(when);
  const std::string id = s.id;
  s.deadline->async_wait([this, id, wall = s.walltime_end](boost::system::error_code ec) {
    if (ec) return;
    auto it = sessions_.find(id);
    if (it == sessions_.end()) return;
    const bool wall_hit = Clock::now() >= wall;
    const Session& s = *it->second;
    const bool start_hit = !s.started && Clock::now() >= s.start_deadline;
    std::string why =
        start_hit ? "no worker became ready within " +
                         std::to_string(kStartTimeout.count()) + " s" +
                         (last_worker_error_.empty() ? "" : " (" + last_worker_error_ + ")")
        : wall_hit ? "the session reached its walltime limit of " +
                       std::to_string(static_cast<long>(s.limits.walltime_s())) + " s"
                 : "the session was idle for " +
                       std::to_string(static_cast<long>(s.limits.idle_s())) + " s";
    spdlog::info("session {}: {}", id, why);
    EndSession(id, proto::Done::DIED, why, true);
  });
}

void ComputeServer::OnHubEnd(const std::shared_ptr<Hub>& hub) {
  if (hub->authenticated) spdlog::info("hub {} disconnected", hub->conn->peer());
  std::vector<std::string> ids(hub->sessions.begin(), hub->sessions.end());
  for (auto& id : ids) EndSession(id, proto::Done::DIED, "the hub disconnected", false);
  hub->conn->Close();
}

}  // namespace salvus::compute
