// What `salvus status` shows, and how it travels through memcached.
//
// The cache values are a small line format of our own (tab-separated
// fields, escaped strings, a version line first) so that a value written by
// another version decodes as a miss, never as garbage. Pure functions;
// thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "monitor/cache.h"
#include "store/store.h"

namespace salvus::monitor {

std::string EncodeServices(const std::vector<store::ServiceStatus>& services);
std::optional<std::vector<store::ServiceStatus>> DecodeServices(std::string_view text);

std::string EncodeStatus(const store::Status& status);
std::optional<store::Status> DecodeStatus(std::string_view text);

// The running services from the cache ("services"), each with the newer of
// its listed status and "status:ID"; nullopt on a miss (or a value that
// does not decode).
std::optional<std::vector<store::ServiceStatus>> CachedRunningServices(Cache& cache);
// Stores what the database said, for the next reader.
void CacheRunningServices(Cache& cache, const std::vector<store::ServiceStatus>& services);
// How long the services list stays cached without an invalidation.
inline constexpr std::chrono::seconds kServicesTtl{60};

// The table `salvus status` prints: one row per service (type, name, site,
// address:port, pid, %cpu, %mem, rss, uptime, age of its status), sorted by
// type, site, name. `now_ms`: unix ms, for uptime and age.
std::string FormatStatusTable(std::vector<store::ServiceStatus> services, int64_t now_ms);

// "3d04h", "2h05m", "4m07s", "12s", "-" for negative.
std::string FormatDuration(int64_t ms);
// 1536 -> "1.5M" (input in kB).
std::string FormatKb(uint64_t kb);

}  // namespace salvus::monitor
