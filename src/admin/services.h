// Starting, stopping and checking one service of a cluster, and its
// monitor. Each start is idempotent: a service whose process lives is left
// running (its configuration re-rendered; haproxy reloaded when it changed).
#pragma once

#include <expected>
#include <iosfwd>
#include <string>

#include "admin/cluster.h"
#include "admin/files.h"
#include "admin/process.h"

namespace salvus::admin {

struct Context {
  const Cluster& cluster;
  StatePaths paths;
  std::string salvus;  // this binary
  std::ostream& out;   // progress, one line per step
  std::chrono::seconds start_timeout{180};
};

// Starts `s` (if it is not running), waits until it is healthy, then starts
// its `salvus monitor`.
std::expected<void, std::string> StartService(const Context& ctx, const Service& s);

// Stops its monitor and it; removes their pidfiles.
std::expected<void, std::string> StopService(const Context& ctx, const Service& s);

bool Healthy(const Context& ctx, const Service& s);

// The options that run a process on the service's host (its namespace).
ProcessOptions On(const Context& ctx, const Service& s);

}  // namespace salvus::admin
