#include "registry/registry.h"

#include "registry/encoding.h"
#include "store/await_store.h"

namespace salvus::registry {

std::optional<std::vector<store::ServiceStatus>> CachedRunningServices(Cache& cache) {
  if (!cache.enabled()) return std::nullopt;
  auto text = cache.Get(kServicesKey);
  if (!text) return std::nullopt;
  auto services = DecodeServices(*text);
  if (!services) return std::nullopt;
  for (auto& ss : *services) {
    auto fresh = cache.Get(StatusKey(ss.service.id));
    if (!fresh) continue;
    auto st = DecodeStatus(*fresh);
    if (st && st->service_id == ss.service.id && (!ss.latest || st->time_ms > ss.latest->time_ms)) {
      ss.latest = std::move(*st);
    }
  }
  return services;
}

void CacheRunningServices(Cache& cache, const std::vector<store::ServiceStatus>& services) {
  if (cache.enabled()) cache.Set(kServicesKey, EncodeServices(services), kServicesTtl);
}

boost::asio::awaitable<store::Result<std::vector<store::ServiceStatus>>> StoredRunningServices(
    store::Store& store, Cache& cache) {
  auto r = co_await store::AwaitStore<std::vector<store::ServiceStatus>>(
      [&](auto cb) { store.RunningServices("", std::move(cb)); });
  if (r) CacheRunningServices(cache, *r);
  co_return r;
}

}  // namespace salvus::registry
