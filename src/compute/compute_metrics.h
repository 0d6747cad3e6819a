// What a compute server tells Prometheus (core/metrics.h): sessions, the
// pool, forks and how long a worker takes to be ready, starts refused,
// workers' ends by cause. Updated on the server's event loop, read by scrapes.
#pragma once

#include <string>

#include "core/metrics.h"

namespace salvus::compute {

struct ComputeMetrics {
  using R = core::metrics::Registry;
  explicit ComputeMetrics(R &r = core::metrics::Default())
      : sessions(r.gauge("salvus_compute_sessions", "Sessions running or starting.")),
        waiting_starts(
            r.gauge("salvus_compute_waiting_starts", "Session starts waiting for a worker.")),
        pool_ready(r.gauge("salvus_compute_pool_ready", "Workers ready for a session.")),
        pool_spawning(r.gauge("salvus_compute_pool_spawning", "Workers being forked and set up.")),
        pool_target(r.gauge("salvus_compute_pool_target",
                            "Ready workers the pool aims at (grows under bursts).")),
        sessions_started(r.counter("salvus_compute_sessions_started_total",
                                   "Sessions started (handed a worker).")),
        starts_refused(r.counter("salvus_compute_starts_refused_total",
                                 "Session starts refused: the server was full.")),
        forks(r.counter("salvus_compute_forks_total", "Workers forked for the pool.",
                        "urgent=\"false\"")),
        urgent_forks(r.counter("salvus_compute_forks_total", "Workers forked for the pool.",
                               "urgent=\"true\"")),
        worker_ready_seconds(r.histogram("salvus_compute_worker_ready_seconds",
                                         "From the fork request to the worker's ready.",
                                         core::metrics::LatencyBuckets())),
        worker_failures(r.counter("salvus_compute_worker_start_failures_total",
                                  "Workers that could not start.")),
        sessions_ended(
            r.counter("salvus_compute_sessions_ended_total", "Sessions that ended (any reason).")) {
    for (int c = 0; c < kCauses; ++c) {
      worker_exits[c] =
          &r.counter("salvus_compute_worker_exits_total", "Worker processes that ended, by cause.",
                     std::string("cause=\"") + kCauseNames[c] + "\"");
    }
  }

  // How a worker's process ended: the server ended it (its session ended,
  // a deadline, a stop), out of memory in its cgroup, its CPU time limit,
  // another signal, an exit with an error code, a clean exit; or its socket
  // closed and the launcher did not say how within the grace.
  enum Cause {
    kEndedByServer,
    kOutOfMemory,
    kCpuTime,
    kSignal,
    kExitError,
    kExitOk,
    kUnreported,
    kCauses
  };
  static constexpr const char *kCauseNames[kCauses] = {
      "ended_by_server", "out_of_memory", "cpu_time",  "signal",
      "exit_error",      "exit_ok",       "unreported"};
  core::metrics::Counter *worker_exits[kCauses];

  core::metrics::Gauge &sessions, &waiting_starts, &pool_ready, &pool_spawning, &pool_target;
  core::metrics::Counter &sessions_started, &starts_refused, &forks, &urgent_forks;
  core::metrics::Histogram &worker_ready_seconds;
  core::metrics::Counter &worker_failures, &sessions_ended;
};

}  // namespace salvus::compute
