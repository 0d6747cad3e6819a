// Cache: the optional memcached layer (DESIGN.md, "Data"). Salvus works the
// same without it, only slower, so nothing here throws or fails a caller:
// a miss, a dead server and no server at all all look like a miss.
//
// Keys are given without the namespace; memcached stores them under
// "salvus:" (kNamespace). The keys in use and their values: encoding.h.
//
// MemcachedCache calls block the calling thread (libmemcached is blocking),
// bounded by short timeouts: connect and poll 100 ms; after a failure the
// server is skipped for 2 s, so a dead memcached costs about one timeout per
// 2 s and then nothing. That is fine in the monitor and in `salvus status`
// (one loop each with nothing else to do), not on a hub's event loop.
// MemcachedCache and MemoryCache are thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <expected>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

namespace salvus::registry {

inline constexpr std::string_view kNamespace = "salvus:";

class Cache {
 public:
  virtual ~Cache() = default;
  // False when no server is configured: every Get misses.
  virtual bool enabled() const = 0;
  virtual std::optional<std::string> Get(std::string_view key) = 0;
  // ttl 0: no expiry (until evicted). True if stored.
  virtual bool Set(std::string_view key, std::string_view value, std::chrono::seconds ttl) = 0;
  // True if the key is gone afterwards (deleted, or was not there).
  virtual bool Delete(std::string_view key) = 0;
};

struct MemcachedOptions {
  std::chrono::milliseconds connect_timeout{100};
  std::chrono::milliseconds io_timeout{100};
  std::chrono::seconds retry_after{2};  // a failed server is skipped this long
};

// `servers`: "HOST:PORT[,HOST:PORT...]"; empty gives a disabled cache. An
// error only for text that is not a server list (a server that is down is
// not an error: it is retried later).
std::expected<std::unique_ptr<Cache>, std::string> OpenCache(const std::string& servers,
                                                             const MemcachedOptions& opt = {});

// The in-memory fake for unit tests (TTL ignored), and a stand-in when no
// memcached is configured but a Cache is wanted.
class MemoryCache : public Cache {
 public:
  bool enabled() const override { return true; }
  std::optional<std::string> Get(std::string_view key) override;
  bool Set(std::string_view key, std::string_view value, std::chrono::seconds ttl) override;
  bool Delete(std::string_view key) override;
  size_t size() const;

 private:
  mutable std::mutex mu_;
  std::map<std::string, std::string, std::less<>> items_;  // GUARDED_BY(mu_)
};

}  // namespace salvus::registry
