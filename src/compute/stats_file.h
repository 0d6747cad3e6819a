// `salvus compute --stats-file`: the compute server's load as a small JSON
// file (salvus.proto's ComputeStats: {"sessions":3,"maxSessions":32,"cpus":8})
// kept current for its monitor, which copies it into every status row; hubs
// place new sessions by it. Rewritten (atomically: a temporary file renamed
// over it) within `period` of a change, never otherwise.
#pragma once

#include <boost/asio.hpp>
#include <chrono>
#include <functional>
#include <string>

#include "proto/salvus.pb.h"

namespace salvus::compute {

std::string StatsJson(const proto::ComputeStats& s);

class StatsFile {
 public:
  StatsFile(boost::asio::io_context& io, std::string path,
            std::function<proto::ComputeStats()> read,
            std::chrono::milliseconds period = std::chrono::milliseconds(500));
  // Writes the file now and then keeps it current until the loop stops.
  void Start();

 private:
  void Tick();
  bool Write(const std::string& json);

  std::string path_;
  std::function<proto::ComputeStats()> read_;
  std::chrono::milliseconds period_;
  boost::asio::steady_timer timer_;
  std::string written_;  // what the file holds
};

}  // namespace salvus::compute
