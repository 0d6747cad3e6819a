#include "monitor/procstat.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <limits>

namespace salvus::monitor {
namespace {

// A real line (from `cat`), with the fields the monitor reads changed to
// recognisable values.
std::string StatLine(const std::string& comm) {
  return "6403 (" + comm +
         ") S 6396 6396 4528 0 -1 4194304 98 0 0 0 250 50 7 8 20 0 1 0 980570 3133440 383 "
         "18446744073709551615 94778955423744 94778955443625 140720413786128 0 0 0 0 0 0 0 0 0 17 "
         "0 0 0 0 0 0 94778955459632 94778955461248 94779050094592 140720413788607 "
         "140720413788627 140720413788627 140720413790187 0\n";
}

TEST(ProcStatTest, ParsesFields) {
  auto s = ParseProcStat(StatLine("cat"));
  ASSERT_TRUE(s.has_value()) << s.error();
  EXPECT_EQ(s->pid, 6403);
  EXPECT_EQ(s->comm, "cat");
  EXPECT_EQ(s->state, 'S');
  EXPECT_EQ(s->ppid, 6396);
  EXPECT_EQ(s->utime, 250u);
  EXPECT_EQ(s->stime, 50u);
  EXPECT_EQ(s->starttime, 980570u);
  EXPECT_EQ(s->vsize, 3133440u);
  EXPECT_EQ(s->rss, 383);
}

TEST(ProcStatTest, CommWithSpacesAndParentheses) {
  for (std::string comm : {"a b", "x) S 1 2 (", "((", "))", ") 5 6", ""}) {
    auto s = ParseProcStat(StatLine(comm));
    ASSERT_TRUE(s.has_value()) << comm << ": " << s.error();
    EXPECT_EQ(s->comm, comm);
    EXPECT_EQ(s->state, 'S') << comm;
    EXPECT_EQ(s->utime, 250u) << comm;
    EXPECT_EQ(s->starttime, 980570u) << comm;
  }
}

TEST(ProcStatTest, RejectsMalformed) {
  EXPECT_FALSE(ParseProcStat("").has_value());
  EXPECT_FALSE(ParseProcStat("12 cat S 1").has_value());
  EXPECT_FALSE(ParseProcStat("12 (cat) S 1 2 3").has_value());
  EXPECT_FALSE(ParseProcStat("x (cat)" + StatLine("cat").substr(9)).has_value());
  std::string bad = StatLine("cat");
  bad.replace(bad.find(" 250 "), 5, " 2x0 ");
  EXPECT_FALSE(ParseProcStat(bad).has_value());
}

TEST(ProcStatTest, SmallFiles) {
  auto m = ParseStatm("765 383 350 5 0 90 0\n");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->size, 765u);
  EXPECT_EQ(m->resident, 383u);
  EXPECT_FALSE(ParseStatm("7"));

  auto l = ParseLoadAvg("1.97 1.52 0.25 4/97 6404\n");
  ASSERT_TRUE(l);
  EXPECT_DOUBLE_EQ(l->load1, 1.97);
  EXPECT_DOUBLE_EQ(l->load5, 1.52);
  EXPECT_DOUBLE_EQ(l->load15, 0.25);
  EXPECT_FALSE(ParseLoadAvg("nan?"));

  EXPECT_DOUBLE_EQ(*ParseUptime("9805.71 7193.35\n"), 9805.71);
  EXPECT_FALSE(ParseUptime(""));

  EXPECT_EQ(*ParseMemTotalKb("MemTotal:       24683620 kB\nMemFree: 1 kB\n"), 24683620u);
  EXPECT_EQ(*ParseMemTotalKb("MemFree: 1 kB\nMemTotal: 2048 kB\n"), 2048u);
  EXPECT_FALSE(ParseMemTotalKb("MemFree: 1 kB\n"));

  EXPECT_EQ(*ParseStatusUid("Name:\tcat\nUid:\t1000\t0\t0\t0\nGid:\t0\t0\t0\t0\n"), 1000u);
  EXPECT_FALSE(ParseStatusUid("Name:\tcat\n"));

  EXPECT_EQ(*ParseBootTime("cpu  1 2 3\nbtime 1700000000\nprocesses 5\n"), 1700000000);
}

TEST(ProcStatTest, SampleFromTexts) {
  HostInfo h;
  h.ticks_per_s = 100;
  h.page_kb = 4;
  h.mem_total_kb = 383 * 4 * 10;  // rss is 10% of memory
  h.boot_time_ms = 1'700'000'000'000;
  // Started 9805.70 s after boot; uptime 9905.70: 100 s of walltime.
  auto s =
      MakeSample(StatLine("cat"), "765 383 350 5 0 90 0", "9905.70 1.0", "0.5 0.25 0.125 1/2 3", h);
  ASSERT_TRUE(s.has_value()) << s.error();
  EXPECT_DOUBLE_EQ(s->cputime_s, 3.0);
  EXPECT_NEAR(s->walltime_s, 9905.70 - 9805.70, 1e-6);
  EXPECT_EQ(s->vsize_kb, 765u * 4);
  EXPECT_EQ(s->rss_kb, 383u * 4);
  EXPECT_NEAR(s->pmem, 10.0, 1e-9);
  EXPECT_DOUBLE_EQ(s->load.load5, 0.25);
  EXPECT_EQ(StartTimeMs(*s, h), 1'700'000'000'000 + 9'805'700);
  // Without a previous sample: the lifetime average, like ps.
  EXPECT_NEAR(CpuPercent(nullptr, *s), 3.0, 1e-6);

  // Without statm: vsize and rss from stat.
  auto t = MakeSample(StatLine("cat"), "", "9905.70", "0 0 0", h);
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ(t->vsize_kb, 3133440u / 1024);
  EXPECT_EQ(t->rss_kb, 383u * 4);
  EXPECT_FALSE(MakeSample("junk", "", "1", "0 0 0", h).has_value());
  EXPECT_FALSE(MakeSample(StatLine("cat"), "", "", "0 0 0", h).has_value());
}

TEST(ProcStatTest, CpuPercentFromDelta) {
  Sample a, b;
  a.starttime = b.starttime = 7;
  a.monotonic_s = 10;
  b.monotonic_s = 16;
  a.cputime_s = 1.0;
  b.cputime_s = 4.0;  // 3 s of cpu in 6 s
  b.walltime_s = 100;
  EXPECT_NEAR(CpuPercent(&a, b), 50.0, 1e-9);
  // Another process under the same pid: no delta across it.
  a.starttime = 8;
  EXPECT_NEAR(CpuPercent(&a, b), 4.0, 1e-9);
  // A clock that did not move: fall back rather than divide by zero.
  a.starttime = 7;
  a.monotonic_s = 16;
  EXPECT_NEAR(CpuPercent(&a, b), 4.0, 1e-9);
}

TEST(ProcStatTest, ReadsThisProcess) {
  auto host = ReadHostInfo();
  ASSERT_TRUE(host.has_value()) << host.error();
  EXPECT_GT(host->mem_total_kb, 0u);
  auto a = ReadSample(getpid(), *host);
  ASSERT_TRUE(a.has_value()) << a.error();
  // Burn some cpu so the delta is visible.
  const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(200);
  volatile uint64_t x = 0;
  while (std::chrono::steady_clock::now() < until) x = x + 1;
  auto b = ReadSample(getpid(), *host);
  ASSERT_TRUE(b.has_value());
  EXPECT_GT(b->rss_kb, 0u);
  EXPECT_GE(b->vsize_kb, b->rss_kb);
  EXPECT_GE(b->cputime_s, a->cputime_s);
  EXPECT_GT(b->cputime_s, 0.0);
  EXPECT_GE(CpuPercent(&*a, *b), 0.0);
  const int64_t start = StartTimeMs(*b, *host);
  const int64_t now = b->time_ms;
  EXPECT_LE(start, now + 1000);
  EXPECT_GT(start, now - 24LL * 3600 * 1000 * 365);
  EXPECT_EQ(ProcessUid(getpid()), getuid());
  EXPECT_FALSE(UserName(getuid()).empty());
  EXPECT_FALSE(ReadSample(0x3ffffff, *host).has_value());  // above pid_max: never exists
}

// Found by fuzz/procstat_fuzz.cc: starttime * 1000 wrapped, and boot time
// plus start time overflowed int64 (undefined behaviour).
TEST(ProcStatTest, StartTimeSaturatesOnAbsurdFigures) {
  HostInfo h;
  h.ticks_per_s = 100;
  h.boot_time_ms = 1'700'000'000'000;
  Sample s;
  s.starttime = std::numeric_limits<uint64_t>::max();
  EXPECT_EQ(StartTimeMs(s, h), std::numeric_limits<int64_t>::max());
  s.starttime = 980'575;
  EXPECT_EQ(StartTimeMs(s, h), 1'700'000'000'000 + 9'805'750);
  h.boot_time_ms = std::numeric_limits<int64_t>::max() - 5;
  EXPECT_EQ(StartTimeMs(s, h), std::numeric_limits<int64_t>::max());
}

}  // namespace
}  // namespace salvus::monitor
