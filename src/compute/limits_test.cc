#include "compute/limits.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>

#include "core/session_limits.h"

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

// Without a maximum the default is the ceiling: a request only lowers.
TEST(Limits, ARequestOnlyLowersTheDefaults) {
  const proto::Limits def = DefaultLimits();
  proto::Limits req;
  req.set_memory_mb(10000000);
  req.set_processes(100000);
  req.set_cputime_s(999999999);
  req.set_walltime_s(999999999);
  req.set_output_bytes(100000000000);
  req.set_idle_s(60);
  proto::Limits l = ResolveLimits(req, def, {});
  EXPECT_EQ(l.memory_mb(), def.memory_mb());
  EXPECT_EQ(l.processes(), def.processes());
  EXPECT_EQ(l.cputime_s(), def.cputime_s());
  EXPECT_EQ(l.walltime_s(), def.walltime_s());
  EXPECT_EQ(l.output_bytes(), def.output_bytes());
  EXPECT_EQ(l.idle_s(), 60);
  // --max-memory-mb 8192 raises the ceiling (not the default).
  proto::Limits max;
  max.set_memory_mb(8192);
  req.set_memory_mb(5000);
  EXPECT_EQ(ResolveLimits(req, def, max).memory_mb(), 5000u);
  EXPECT_EQ(ResolveLimits({}, def, max).memory_mb(), def.memory_mb());
  req.set_memory_mb(10000);
  EXPECT_EQ(ResolveLimits(req, def, max).memory_mb(), 8192u);
}

// NaN, infinities and negative numbers never reach a conversion: the
// values come out in range whatever was asked or configured.
TEST(Limits, EveryValueIsBoundedBeforeAnyConversion) {
  const double inf = std::numeric_limits<double>::infinity();
  const double nan = std::numeric_limits<double>::quiet_NaN();
  proto::Limits req;
  req.set_walltime_s(nan);
  req.set_idle_s(-5);
  req.set_cputime_s(inf);
  const proto::Limits def = DefaultLimits();
  proto::Limits l = ResolveLimits(req, def, {});
  EXPECT_EQ(l.walltime_s(), def.walltime_s());  // NaN: as if not asked
  EXPECT_EQ(l.idle_s(), def.idle_s());          // negative: as if not asked
  EXPECT_EQ(l.cputime_s(), def.cputime_s());    // infinite: the ceiling
  // An operator without any limit (defaults 0, no maximum), and absurd ones.
  proto::Limits huge;
  huge.set_walltime_s(1e300);
  huge.set_cputime_s(inf);
  huge.set_memory_mb(UINT64_MAX);
  huge.set_file_size_mb(UINT64_MAX);
  huge.set_output_bytes(UINT64_MAX);
  huge.set_processes(UINT32_MAX);
  huge.set_open_files(UINT32_MAX);
  for (const proto::Limits& d : {proto::Limits{}, huge}) {
    l = ResolveLimits(huge, d, {});
    EXPECT_EQ(l.walltime_s(), core::kMaxLimitSeconds);
    EXPECT_EQ(l.idle_s(), core::kMaxLimitSeconds);  // 0 (none) comes out as the maximum
    EXPECT_EQ(l.cputime_s(), core::kMaxLimitSeconds);
    EXPECT_EQ(l.memory_mb(), core::kMaxLimitMb);
    EXPECT_EQ(l.file_size_mb(), core::kMaxLimitMb);
    EXPECT_EQ(l.output_bytes(), core::kMaxLimitOutputBytes);
    EXPECT_EQ(l.processes(), core::kMaxLimitProcesses);
    EXPECT_EQ(l.open_files(), core::kMaxLimitOpenFiles);
    // What sessions.cc and sandbox.cc compute from them stays in range.
    EXPECT_LT(l.walltime_s() * 1000, static_cast<double>(INT64_MAX) / 1e6);
    EXPECT_LT(l.cputime_s() + 0.999, static_cast<double>(UINT64_MAX));
    EXPECT_LT(l.memory_mb(), UINT64_MAX / (1024 * 1024) / 2);
  }
}

}  // namespace salvus::compute
