// One accepted TCP connection: the TLS handshake (with --tls-cert), then
// HTTP requests answered by the shard's HttpHandler until the connection
// closes or upgrades to a WebSocket at /ws (ws_session.h).
#pragma once

#include <atomic>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <cstddef>
#include <utility>

namespace salvus::hub {

class Shard;

// Holds one of the hub's connection slots while a connection is open.
class ConnSlot {
 public:
  explicit ConnSlot(std::atomic<size_t>* count) : count_(count) {}
  ConnSlot(ConnSlot&& o) noexcept : count_(std::exchange(o.count_, nullptr)) {}
  ConnSlot& operator=(ConnSlot&&) = delete;
  ~ConnSlot() {
    if (count_) count_->fetch_sub(1, std::memory_order_relaxed);
  }

 private:
  std::atomic<size_t>* count_;
};

// Serves `sock` on `shard`'s event loop until it closes.
boost::asio::awaitable<void> ServeConnection(Shard& shard, boost::asio::ip::tcp::socket sock,
                                             ConnSlot slot);

}  // namespace salvus::hub
