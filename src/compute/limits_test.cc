#include "compute/limits.h"

#include <gtest/gtest.h>

namespace salvus::compute {

TEST(Limits, RequestDefaultAndMaximum) {
  proto::Limits req, def = DefaultLimits(), max;
  req.set_walltime_s(10);
  req.set_memory_mb(1 << 20);
  max.set_memory_mb(4096);
  max.set_processes(16);
  proto::Limits l = ResolveLimits(req, def, max);
  EXPECT_EQ(l.walltime_s(), 10);                   // requested
  EXPECT_EQ(l.memory_mb(), 4096u);                 // capped by the maximum
  EXPECT_EQ(l.processes(), 16u);                   // default 64 capped to 16
  EXPECT_EQ(l.output_bytes(), 10u * 1000 * 1000);  // default
  EXPECT_EQ(l.cputime_s(), def.cputime_s());
}

}  // namespace salvus::compute
