// Fuzz target: the monitor's /proc parsers (monitor/procstat). A process's
// name (comm) in /proc/PID/stat is whatever the process chose, so a
// session's code writes part of what the monitor parses. The input is cut
// at 0xFF into the texts of stat, statm, uptime, loadavg, meminfo,
// status and /proc/stat; every parser reads each of them.
//
// Checks: a parsed stat's comm is what lies between the first '(' and the
// last ')'; a Sample's derived figures are finite and not negative.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_check.h"
#include "monitor/procstat.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace salvus::monitor;
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  std::vector<std::string_view> parts;
  for (size_t pos = 0;;) {
    const size_t end = in.find('\xFF', pos);
    parts.push_back(in.substr(pos, end == std::string_view::npos ? in.npos : end - pos));
    if (end == std::string_view::npos) break;
    pos = end + 1;
  }
  parts.resize(std::max<size_t>(parts.size(), 7));
  for (std::string_view t : parts) {
    if (auto s = ParseProcStat(t)) {
      const size_t open = t.find('('), close = t.rfind(')');
      FUZZ_CHECK(s->comm == t.substr(open + 1, close - open - 1));
    }
    (void)ParseStatm(t);
    (void)ParseLoadAvg(t);
    (void)ParseUptime(t);
    (void)ParseMemTotalKb(t);
    (void)ParseStatusUid(t);
    (void)ParseBootTime(t);
  }
  HostInfo host;
  if (auto kb = ParseMemTotalKb(parts[4])) host.mem_total_kb = *kb;
  if (auto bt = ParseBootTime(parts[6])) host.boot_time_ms = *bt;  // seconds, as ms below
  auto s = MakeSample(parts[0], parts[1], parts[2], parts[3], host);
  if (s) {
    FUZZ_CHECK(std::isfinite(s->cputime_s) && s->cputime_s >= 0);
    FUZZ_CHECK(s->walltime_s >= 0);
    FUZZ_CHECK(std::isfinite(s->pmem) && s->pmem >= 0);
    const double cpu = CpuPercent(nullptr, *s);
    FUZZ_CHECK(!std::isnan(cpu) && cpu >= 0);
    Sample later = *s;
    later.monotonic_s += 1;
    later.cputime_s += 0.5;
    FUZZ_CHECK(CpuPercent(&*s, later) >= 0);
    (void)StartTimeMs(*s, host);
  }
  return 0;
}
