#include "hub/server.h"

#include <fmt/ranges.h>
#include <sodium.h>
#include <spdlog/spdlog.h>
#include <sys/resource.h>

#include <stdexcept>
#include <thread>

#include "core/tls.h"
#include "hub/address_quota.h"
#include "hub/discovery.h"
#include "hub/origin.h"
#include "hub/session_directory.h"
#include "hub/shard.h"
#include "store/store.h"

namespace salvus::hub {

namespace asio = boost::asio;

Hub::Hub(HubOptions options) : opt_(std::move(options)) {}

Hub::~Hub() { Stop(); }

uint16_t Hub::Start() {
  // Every connection is a descriptor: allow as many as the hard limit does.
  if (rlimit nofile; getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur < nofile.rlim_max) {
    nofile.rlim_cur = nofile.rlim_max;
    setrlimit(RLIMIT_NOFILE, &nofile);
  }
  // Past that limit accept() would fail: refuse with 503 a little before it
  // (reserved_descriptors left for the database, compute links, files).
  if (rlimit nofile; getrlimit(RLIMIT_NOFILE, &nofile) == 0 &&
                     nofile.rlim_cur < opt_.max_connections + opt_.reserved_descriptors) {
    const size_t fit = nofile.rlim_cur > 2 * opt_.reserved_descriptors
                           ? nofile.rlim_cur - opt_.reserved_descriptors
                           : nofile.rlim_cur / 2;
    spdlog::log(fit < 1000 ? spdlog::level::warn : spdlog::level::info,
                "holding at most {} connections (open files are limited to {})", fit,
                nofile.rlim_cur);
    opt_.max_connections = fit;
  }
  auto proxies = ProxyFrom::Parse(opt_.proxy_from);
  if (!proxies) throw std::runtime_error("--proxy-from: " + proxies.error());
  proxies_ = std::move(*proxies);
  if (!proxies_.empty()) {
    spdlog::info(
        "connections from {} must open with a PROXY header, and count as the client it "
        "names (--proxy-from)",
        fmt::join(opt_.proxy_from, ","));
  }
  if (!opt_.public_origin.empty() && !ParsePublicOrigin(opt_.public_origin)) {
    throw std::runtime_error("--public-origin: not scheme://host[:port]: " + opt_.public_origin);
  }
  if (!opt_.tls_cert.empty()) tls_.emplace(core::MakeServerTlsContext(opt_.tls_cert, opt_.tls_key));
  blobs_ = std::make_unique<BlobStore>(opt_.blob_cache_bytes);
  directory_ = std::make_unique<SessionDirectory>();
  sessions_per_address_ = std::make_unique<AddressQuota>(opt_.max_sessions_per_address);
  connections_per_address_ = std::make_unique<AddressQuota>(opt_.max_connections_per_address);
  refused_per_address_ = std::make_unique<AddressQuota>(opt_.refused_slots_per_address);
  if (!opt_.db.empty()) {
    // Migrate once, before any shard opens its own connection.
    asio::io_context io;
    store::Options so;
    so.prune_interval_s = 0;
    auto st = store::OpenStore(opt_.db, io.get_executor(), so);
    if (!st) throw std::runtime_error("cannot open the database " + opt_.db + ": " + st.error());
    store::Result<int> version = std::unexpected("no answer");
    (*st)->Migrate([&](store::Result<int> r) { version = std::move(r); });
    io.run();
    if (!version) throw std::runtime_error("cannot migrate the database: " + version.error());
    spdlog::info("database {} ({}), schema version {}", opt_.db, (*st)->backend(), *version);
  }
  if (!opt_.vault.host.empty()) StartAccounts();
  unsigned n = opt_.threads ? opt_.threads : std::max(1u, std::thread::hardware_concurrency());
  uint16_t port = opt_.listen.port;
  for (unsigned i = 0; i < n; ++i) {
    ShardContext context;
    context.options = &opt_;
    context.tls = tls_ ? &*tls_ : nullptr;
    context.blobs = blobs_.get();
    context.directory = directory_.get();
    context.connections = &connections_;
    context.connections_peak = &connections_peak_;
    context.sessions_per_address = sessions_per_address_.get();
    context.connections_per_address = connections_per_address_.get();
    context.refused_per_address = refused_per_address_.get();
    context.shards = &shards_;
    context.proxies = proxies_.empty() ? nullptr : &proxies_;
    context.accounts = accounts_.get();
    auto shard = std::make_unique<Shard>(context, i, n);
    port = shard->Bind(port);
    shards_.push_back(std::move(shard));
  }
  for (auto& s : shards_) s->Run();
  core::metrics::Default().gauge_fn(
      "salvus_hub_connections", "Open TCP connections (HTTP and WebSocket).",
      [c = &connections_] { return static_cast<double>(c->load(std::memory_order_relaxed)); });
  if (!opt_.metrics_listen.empty()) {
    metrics_io_ = std::make_unique<asio::io_context>(1);
    metrics_ =
        std::make_unique<core::metrics::MetricsServer>(*metrics_io_, core::metrics::Default());
    const uint16_t mport = metrics_->Start(opt_.metrics_listen);  // throws with the reason
    spdlog::info("metrics on http://{}/metrics (port {})", opt_.metrics_listen, mport);
    metrics_thread_ = std::thread([io = metrics_io_.get()] {
      auto work = asio::make_work_guard(*io);
      io->run();
    });
  }
  if (asio::ip::make_address(opt_.listen.host).is_unspecified()) {
    spdlog::info(
        "listening on every interface: a page may open /ws if it came from the address its "
        "connection reached (an IP address and this port) or from an --allow-origin; give a "
        "page served under a host name --allow-origin {}://NAME:{}",
        tls_ ? "https" : "http", port);
  }
  if (!opt_.db.empty()) {
    ComputeDiscovery::Options d{opt_.db, opt_.memcached, opt_.discover_interval, opt_.stale_after};
    discovery_ = std::make_unique<ComputeDiscovery>(d, [this](std::vector<ComputeReport> r) {
      for (auto& s : shards_) s->PostComputeReports(r);
    });
    if (auto ok = discovery_->Start(); !ok) {
      Stop();
      throw std::runtime_error(ok.error());
    }
  }
  return port;
}

bool Hub::WaitForCompute(std::chrono::milliseconds timeout) {
  const auto end = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    bool all = true;
    for (auto& s : shards_) all = all && s->AllLinksUp();
    if (all) return true;
    if (std::chrono::steady_clock::now() >= end) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

void Hub::Stop() {
  if (metrics_thread_.joinable()) {
    asio::post(*metrics_io_, [this] {
      metrics_->Stop();
      metrics_io_->stop();
    });
    metrics_thread_.join();
  }
  core::metrics::Default().remove_gauge_fn("salvus_hub_connections");
  if (discovery_) discovery_->Stop();  // it posts to the shards
  discovery_.reset();
  for (auto& s : shards_) s->Stop();
  // Hashes in flight post to the shards' loops: stopped, not yet destroyed.
  if (accounts_) accounts_->pool.Stop();
  shards_.clear();
  accounts_.reset();
}

void Hub::StartAccounts() {
  if (opt_.db.empty()) throw std::runtime_error("--vault needs --db (accounts live in it)");
  if (opt_.vault_tls_ca.empty()) {
    boost::system::error_code ec;
    auto a = asio::ip::make_address(opt_.vault.host, ec);
    if (ec || !a.is_loopback()) {
      throw std::runtime_error(
          "--vault " + opt_.vault.host +
          ": a vault on another host is reached over TLS only: give --vault-ca");
    }
  } else {
    core::MakeClientTlsContext({opt_.vault_tls_ca, false});  // throws if unreadable
  }
  if (sodium_init() < 0) throw std::runtime_error("libsodium cannot start");
  auto params = accounts::PasswordParamsNamed(opt_.password_cost);
  if (!params) throw std::runtime_error("--password-cost: " + params.error());
  accounts::PasswordPoolOptions po;
  po.threads = std::max(1u, opt_.password_threads);
  po.max_queue = opt_.password_queue;
  po.params = *params;
  accounts::SignInLimiterOptions lo;
  lo.free_failures = opt_.sign_in_free_failures;
  lo.max_wait = opt_.sign_in_max_wait;
  accounts_ = std::make_unique<AccountShared>(po, lo);
  spdlog::info(
      "accounts: the vault at {}:{} ({}); passwords hashed with Argon2id ({}) on {} "
      "threads",
      opt_.vault.host, opt_.vault.port, opt_.vault_tls_ca.empty() ? "plain TCP" : "TLS",
      opt_.password_cost, po.threads);
}

}  // namespace salvus::hub
