#include "hub/discovery.h"

#include <google/protobuf/util/json_util.h>
#include <spdlog/spdlog.h>

#include "core/spawn.h"
#include "registry/cache.h"
#include "registry/registry.h"

namespace salvus::hub {

namespace asio = boost::asio;

std::vector<ComputeReport> ComputeReports(const std::vector<store::ServiceStatus>& running,
                                          int64_t now_ms, int64_t stale_after_ms) {
  std::vector<ComputeReport> out;
  for (const auto& ss : running) {
    const store::Service& s = ss.service;
    if (s.type != "compute" || !s.running || s.port <= 0 || s.port > 65535) continue;
    ComputeReport r;
    r.host = s.address;
    r.port = static_cast<uint16_t>(s.port);
    r.service_id = s.id;
    if (ss.latest) {
      r.has_status = true;
      r.time_ms = ss.latest->time_ms;
      r.fresh = now_ms - r.time_ms <= stale_after_ms;
      r.load1 = ss.latest->load1;
      if (!ss.latest->extra.empty()) {
        google::protobuf::util::JsonParseOptions o;
        o.ignore_unknown_fields = true;
        r.has_stats =
            google::protobuf::util::JsonStringToMessage(ss.latest->extra, &r.stats, o).ok();
      }
    }
    out.push_back(std::move(r));
  }
  return out;
}

ComputeDiscovery::ComputeDiscovery(Options options, Deliver deliver)
    : opt_(std::move(options)), deliver_(std::move(deliver)) {}

ComputeDiscovery::~ComputeDiscovery() { Stop(); }

std::expected<void, std::string> ComputeDiscovery::Start() {
  store::Options so;
  so.prune_interval_s = 0;  // a hub shard prunes
  auto st = store::OpenStore(opt_.db, io_.get_executor(), so);
  if (!st) return std::unexpected("cannot open the database: " + st.error());
  store_ = std::move(*st);
  auto cache = registry::OpenCache(opt_.memcached);
  if (!cache) return std::unexpected(cache.error());
  cache_ = std::move(*cache);
  core::Spawn(io_, Loop(), "hub compute discovery");
  thread_ = std::thread([this] { io_.run(); });
  return {};
}

void ComputeDiscovery::Stop() {
  io_.stop();
  if (thread_.joinable()) thread_.join();
}

asio::awaitable<void> ComputeDiscovery::Loop() {
  asio::steady_timer tick(io_);
  bool db_failing = false;
  for (;;) {
    auto services = registry::CachedRunningServices(*cache_);
    if (!services) {
      // Every type, as `salvus status` reads the same cached list.
      auto r = co_await registry::StoredRunningServices(*store_, *cache_);
      if (r) {
        services = std::move(*r);
        if (db_failing) spdlog::info("compute discovery: the database answers again");
        db_failing = false;
      } else if (!db_failing) {
        db_failing = true;
        spdlog::warn("compute discovery: cannot read the running services: {}", r.error());
      }
    }
    if (services) {
      const int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                 std::chrono::system_clock::now().time_since_epoch())
                                 .count();
      deliver_(ComputeReports(*services, now_ms, opt_.stale_after.count()));
    }
    tick.expires_after(opt_.interval);
    boost::system::error_code ec;
    co_await tick.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    if (ec) co_return;
  }
}

}  // namespace salvus::hub
