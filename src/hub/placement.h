// Where a new session goes: the compute server with the lowest load among
// those that are connected and in rotation. Pure; the Router keeps one
// LinkLoad per compute link.
//
// Load is what the compute server last reported through its monitor
// (sessions in use of its maximum, and its host's load average per core),
// plus the sessions this hub event loop started there since that report
// (so a burst of starts does not all land on the server that looked
// emptiest). A server that never reported (a --compute without a monitor)
// counts this event loop's own sessions on it instead.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

namespace salvus::hub {

struct LinkLoad {
  bool up = false;          // connected, said hello
  bool in_rotation = true;  // false: reported stopped, stopped reporting, or gone
  bool removed = false;     // link closed for good (never used again)
  // The newest report (reported == false: none yet).
  bool reported = false;
  int64_t report_ms = 0;      // its time
  uint32_t sessions = 0;      // in use, from every hub
  uint32_t max_sessions = 0;  // 0: not said
  uint32_t cpus = 0;          // 0: not said
  double load1 = 0;           // its host's 1-minute load average
  // This event loop's view:
  uint32_t started_since_report = 0;
  uint32_t own_sessions = 0;
  bool full = false;  // refused a start as full since the report
};

// Lower is emptier: the fraction of its sessions in use plus its host's
// load per core.
double LoadScore(const LinkLoad& l);

// Whether `l` has no room left as far as we know.
bool LooksFull(const LinkLoad& l);

// The link for a new session, skipping those in `tried` (links that already
// refused this start): the lowest score among those up and in rotation,
// preferring any with room to any that looks full; ties go to the lower
// index. nullopt if none is up and in rotation.
std::optional<size_t> PickLink(const std::vector<LinkLoad>& links,
                               const std::vector<size_t>& tried = {});

}  // namespace salvus::hub
