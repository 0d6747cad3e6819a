// A process's resource use, read from /proc (never by running `ps`).
//
// The Parse* functions are pure (they take a file's text) so they can be
// tested on any input; ReadSample/ReadHostInfo read the live files. A status row
// is one Sample plus the %cpu between it and the previous Sample of the same
// process. Thread-safe: no shared state.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <expected>
#include <optional>
#include <string>
#include <string_view>

namespace salvus::monitor {

// The fields of /proc/PID/stat the monitor uses. Times in clock ticks.
struct ProcStat {
  int pid = 0;
  std::string comm;  // may contain spaces and parentheses
  char state = '?';
  int ppid = 0;
  uint64_t utime = 0, stime = 0;  // ticks
  uint64_t starttime = 0;         // ticks after boot
  uint64_t vsize = 0;             // bytes
  int64_t rss = 0;                // pages
};

// Parses /proc/PID/stat. `comm` is everything between the first '(' and the
// LAST ')', so a name like "a) b (c" is read whole.
std::expected<ProcStat, std::string> ParseProcStat(std::string_view text);

struct Statm {
  uint64_t size = 0, resident = 0;  // pages
};
std::optional<Statm> ParseStatm(std::string_view text);

struct LoadAvg {
  double load1 = 0, load5 = 0, load15 = 0;
};
std::optional<LoadAvg> ParseLoadAvg(std::string_view text);

// Seconds since boot: the first number of /proc/uptime.
std::optional<double> ParseUptime(std::string_view text);
// "MemTotal:  N kB" from /proc/meminfo, in kB.
std::optional<uint64_t> ParseMemTotalKb(std::string_view text);
// The real uid from /proc/PID/status ("Uid:\treal effective saved fs").
std::optional<uid_t> ParseStatusUid(std::string_view text);
// "btime N" (boot time, unix seconds) from /proc/stat.
std::optional<int64_t> ParseBootTime(std::string_view text);

// One reading of a process and its host.
struct Sample {
  int64_t time_ms = 0;     // unix ms, when it was taken
  double monotonic_s = 0;  // CLOCK_MONOTONIC seconds, for deltas
  double cputime_s = 0;    // user + system
  double walltime_s = 0;   // since the process started
  uint64_t starttime = 0;  // ticks after boot (identifies the process with its pid)
  char state = '?';        // 'Z' or 'X': it has exited
  uint64_t vsize_kb = 0;
  uint64_t rss_kb = 0;
  double pmem = 0;  // rss as % of MemTotal
  LoadAvg load;
};

// Host constants, read once.
struct HostInfo {
  long ticks_per_s = 100;  // sysconf(_SC_CLK_TCK)
  long page_kb = 4;        // sysconf(_SC_PAGESIZE) / 1024
  uint64_t mem_total_kb = 0;
  int64_t boot_time_ms = 0;  // unix ms
};
std::expected<HostInfo, std::string> ReadHostInfo(const std::string& proc = "/proc");

// Reads /proc/PID/{stat,statm}, /proc/uptime and /proc/loadavg. An error
// when the process does not exist (any more).
std::expected<Sample, std::string> ReadSample(pid_t pid, const HostInfo& host,
                                              const std::string& proc = "/proc");

// Pure: builds a Sample from the files' texts (what ReadSample does after
// reading them). `statm` may be empty (then vsize/rss come from stat).
std::expected<Sample, std::string> MakeSample(std::string_view stat, std::string_view statm,
                                              std::string_view uptime, std::string_view loadavg,
                                              const HostInfo& host);

// % of one core used between two samples of the same process; with no
// previous sample, the average over the process's life (like ps).
double CpuPercent(const Sample* prev, const Sample& cur);

// When the process started, unix ms.
int64_t StartTimeMs(const Sample& s, const HostInfo& host);

// The process's real uid, or nullopt if it is gone.
std::optional<uid_t> ProcessUid(pid_t pid, const std::string& proc = "/proc");
// A user's name, or the uid as text when it has no name.
std::string UserName(uid_t uid);

// Whole small file (for /proc files, whose size stat() does not know).
std::optional<std::string> ReadSmallFile(const std::string& path);

}  // namespace salvus::monitor
