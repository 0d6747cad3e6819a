// A listener answering `GET /metrics` with a registry's figures (Prometheus
// text format) on an operator's address (`--metrics-listen`), apart from the
// port browsers or hubs use. Anything else gets 404; a request is at most
// 8 KiB and 5 s; at most 16 connections at once (more wait in the backlog).
#pragma once

#include <boost/asio.hpp>
#include <cstdint>
#include <string>

#include "core/metrics.h"

namespace salvus::core::metrics {

class MetricsServer {
 public:
  MetricsServer(boost::asio::io_context& io, Registry& registry) : io_(io), registry_(registry) {}
  // Listens on `host_port` ("HOST:PORT", port 0: any); the port, or throws
  // std::runtime_error saying why not.
  uint16_t Start(const std::string& host_port);
  void Stop();

 private:
  boost::asio::awaitable<void> Accept();
  boost::asio::awaitable<void> Serve(boost::asio::ip::tcp::socket s);

  boost::asio::io_context& io_;
  Registry& registry_;
  boost::asio::ip::tcp::acceptor acceptor_{io_};
  int open_ = 0;
};

}  // namespace salvus::core::metrics
