#include "cli/up_monitors.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <filesystem>
#include <fstream>
#include <vector>

#include "core/clock.h"
#include "core/metrics.h"
#include "monitor/monitor.h"
#include "registry/cache.h"
#include "store/await_store.h"
#include "store/store.h"

namespace salvus::cli {

namespace asio = boost::asio;
namespace fs = std::filesystem;

std::string ComputePidFile(const std::string& data) { return data + "/compute.pid"; }
std::string ComputeStatsFile(const std::string& data) { return data + "/compute.json"; }

namespace {

std::string HubPidFile(const std::string& data) { return data + "/up.pid"; }
std::string HubStatsFile(const std::string& data) { return data + "/hub.json"; }

// Replaces `path` at once (a reader never sees half a file).
void WriteAtomically(const std::string& path, const std::string& text) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << text << "\n";
    if (!out) return;
  }
  std::error_code ec;
  fs::rename(tmp, path, ec);
}

// What the hub's metrics say of cells: how many were run (executes sent to
// compute servers) and their summed time to done.
std::string HubStats() {
  auto& r = core::metrics::Default();
  const std::string label = "kind=\"execute\"";
  auto& cells = r.counter("salvus_hub_requests_total",
                          "Requests sent on to compute servers, by kind.", label);
  auto& time = r.histogram("salvus_hub_request_seconds",
                           "From a request to its answer (an execute: its done).",
                           core::metrics::LatencyBuckets(), label);
  return fmt::format(R"({{"cells":{},"cellsDone":{},"cellSeconds":{:.6f}}})", cells.value(),
                     time.count(), time.sum());
}

}  // namespace

struct UpMonitors::State {
  asio::io_context io{1};
  std::unique_ptr<store::Store> store;
  std::unique_ptr<registry::Cache> cache;
  std::vector<monitor::Monitor*> running;  // on io
  bool stopping = false;                   // on io
  int loops = 0;                           // on io: loops not yet ended
};

namespace {

// Watches one service, again whenever its monitor ends (a restarted
// compute server), until Stop.
asio::awaitable<void> Watch(UpMonitors::State* st, monitor::MonitorOptions o) {
  asio::steady_timer pause(st->io);
  while (!st->stopping) {
    monitor::Monitor m(st->io.get_executor(), *st->store, *st->cache, o);
    st->running.push_back(&m);
    const int rc = co_await m.Run();
    std::erase(st->running, &m);
    if (st->stopping) {
      // up stops its hub and compute server right after: say so now.
      if (m.service_id() > 0) {
        const int64_t id = m.service_id();
        auto r = co_await store::AwaitStore<void>(
            [&](auto cb) { st->store->MarkServiceStopped(id, core::NowMs(), std::move(cb)); });
        if (r) {
          spdlog::info("up's {} (service {}) marked stopped", o.service.type, id);
        } else {
          spdlog::warn("up's {} (service {}): cannot mark it stopped: {}", o.service.type, id,
                       r.error());
        }
      }
      break;
    }
    spdlog::info("the monitor of up's {} ended ({}); watching it again", o.service.type, rc);
    pause.expires_after(std::chrono::seconds(1));
    co_await pause.async_wait(asio::use_awaitable);
  }
  if (--st->loops == 0) st->io.stop();  // the store may keep timers
}

// Keeps the hub's stats file current for its monitor.
asio::awaitable<void> WriteHubStats(UpMonitors::State* st, std::string path,
                                    std::chrono::milliseconds every) {
  asio::steady_timer t(st->io);
  while (!st->stopping) {
    WriteAtomically(path, HubStats());
    t.expires_after(every);
    boost::system::error_code ec;
    co_await t.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }
}

asio::awaitable<void> Main(UpMonitors::State* st, monitor::MonitorOptions hub,
                           monitor::MonitorOptions compute, std::chrono::milliseconds interval) {
  auto v = co_await store::AwaitStore<int>([&](auto cb) { st->store->Migrate(std::move(cb)); });
  if (!v) {
    spdlog::error("up's monitors: the database: {}", v.error());
    st->io.stop();
    co_return;
  }
  st->loops = 2;
  asio::co_spawn(
      st->io,
      WriteHubStats(st, hub.extra_file, std::max(interval / 2, std::chrono::milliseconds(100))),
      asio::detached);
  asio::co_spawn(st->io, Watch(st, std::move(hub)), asio::detached);
  asio::co_spawn(st->io, Watch(st, std::move(compute)), asio::detached);
}

}  // namespace

UpMonitors::UpMonitors(UpMonitorOptions opt) : opt_(std::move(opt)) {}

UpMonitors::~UpMonitors() { Stop(); }

std::expected<void, std::string> UpMonitors::Start() {
  state_ = std::make_unique<State>();
  auto cache = registry::OpenCache(opt_.memcached);
  if (!cache) return std::unexpected(cache.error());
  state_->cache = std::move(*cache);
  auto store = store::OpenStore(opt_.db, state_->io.get_executor());
  if (!store) return std::unexpected(store.error());
  state_->store = std::move(*store);
  std::ofstream(HubPidFile(opt_.data)) << getpid() << "\n";
  WriteAtomically(HubStatsFile(opt_.data), HubStats());

  monitor::MonitorOptions hub;
  hub.pidfile = HubPidFile(opt_.data);
  hub.extra_file = HubStatsFile(opt_.data);
  hub.service.type = "hub";
  hub.service.name = "up";
  hub.service.site = "local";
  hub.service.address = opt_.hub_address;
  hub.service.port = opt_.hub_port;
  hub.interval = opt_.interval;
  monitor::MonitorOptions compute = hub;
  compute.pidfile = ComputePidFile(opt_.data);
  compute.extra_file = ComputeStatsFile(opt_.data);
  compute.logfile = opt_.data + "/compute.log";
  compute.service.type = "compute";
  compute.service.address = opt_.compute_address;
  compute.service.port = opt_.compute_port;

  asio::co_spawn(state_->io, Main(state_.get(), hub, compute, opt_.interval), asio::detached);
  thread_ = std::thread([st = state_.get()] {
    auto guard = asio::make_work_guard(st->io);
    st->io.run();
  });
  return {};
}

void UpMonitors::Stop() {
  if (!thread_.joinable()) return;
  State* st = state_.get();
  asio::post(st->io, [st] {
    st->stopping = true;
    for (auto* m : st->running) m->Stop();
    if (st->loops == 0) st->io.stop();
  });
  thread_.join();
  // Before the io_context: the store's pending callbacks are dropped.
  st->store.reset();
}

}  // namespace salvus::cli
