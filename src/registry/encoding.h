// How the service registry travels through memcached (DESIGN.md, "Data"):
// the keys and the encoding of their values. Keys in use (without the
// cache's "salvus:" namespace, see cache.h):
//   services        the running services with a status each (EncodeServices),
//                   deleted by the monitor when a service registers or stops;
//                   its statuses may be old (see status:ID).
//   status:ID       the newest status of service ID (EncodeStatus), written by
//                   its monitor at every status row, expires after a few
//                   intervals without one.
//
// The values are a small line format of our own (tab-separated fields,
// escaped strings, a version line first) so that a value written by another
// version decodes as a miss, never as garbage. Pure functions; thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "store/store.h"

namespace salvus::registry {

inline constexpr std::string_view kServicesKey = "services";
std::string StatusKey(int64_t service_id);
// How long the services list stays cached without an invalidation.
inline constexpr std::chrono::seconds kServicesTtl{60};

std::string EncodeServices(const std::vector<store::ServiceStatus>& services);
std::optional<std::vector<store::ServiceStatus>> DecodeServices(std::string_view text);

std::string EncodeStatus(const store::StatusRow& status);
std::optional<store::StatusRow> DecodeStatus(std::string_view text);

}  // namespace salvus::registry
