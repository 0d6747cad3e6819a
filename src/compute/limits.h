// Session limits: what a start request asks for, bounded by the operator's.
#pragma once

#include "proto/salvus.pb.h"

namespace salvus::compute {

// Built-in defaults, used where neither the request nor the operator set a
// value (core::DefaultSessionLimits).
proto::Limits DefaultLimits();

// Each field: the request's value if non-zero, else the default; never above
// the ceiling, which is the maximum where one is set (`salvus compute
// --max-*`) and the default otherwise: a request can lower a limit, never
// raise it past what the operator configured. A zero ceiling (the default
// is 0 and no maximum is set) means none but core::SaneLimits's. Every value
// is made sane (core/session_limits.h) first; a walltime or idle limit of 0
// comes out as core::kMaxLimitSeconds (no limit, in practice).
proto::Limits ResolveLimits(const proto::Limits& requested, const proto::Limits& defaults,
                            const proto::Limits& maxima);

}  // namespace salvus::compute
