#include "compute/server.h"

#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include <cstdio>
#include <fstream>
#include <thread>

#include "compute/cgroup.h"
#include "compute/limits.h"
#include "compute/server_records.h"
#include "compute/worker_record.h"
#include "core/descriptors.h"
#include "core/spawn.h"
#include "core/tls.h"

namespace salvus::compute {

namespace asio = boost::asio;
using asio::ip::tcp;

ComputeServer::ComputeServer(asio::io_context& io, ComputeOptions options, WorkerLauncher& launcher,
                             core::Clock& clock)
    : io_(io),
      opt_(std::move(options)),
      launcher_(launcher),
      clock_(clock),
      acceptor_(io),
      ready_(io),
      respawn_backoff_(io),
      pool_idle_timer_(io),
      refill_timer_(io) {
  opt_.pool_max = std::max(opt_.pool_max, opt_.pool_size);
  pool_target_ = opt_.pool_size;
  if (opt_.spawn_in_flight == 0) {
    opt_.spawn_in_flight = std::max(2u, std::thread::hardware_concurrency());
  }
  ready_.expires_at(asio::steady_timer::time_point::max());
  if (opt_.root) uids_.emplace(opt_.uid_base, opt_.uid_count);
  pool_limits_ = ResolveLimits({}, opt_.default_limits, opt_.max_limits);
  if (!opt_.tls_cert.empty()) tls_.emplace(core::MakeServerTlsContext(opt_.tls_cert, opt_.tls_key));
}

ComputeServer::~ComputeServer() = default;

void ComputeServer::ExpireAt(asio::steady_timer& timer, TimePoint when) {
  timer.expires_after(std::max(when - clock_.Now(), TimePoint::duration::zero()));
}

void ComputeServer::Stop() {
  stopping_ = true;
  boost::system::error_code ec;
  acceptor_.close(ec);
  ready_.cancel();
  refill_timer_.cancel();
  pool_idle_timer_.cancel();
  std::vector<std::string> ids;
  for (auto& [id, s] : sessions_) ids.push_back(id);
  for (auto& id : ids)
    EndSession(id, proto::Done::DIED, "the compute server is shutting down", true);
  // The pool's workers too: their homes and uids are cleaned like any
  // session's (AfterStop waits for it).
  for (auto& [wid, w] : workers_) ReapWorker(*w);
  // Hubs' connections close (their sessions have ended).
  for (const auto& hub : std::exchange(hubs_, {})) hub->conn->Close();
}

void ComputeServer::AfterStop(const std::function<void()>& done) {
  auto t = std::make_shared<asio::steady_timer>(io_);
  auto deadline = clock_.Now() + opt_.stop_reap_wait;
  auto check = std::make_shared<std::function<void()>>();
  *check = [this, t, deadline, done, check] {
    if (reaps_running_ == 0 || clock_.Now() > deadline) {
      *check = nullptr;  // break the cycle
      done();
      return;
    }
    t->expires_after(opt_.stop_reap_poll);
    t->async_wait([check](boost::system::error_code) {
      if (*check) (*check)();
    });
  };
  (*check)();
}

asio::awaitable<void> ComputeServer::Run() {
  launcher_.Start(this);
  boost::system::error_code ec;
  co_await ready_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  if (!launcher_ready_) {
    spdlog::critical("compute server cannot start: {}", launcher_error_);
    co_return;
  }
  tcp::endpoint ep(asio::ip::make_address(opt_.listen.host), opt_.listen.port);
  acceptor_.open(ep.protocol());
  core::SetCloseOnExec(acceptor_.native_handle());  // asio does not
  acceptor_.set_option(asio::socket_base::reuse_address(true));
  acceptor_.bind(ep);
  acceptor_.listen();
  port_ = acceptor_.local_endpoint().port();
  LogCgroups();
  spdlog::info(
      "compute server ({}) listening on {}:{}{}; max {} sessions, pool {} (up to {} under a burst)",
      opt_.kernel, opt_.listen.host, port_, tls_ ? " (TLS)" : "", opt_.max_sessions, opt_.pool_size,
      opt_.pool_max);
  if (!opt_.port_file.empty()) {
    const std::string tmp = opt_.port_file + ".tmp";
    std::ofstream(tmp) << port_ << "\n";
    std::rename(tmp.c_str(), opt_.port_file.c_str());
  }
  FillPool();
  co_await AcceptLoop();
}

void ComputeServer::LogCgroups() const {
  if (const SessionCgroups* cg = launcher_.cgroups()) {
    spdlog::info("each session gets a cgroup v{} of its own (memory and process limits) in {}",
                 static_cast<int>(cg->version()), fmt::join(cg->parents(), " and "));
  } else {
    spdlog::warn(
        "sessions get no cgroups on this machine ({}); their memory and processes are "
        "limited by rlimits alone",
        launcher_.cgroup_problem());
  }
}

void ComputeServer::OnLauncherReady(const std::string& info) {
  spdlog::info("zygote ready ({})", info);
  launcher_ready_ = true;
  ready_.cancel();
}

void ComputeServer::OnLauncherWarning(const std::string& text) { spdlog::warn("zygote: {}", text); }

void ComputeServer::OnLauncherFailed(const std::string& text) {
  launcher_error_ = text;
  spdlog::error("zygote: {}", text);
}

void ComputeServer::OnLauncherLost() {
  launcher_error_ = launcher_error_.empty() ? "the zygote process ended" : launcher_error_;
  spdlog::critical("lost the zygote: {}", launcher_error_);
  launcher_ready_ = false;
  Stop();
  ready_.cancel();
}

}  // namespace salvus::compute
