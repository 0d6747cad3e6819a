#include "compute/limits.h"

#include "core/session_limits.h"

namespace salvus::compute {

proto::Limits DefaultLimits() { return core::DefaultSessionLimits(); }

namespace {
template <class T>
T Pick(T requested, T def, T max) {
  const T ceiling = max != 0 ? max : def;
  T v = requested != 0 ? requested : def;
  if (ceiling != 0 && (v == 0 || v > ceiling)) v = ceiling;
  return v;
}
}  // namespace

proto::Limits ResolveLimits(const proto::Limits& requested, const proto::Limits& defaults,
                            const proto::Limits& maxima) {
  // Sane first: a NaN compares false with everything, and a conversion of
  // an out-of-range double is undefined behaviour.
  const proto::Limits r = core::SaneLimits(requested);
  const proto::Limits d = core::SaneLimits(defaults);
  const proto::Limits m = core::SaneLimits(maxima);
  proto::Limits l;
  l.set_walltime_s(Pick(r.walltime_s(), d.walltime_s(), m.walltime_s()));
  l.set_idle_s(Pick(r.idle_s(), d.idle_s(), m.idle_s()));
  l.set_cputime_s(Pick(r.cputime_s(), d.cputime_s(), m.cputime_s()));
  l.set_memory_mb(Pick(r.memory_mb(), d.memory_mb(), m.memory_mb()));
  l.set_open_files(Pick(r.open_files(), d.open_files(), m.open_files()));
  l.set_processes(Pick(r.processes(), d.processes(), m.processes()));
  l.set_file_size_mb(Pick(r.file_size_mb(), d.file_size_mb(), m.file_size_mb()));
  l.set_output_bytes(Pick(r.output_bytes(), d.output_bytes(), m.output_bytes()));
  // The deadlines are armed at now + these: 0 would end the session at once.
  if (l.walltime_s() == 0) l.set_walltime_s(core::kMaxLimitSeconds);
  if (l.idle_s() == 0) l.set_idle_s(core::kMaxLimitSeconds);
  return l;
}

}  // namespace salvus::compute
