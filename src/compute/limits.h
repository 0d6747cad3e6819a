// Session limits: what a start request asks for, bounded by the server.
#pragma once

#include "proto/salvus.pb.h"

namespace salvus::compute {

// Built-in defaults, used where neither the request nor the operator set a value.
proto::Limits DefaultLimits();

// Each field: the request's value if non-zero, else the default; never above
// the maximum (a zero maximum means "no maximum").
proto::Limits ResolveLimits(const proto::Limits& requested, const proto::Limits& defaults,
                            const proto::Limits& maxima);

}  // namespace salvus::compute
