// The JSON of the operator's API (admin_page.h): pure functions from Store
// rows to the bytes the page reads. Names are lowerCamelCase, as in the
// browser protocol; times are unix milliseconds.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "store/store.h"

namespace salvus::hub {

// {"nowMs":N,"services":[{"id","type","name","site","address","port","pid",
//  "running","startMs","stopMs","health":"up"|"stale"|"down",
//  "statusAgeS":S|null,"latest":ROW|null}]}. A running service whose
// newest status is older than `stale_after` (or that has none) is "stale";
// a stopped one "down".
std::string ServicesJson(const std::vector<store::ServiceStatus>& services, int64_t now_ms,
                         std::chrono::milliseconds stale_after);

// {"service":ID,"fromMs":N,"rows":[ROW...]}, oldest first; more than
// `max_points` rows are thinned to at most that many (evenly, the newest
// kept). ROW: {"t","load1","load5","load15","pcpu","pmem","cputimeS",
// "walltimeS","vsizeKb","rssKb","extra"} (extra: the service's own JSON, as
// a string).
std::string StatusJson(int64_t service_id, int64_t from_ms, std::vector<store::StatusRow> rows,
                       size_t max_points);

// {"service":ID,"lines":[{"t":N,"text":"..."}...]}, oldest first.
std::string LogJson(int64_t service_id, const std::vector<store::LogLine>& lines);

}  // namespace salvus::hub
