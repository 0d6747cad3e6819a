#include "core/session_limits.h"

#include <algorithm>
#include <cmath>

namespace salvus::core {

namespace {

double Seconds(double s) {
  if (std::isnan(s) || s <= 0) return 0;
  return std::min(s, kMaxLimitSeconds);
}

template <class T>
T Lower(T v, T ceiling) {
  return v != 0 && ceiling != 0 && v > ceiling ? ceiling : v;
}

}  // namespace

proto::Limits DefaultSessionLimits() {
  proto::Limits l;
  l.set_walltime_s(3600 * 4);
  l.set_idle_s(1800);
  l.set_cputime_s(3600);
  l.set_memory_mb(2048);
  l.set_open_files(256);
  l.set_processes(64);
  l.set_file_size_mb(1024);
  l.set_output_bytes(10 * 1000 * 1000);
  return l;
}

proto::Limits SaneLimits(const proto::Limits& in) {
  proto::Limits l;
  l.set_walltime_s(Seconds(in.walltime_s()));
  l.set_idle_s(Seconds(in.idle_s()));
  l.set_cputime_s(Seconds(in.cputime_s()));
  l.set_memory_mb(std::min(in.memory_mb(), kMaxLimitMb));
  l.set_open_files(std::min(in.open_files(), kMaxLimitOpenFiles));
  l.set_processes(std::min(in.processes(), kMaxLimitProcesses));
  l.set_file_size_mb(std::min(in.file_size_mb(), kMaxLimitMb));
  l.set_output_bytes(std::min(in.output_bytes(), kMaxLimitOutputBytes));
  return l;
}

proto::Limits LowerToCeiling(const proto::Limits& requested, const proto::Limits& ceiling) {
  const proto::Limits r = SaneLimits(requested);
  const proto::Limits c = SaneLimits(ceiling);
  proto::Limits l;
  l.set_walltime_s(Lower(r.walltime_s(), c.walltime_s()));
  l.set_idle_s(Lower(r.idle_s(), c.idle_s()));
  l.set_cputime_s(Lower(r.cputime_s(), c.cputime_s()));
  l.set_memory_mb(Lower(r.memory_mb(), c.memory_mb()));
  l.set_open_files(Lower(r.open_files(), c.open_files()));
  l.set_processes(Lower(r.processes(), c.processes()));
  l.set_file_size_mb(Lower(r.file_size_mb(), c.file_size_mb()));
  l.set_output_bytes(Lower(r.output_bytes(), c.output_bytes()));
  return l;
}

}  // namespace salvus::core
