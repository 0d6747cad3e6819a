#include "registry/cache.h"

#include <libmemcached/memcached.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <cstdlib>
#include <string>
#include <vector>

#include "core/address.h"
#include "core/metrics.h"

namespace salvus::registry {
namespace {

class NullCache : public Cache {
 public:
  bool enabled() const override { return false; }
  std::optional<std::string> Get(std::string_view) override { return std::nullopt; }
  bool Set(std::string_view, std::string_view, std::chrono::seconds) override { return false; }
  bool Delete(std::string_view) override { return false; }
};

// Per operation: its latency, and its failures (a miss is not one).
struct OpMetrics {
  explicit OpMetrics(const char* op)
      : seconds(core::metrics::Default().histogram(
            "salvus_memcached_seconds", "memcached calls' latency, by operation.",
            core::metrics::LatencyBuckets(), std::string("op=\"") + op + "\"")),
        errors(core::metrics::Default().counter("salvus_memcached_errors_total",
                                                "memcached calls that failed, by operation.",
                                                std::string("op=\"") + op + "\"")) {}
  core::metrics::Histogram& seconds;
  core::metrics::Counter& errors;
};

// Observes the time from its construction to its end.
class Timed {
 public:
  explicit Timed(OpMetrics& m) : m_(m) {}
  ~Timed() {
    m_.seconds.Observe(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0_).count());
  }

 private:
  OpMetrics& m_;
  std::chrono::steady_clock::time_point t0_ = std::chrono::steady_clock::now();
};

class MemcachedCache : public Cache {
 public:
  explicit MemcachedCache(memcached_st* mc) : mc_(mc) {}
  ~MemcachedCache() override { memcached_free(mc_); }

  bool enabled() const override { return true; }

  std::optional<std::string> Get(std::string_view key) override {
    std::lock_guard lock(mu_);
    Timed timed(get_);
    size_t len = 0;
    uint32_t flags = 0;
    memcached_return_t rc;
    char* v = memcached_get(mc_, key.data(), key.size(), &len, &flags, &rc);
    if (!v) {
      if (rc != MEMCACHED_NOTFOUND) Failed(get_, "get", rc);
      return std::nullopt;
    }
    std::string out(v, len);
    free(v);
    return out;
  }

  bool Set(std::string_view key, std::string_view value, std::chrono::seconds ttl) override {
    std::lock_guard lock(mu_);
    Timed timed(set_);
    memcached_return_t rc = memcached_set(mc_, key.data(), key.size(), value.data(), value.size(),
                                          static_cast<time_t>(ttl.count()), 0);
    if (!memcached_success(rc)) Failed(set_, "set", rc);
    return memcached_success(rc);
  }

  bool Delete(std::string_view key) override {
    std::lock_guard lock(mu_);
    Timed timed(delete_);
    memcached_return_t rc = memcached_delete(mc_, key.data(), key.size(), 0);
    if (rc == MEMCACHED_NOTFOUND) return true;
    if (!memcached_success(rc)) Failed(delete_, "delete", rc);
    return memcached_success(rc);
  }

 private:
  // Counted each time; one warning per outage, not one per call.
  void Failed(OpMetrics& m, const char* op, memcached_return_t rc) {
    m.errors.Add();
    const auto now = std::chrono::steady_clock::now();
    if (now - last_warning_ < std::chrono::seconds(60)) return;
    last_warning_ = now;
    spdlog::warn("memcached {} failed: {} (continuing without the cache)", op,
                 memcached_strerror(mc_, rc));
  }

  std::mutex mu_;
  memcached_st* mc_;  // GUARDED_BY(mu_)
  std::chrono::steady_clock::time_point last_warning_{};
  OpMetrics get_{"get"}, set_{"set"}, delete_{"delete"};
};

}  // namespace

std::expected<std::unique_ptr<Cache>, std::string> OpenCache(const std::string& servers,
                                                             const MemcachedOptions& opt) {
  if (servers.empty()) return std::make_unique<NullCache>();
  memcached_st* mc = memcached_create(nullptr);
  if (!mc) return std::unexpected("memcached: out of memory");
  auto fail = [mc](std::string why) -> std::expected<std::unique_ptr<Cache>, std::string> {
    memcached_free(mc);
    return std::unexpected(std::move(why));
  };
  size_t start = 0;
  while (start <= servers.size()) {
    size_t comma = servers.find(',', start);
    if (comma == std::string::npos) comma = servers.size();
    const std::string one = servers.substr(start, comma - start);
    auto hp = core::ParseHostPort(one);
    if (!hp || hp->port == 0) {
      return fail("memcached: bad server '" + one + "' (want HOST:PORT)");
    }
    if (memcached_server_add(mc, hp->host.c_str(), hp->port) != MEMCACHED_SUCCESS) {
      return fail("memcached: cannot add server '" + one + "'");
    }
    start = comma + 1;
  }
  const auto ms = [](auto d) {
    return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(d).count());
  };
  // Non-blocking sockets: the only way connect honours CONNECT_TIMEOUT.
  memcached_behavior_set(mc, MEMCACHED_BEHAVIOR_NO_BLOCK, 1);
  memcached_behavior_set(mc, MEMCACHED_BEHAVIOR_TCP_NODELAY, 1);
  memcached_behavior_set(mc, MEMCACHED_BEHAVIOR_CONNECT_TIMEOUT, ms(opt.connect_timeout));
  memcached_behavior_set(mc, MEMCACHED_BEHAVIOR_POLL_TIMEOUT, ms(opt.io_timeout));
  memcached_behavior_set(mc, MEMCACHED_BEHAVIOR_RCV_TIMEOUT, ms(opt.io_timeout) * 1000);
  memcached_behavior_set(mc, MEMCACHED_BEHAVIOR_SND_TIMEOUT, ms(opt.io_timeout) * 1000);
  memcached_behavior_set(mc, MEMCACHED_BEHAVIOR_RETRY_TIMEOUT,
                         static_cast<uint64_t>(opt.retry_after.count()));
  const std::string ns(kNamespace);
  if (memcached_callback_set(mc, MEMCACHED_CALLBACK_NAMESPACE, ns.c_str()) != MEMCACHED_SUCCESS) {
    return fail("memcached: cannot set the key namespace");
  }
  return std::make_unique<MemcachedCache>(mc);
}

std::optional<std::string> MemoryCache::Get(std::string_view key) {
  std::lock_guard lock(mu_);
  auto it = items_.find(key);
  if (it == items_.end()) return std::nullopt;
  return it->second;
}

bool MemoryCache::Set(std::string_view key, std::string_view value, std::chrono::seconds) {
  std::lock_guard lock(mu_);
  items_.insert_or_assign(std::string(key), std::string(value));
  return true;
}

bool MemoryCache::Delete(std::string_view key) {
  std::lock_guard lock(mu_);
  auto it = items_.find(key);
  if (it != items_.end()) items_.erase(it);
  return true;
}

size_t MemoryCache::size() const {
  std::lock_guard lock(mu_);
  return items_.size();
}

}  // namespace salvus::registry
