#include "core/session_limits.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>

namespace salvus::core {
namespace {

TEST(SessionLimits, SaneLimitsBoundEveryField) {
  proto::Limits l;
  l.set_walltime_s(std::numeric_limits<double>::quiet_NaN());
  l.set_idle_s(-1);
  l.set_cputime_s(std::numeric_limits<double>::infinity());
  l.set_memory_mb(UINT64_MAX);
  l.set_open_files(UINT32_MAX);
  l.set_processes(7);
  const proto::Limits s = SaneLimits(l);
  EXPECT_EQ(s.walltime_s(), 0);
  EXPECT_EQ(s.idle_s(), 0);
  EXPECT_EQ(s.cputime_s(), kMaxLimitSeconds);
  EXPECT_EQ(s.memory_mb(), kMaxLimitMb);
  EXPECT_EQ(s.open_files(), kMaxLimitOpenFiles);
  EXPECT_EQ(s.processes(), 7u);
  EXPECT_EQ(s.output_bytes(), 0u);
}

TEST(SessionLimits, ARequestIsLoweredToTheCeilingAndZeroStaysZero) {
  proto::Limits req;
  req.set_memory_mb(10000000);
  req.set_processes(10);
  req.set_walltime_s(999999999);
  req.set_cputime_s(std::numeric_limits<double>::infinity());
  proto::Limits ceiling = DefaultSessionLimits();
  ceiling.set_processes(0);  // no ceiling here
  const proto::Limits l = LowerToCeiling(req, ceiling);
  EXPECT_EQ(l.memory_mb(), 2048u);
  EXPECT_EQ(l.processes(), 10u);
  EXPECT_EQ(l.walltime_s(), 4 * 3600);
  EXPECT_EQ(l.cputime_s(), 3600);
  EXPECT_EQ(l.idle_s(), 0);  // not asked: the compute server's default
  EXPECT_EQ(l.output_bytes(), 0u);
}

}  // namespace
}  // namespace salvus::core
