// How a hub learns its compute servers from the Store (DESIGN.md, "Data"):
// the running services of type compute, each with its newest status row,
// written by its `salvus monitor` (whose `extra` holds the compute server's
// ComputeStats). Read through memcached: the running-services list is
// cached under salvus:services (deleted by monitors when a service starts
// or stops) and each newest status under salvus:status:ID (written by the
// monitor at every report); on a miss the database answers and the list is
// cached for the next reader.
//
// ComputeReports is pure. ComputeDiscovery runs the reads on a thread of
// its own (libmemcached blocks), so no hub event loop ever waits for them.
#pragma once

#include <boost/asio.hpp>
#include <chrono>
#include <cstdint>
#include <expected>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "proto/salvus.pb.h"
#include "store/store.h"

namespace salvus::registry {
class Cache;
}

namespace salvus::hub {

struct ComputeReport {
  std::string host;
  uint16_t port = 0;
  int64_t service_id = 0;
  bool has_status = false;
  int64_t time_ms = 0;  // of the newest status
  bool fresh = false;   // that status is at most stale_after old
  double load1 = 0;
  bool has_stats = false;  // the status's extra held ComputeStats
  proto::ComputeStats stats;
};

// The compute servers among `running`, with what their newest status says.
std::vector<ComputeReport> ComputeReports(const std::vector<store::ServiceStatus>& running,
                                          int64_t now_ms, int64_t stale_after_ms);

class ComputeDiscovery {
 public:
  struct Options {
    std::string db;         // Store URL
    std::string memcached;  // HOST:PORT[,...]; empty: none
    std::chrono::milliseconds interval{2000};
    std::chrono::milliseconds stale_after{20000};
  };
  using Deliver = std::function<void(std::vector<ComputeReport>)>;

  // `deliver` runs on the discovery thread after every successful read.
  ComputeDiscovery(Options options, Deliver deliver);
  ~ComputeDiscovery();
  // Opens the database and the cache and starts the thread.
  std::expected<void, std::string> Start();
  void Stop();

 private:
  boost::asio::awaitable<void> Loop();

  Options opt_;
  Deliver deliver_;
  boost::asio::io_context io_{1};
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<registry::Cache> cache_;
  std::thread thread_;
};

}  // namespace salvus::hub
