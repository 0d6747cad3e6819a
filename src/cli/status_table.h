// What `salvus status` prints. Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "store/store.h"

namespace salvus::cli {

// The table: one row per service (type, name, site, address:port, pid,
// %cpu, %mem, rss, uptime, age of its status), sorted by type, site, name.
// `now_ms`: unix ms, for uptime and age.
std::string FormatStatusTable(std::vector<store::ServiceStatus> services, int64_t now_ms);

// "3d04h", "2h05m", "4m07s", "12s", "-" for negative.
std::string FormatDuration(int64_t ms);
// 1536 -> "1.5M" (input in kB).
std::string FormatKb(uint64_t kb);

}  // namespace salvus::cli
