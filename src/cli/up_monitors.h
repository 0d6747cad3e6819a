// `salvus up --monitor`: monitors (src/monitor) of up's own hub and compute
// server, in this process, so that the operator's page (/admin) and
// `salvus status` have services, status rows and log lines to show on one
// machine. The hub's status rows carry what its metrics say of cells (how
// many ran, their summed time to done), for the page's cells/s and latency;
// the compute server's carry its sessions (its --stats-file).
//
// A compute server that up restarts is watched again once its new pid is
// in its pidfile (the service keeps its id). Start once; Stop (or the
// destructor) ends the monitors and marks both services stopped (up stops
// them right after).
#pragma once

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <expected>
#include <memory>
#include <string>
#include <thread>

namespace salvus::cli {

struct UpMonitorOptions {
  std::string db;         // the hub's Store URL
  std::string memcached;  // optional
  std::string data;       // up's data folder: pid, stats and log files
  std::string hub_address;
  int hub_port = 0;
  std::string compute_address;
  int compute_port = 0;
  std::chrono::milliseconds interval{6000};
};

// Where up's compute child writes its pid, and its stats, for the monitor.
std::string ComputePidFile(const std::string& data);
std::string ComputeStatsFile(const std::string& data);

class UpMonitors {
 public:
  explicit UpMonitors(UpMonitorOptions opt);
  ~UpMonitors();
  UpMonitors(const UpMonitors&) = delete;
  UpMonitors& operator=(const UpMonitors&) = delete;

  // Opens the Store and starts the monitors on a thread of their own.
  std::expected<void, std::string> Start();
  void Stop();

  struct State;  // what runs on the monitors' thread (up_monitors.cc)

 private:
  UpMonitorOptions opt_;
  std::unique_ptr<State> state_;
  std::thread thread_;
};

}  // namespace salvus::cli
