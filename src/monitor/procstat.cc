#include "monitor/procstat.h"

#include <fcntl.h>
#include <pwd.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <limits>
#include <vector>

namespace salvus::monitor {
namespace {

// Splits on runs of spaces/tabs/newlines.
std::vector<std::string_view> Fields(std::string_view s) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n')) ++i;
    size_t j = i;
    while (j < s.size() && s[j] != ' ' && s[j] != '\t' && s[j] != '\n') ++j;
    if (j > i) out.push_back(s.substr(i, j - i));
    i = j;
  }
  return out;
}

template <class T>
bool ToNumber(std::string_view s, T* out) {
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && p == s.data() + s.size();
}

// The value after "key" at the start of a line, e.g. "MemTotal:".
std::optional<std::string_view> LineValue(std::string_view text, std::string_view key) {
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(pos, end - pos);
    if (line.substr(0, key.size()) == key) return line.substr(key.size());
    pos = end + 1;
  }
  return std::nullopt;
}

double MonotonicSeconds() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

int64_t UnixMs() {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

}  // namespace

std::expected<ProcStat, std::string> ParseProcStat(std::string_view text) {
  const size_t open = text.find('(');
  const size_t close = text.rfind(')');
  if (open == std::string_view::npos || close == std::string_view::npos || close < open) {
    return std::unexpected("malformed /proc/PID/stat: no (comm)");
  }
  ProcStat s;
  std::string_view pid_text = text.substr(0, open);
  while (!pid_text.empty() && pid_text.back() == ' ') pid_text.remove_suffix(1);
  if (!ToNumber(pid_text, &s.pid)) return std::unexpected("malformed /proc/PID/stat: pid");
  s.comm = std::string(text.substr(open + 1, close - open - 1));
  // Fields from 3 (state) on; index 0 here is field 3.
  auto f = Fields(text.substr(close + 1));
  if (f.size() < 22) return std::unexpected("malformed /proc/PID/stat: too few fields");
  if (f[0].size() != 1) return std::unexpected("malformed /proc/PID/stat: state");
  s.state = f[0][0];
  if (!ToNumber(f[1], &s.ppid) || !ToNumber(f[11], &s.utime) || !ToNumber(f[12], &s.stime) ||
      !ToNumber(f[19], &s.starttime) || !ToNumber(f[20], &s.vsize) || !ToNumber(f[21], &s.rss)) {
    return std::unexpected("malformed /proc/PID/stat: numbers");
  }
  return s;
}

std::optional<Statm> ParseStatm(std::string_view text) {
  auto f = Fields(text);
  Statm s;
  if (f.size() < 2 || !ToNumber(f[0], &s.size) || !ToNumber(f[1], &s.resident)) {
    return std::nullopt;
  }
  return s;
}

std::optional<LoadAvg> ParseLoadAvg(std::string_view text) {
  auto f = Fields(text);
  LoadAvg l;
  if (f.size() < 3 || !ToNumber(f[0], &l.load1) || !ToNumber(f[1], &l.load5) ||
      !ToNumber(f[2], &l.load15)) {
    return std::nullopt;
  }
  return l;
}

std::optional<double> ParseUptime(std::string_view text) {
  auto f = Fields(text);
  double v;
  if (f.empty() || !ToNumber(f[0], &v)) return std::nullopt;
  return v;
}

std::optional<uint64_t> ParseMemTotalKb(std::string_view text) {
  auto v = LineValue(text, "MemTotal:");
  if (!v) return std::nullopt;
  auto f = Fields(*v);
  uint64_t kb;
  if (f.empty() || !ToNumber(f[0], &kb)) return std::nullopt;
  return kb;
}

std::optional<uid_t> ParseStatusUid(std::string_view text) {
  auto v = LineValue(text, "Uid:");
  if (!v) return std::nullopt;
  auto f = Fields(*v);
  uid_t uid;
  if (f.empty() || !ToNumber(f[0], &uid)) return std::nullopt;
  return uid;
}

std::optional<int64_t> ParseBootTime(std::string_view text) {
  auto v = LineValue(text, "btime ");
  if (!v) return std::nullopt;
  auto f = Fields(*v);
  int64_t t;
  if (f.empty() || !ToNumber(f[0], &t)) return std::nullopt;
  return t;
}

std::optional<std::string> ReadSmallFile(const std::string& path) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  std::string out;
  char buf[4096];
  for (;;) {
    ssize_t n = read(fd, buf, sizeof buf);
    if (n < 0) {
      close(fd);
      return std::nullopt;
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
    if (out.size() > (1u << 20)) break;  // /proc files the monitor reads are small
  }
  close(fd);
  return out;
}

std::expected<HostInfo, std::string> ReadHostInfo(const std::string& proc) {
  HostInfo h;
  h.ticks_per_s = sysconf(_SC_CLK_TCK);
  if (h.ticks_per_s <= 0) h.ticks_per_s = 100;
  const long page = sysconf(_SC_PAGESIZE);
  h.page_kb = page > 0 ? page / 1024 : 4;
  auto meminfo = ReadSmallFile(proc + "/meminfo");
  auto total = meminfo ? ParseMemTotalKb(*meminfo) : std::nullopt;
  if (!total) return std::unexpected("cannot read MemTotal from " + proc + "/meminfo");
  h.mem_total_kb = *total;
  auto stat = ReadSmallFile(proc + "/stat");
  auto btime = stat ? ParseBootTime(*stat) : std::nullopt;
  if (!btime) return std::unexpected("cannot read btime from " + proc + "/stat");
  h.boot_time_ms = *btime * 1000;
  return h;
}

std::expected<Sample, std::string> MakeSample(std::string_view stat, std::string_view statm,
                                              std::string_view uptime, std::string_view loadavg,
                                              const HostInfo& host) {
  auto ps = ParseProcStat(stat);
  if (!ps) return std::unexpected(ps.error());
  auto up = ParseUptime(uptime);
  if (!up) return std::unexpected("malformed /proc/uptime");
  auto load = ParseLoadAvg(loadavg);
  if (!load) return std::unexpected("malformed /proc/loadavg");
  const double ticks = static_cast<double>(host.ticks_per_s);
  Sample s;
  s.cputime_s = static_cast<double>(ps->utime + ps->stime) / ticks;
  s.starttime = ps->starttime;
  s.state = ps->state;
  s.walltime_s = std::max(0.0, *up - static_cast<double>(ps->starttime) / ticks);
  s.vsize_kb = ps->vsize / 1024;
  s.rss_kb =
      static_cast<uint64_t>(std::max<int64_t>(ps->rss, 0)) * static_cast<uint64_t>(host.page_kb);
  if (auto m = ParseStatm(statm)) {
    s.vsize_kb = m->size * static_cast<uint64_t>(host.page_kb);
    s.rss_kb = m->resident * static_cast<uint64_t>(host.page_kb);
  }
  s.pmem = host.mem_total_kb
               ? 100.0 * static_cast<double>(s.rss_kb) / static_cast<double>(host.mem_total_kb)
               : 0.0;
  s.load = *load;
  return s;
}

std::expected<Sample, std::string> ReadSample(pid_t pid, const HostInfo& host,
                                              const std::string& proc) {
  const std::string dir = proc + "/" + std::to_string(pid);
  auto stat = ReadSmallFile(dir + "/stat");
  if (!stat) return std::unexpected("process " + std::to_string(pid) + " is gone");
  auto statm = ReadSmallFile(dir + "/statm");
  auto uptime = ReadSmallFile(proc + "/uptime");
  auto loadavg = ReadSmallFile(proc + "/loadavg");
  if (!uptime || !loadavg) return std::unexpected("cannot read " + proc + "/uptime or loadavg");
  auto s = MakeSample(*stat, statm.value_or(""), *uptime, *loadavg, host);
  if (!s) return s;
  s->time_ms = UnixMs();
  s->monotonic_s = MonotonicSeconds();
  return s;
}

double CpuPercent(const Sample* prev, const Sample& cur) {
  if (prev && prev->starttime == cur.starttime) {
    const double wall = cur.monotonic_s - prev->monotonic_s;
    if (wall > 0) return std::max(0.0, 100.0 * (cur.cputime_s - prev->cputime_s) / wall);
  }
  return cur.walltime_s > 0 ? 100.0 * cur.cputime_s / cur.walltime_s : 0.0;
}

int64_t StartTimeMs(const Sample& s, const HostInfo& host) {
  // Saturating: the kernel's figures never come near the limits, a
  // malformed file's may (starttime * 1000 wrapped, the sum overflowed).
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
  const auto ticks = static_cast<uint64_t>(std::max(host.ticks_per_s, 1L));
  const uint64_t whole_s = s.starttime / ticks;
  if (whole_s > static_cast<uint64_t>(kMax) / 1000) return kMax;
  const uint64_t ms = whole_s * 1000 + s.starttime % ticks * 1000 / ticks;
  int64_t out;
  if (ms > static_cast<uint64_t>(kMax) ||
      __builtin_add_overflow(host.boot_time_ms, static_cast<int64_t>(ms), &out)) {
    return kMax;  // ms >= 0: only upwards
  }
  return out;
}

std::optional<uid_t> ProcessUid(pid_t pid, const std::string& proc) {
  auto status = ReadSmallFile(proc + "/" + std::to_string(pid) + "/status");
  if (!status) return std::nullopt;
  return ParseStatusUid(*status);
}

std::string UserName(uid_t uid) {
  passwd pw;
  passwd* result = nullptr;
  std::vector<char> buf(16384);
  if (getpwuid_r(uid, &pw, buf.data(), buf.size(), &result) == 0 && result) {
    return result->pw_name;
  }
  return std::to_string(uid);
}

}  // namespace salvus::monitor
