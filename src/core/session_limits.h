// A session's limits (proto::Limits) as every hop bounds them: a request
// can only lower a ceiling, and every value is brought into a range where
// each later conversion (seconds to milliseconds, MB to bytes, double to
// rlim_t) is defined, before anything converts it.
#pragma once

#include "proto/salvus.pb.h"

namespace salvus::core {

// The largest value any limit may have, whatever anyone configures: about
// three years in seconds, 1 PiB in MB (a byte count still fits 64 bits),
// and the kernel's own ceilings for open files and processes.
inline constexpr double kMaxLimitSeconds = 1e8;
inline constexpr uint64_t kMaxLimitMb = uint64_t{1} << 30;
inline constexpr uint64_t kMaxLimitOutputBytes = uint64_t{1} << 50;
inline constexpr uint32_t kMaxLimitOpenFiles = 1 << 20;
inline constexpr uint32_t kMaxLimitProcesses = 1 << 22;

// What a compute server gives a session unless its operator says otherwise
// (`salvus compute --walltime` etc.), and what a hub lets a page ask for
// unless its operator says otherwise (`salvus hub --max-session-*`).
proto::Limits DefaultSessionLimits();

// Every field within [0, its maximum above]: a negative or NaN time becomes
// 0 ("not set"), an infinite or larger one the maximum.
proto::Limits SaneLimits(const proto::Limits& l);

// `requested`, made sane, with each non-zero field lowered to `ceiling`'s
// where that is non-zero. Zero fields stay zero ("the default").
proto::Limits LowerToCeiling(const proto::Limits& requested, const proto::Limits& ceiling);

}  // namespace salvus::core
