#include "compute/limits.h"

namespace salvus::compute {

proto::Limits DefaultLimits() {
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

namespace {
template <class T>
T Pick(T requested, T def, T max) {
  T v = requested != 0 ? requested : def;
  if (max != 0 && (v == 0 || v > max)) v = max;
  return v;
}
}  // namespace

proto::Limits ResolveLimits(const proto::Limits& r, const proto::Limits& d,
                            const proto::Limits& m) {
  proto::Limits l;
  l.set_walltime_s(Pick(r.walltime_s(), d.walltime_s(), m.walltime_s()));
  l.set_idle_s(Pick(r.idle_s(), d.idle_s(), m.idle_s()));
  l.set_cputime_s(Pick(r.cputime_s(), d.cputime_s(), m.cputime_s()));
  l.set_memory_mb(Pick(r.memory_mb(), d.memory_mb(), m.memory_mb()));
  l.set_open_files(Pick(r.open_files(), d.open_files(), m.open_files()));
  l.set_processes(Pick(r.processes(), d.processes(), m.processes()));
  l.set_file_size_mb(Pick(r.file_size_mb(), d.file_size_mb(), m.file_size_mb()));
  l.set_output_bytes(Pick(r.output_bytes(), d.output_bytes(), m.output_bytes()));
  return l;
}

}  // namespace salvus::compute
