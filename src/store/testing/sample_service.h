// A sample running service with a status row, for tests of code that
// encodes or shows them: every field set, names with tabs, newlines,
// backslashes and UTF-8, an IPv6 address.
#pragma once

#include "store/store.h"

namespace salvus::store {

inline ServiceStatus SampleServiceStatus() {
  ServiceStatus ss;
  ss.service.id = 12;
  ss.service.type = "compute";
  ss.service.name = "c1\twith\ttabs\nand\\newlines";
  ss.service.site = "site é";
  ss.service.address = "::1";
  ss.service.port = 6000;
  ss.service.user = "salvus";
  ss.service.pid = 4242;
  ss.service.monitor_pid = 4243;
  ss.service.start_ms = 1'700'000'000'000;
  ss.service.running = true;
  StatusRow st;
  st.service_id = 12;
  st.time_ms = 1'700'000'060'000;
  st.load1 = 0.1;
  st.load5 = 0.25;
  st.load15 = 1.0 / 3;
  st.pcpu = 12.5;
  st.pmem = 1.75;
  st.cputime_s = 3.14159;
  st.walltime_s = 60.5;
  st.vsize_kb = 1 << 20;
  st.rss_kb = 204800;
  st.extra = "{\"sessions\":3,\n\"max\":32}";
  ss.latest = st;
  return ss;
}

}  // namespace salvus::store
