// The service registry's read side (DESIGN.md, "Data"): the running
// services of every type, each with its newest status, as the hub's compute
// discovery and `salvus status` see them. memcached answers first (see
// encoding.h for what it holds); on a miss the Store answers and its answer
// is cached for the next reader. The writer side is the monitor
// (src/monitor), which keeps the same keys fresh.
//
// Cache calls block (see cache.h): call these where blocking for a short
// timeout is fine, never on a hub's event loop.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <optional>
#include <vector>

#include "registry/cache.h"
#include "store/store.h"

namespace salvus::registry {

// The running services from the cache ("services"), each with the newer of
// its listed status and "status:ID"; nullopt on a miss (or a value that
// does not decode, or a disabled cache).
std::optional<std::vector<store::ServiceStatus>> CachedRunningServices(Cache& cache);

// Stores what the database said, for the next reader (kServicesTtl).
void CacheRunningServices(Cache& cache, const std::vector<store::ServiceStatus>& services);

// The running services from `store`, then cached. REQUIRES: the caller runs
// on the store's executor.
boost::asio::awaitable<store::Result<std::vector<store::ServiceStatus>>> StoredRunningServices(
    store::Store& store, Cache& cache);

}  // namespace salvus::registry
