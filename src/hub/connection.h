// One accepted TCP connection: the TLS handshake (with --tls-cert), then
// HTTP requests answered by the shard's HttpHandler until the connection
// closes or upgrades to a WebSocket at /ws (ws_session.h).
#pragma once

#include <atomic>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <cstddef>
#include <string>
#include <utility>

#include "hub/address_quota.h"

namespace salvus::hub {

class Shard;

// Holds one of the hub's connection slots (of `count`), and one of its
// client address's (of `per_address`, null: none), while a connection is
// open.
class ConnSlot {
 public:
  ConnSlot(std::atomic<size_t>* count, AddressQuota* per_address = nullptr,
           std::string address = {})
      : count_(count), per_address_(per_address), address_(std::move(address)) {}
  ConnSlot(ConnSlot&& o) noexcept
      : count_(std::exchange(o.count_, nullptr)),
        per_address_(std::exchange(o.per_address_, nullptr)),
        address_(std::move(o.address_)) {}
  ConnSlot& operator=(ConnSlot&&) = delete;
  // The client's address (client_address.h; through a proxy, the one its
  // PROXY header named), "" when unknown.
  const std::string& address() const { return address_; }
  ~ConnSlot() {
    if (count_) count_->fetch_sub(1, std::memory_order_relaxed);
    if (per_address_) per_address_->Give(address_);
  }

 private:
  std::atomic<size_t>* count_;
  AddressQuota* per_address_;
  std::string address_;
};

// Serves `sock` on `shard`'s event loop until it closes.
boost::asio::awaitable<void> ServeConnection(Shard& shard, boost::asio::ip::tcp::socket sock,
                                             ConnSlot slot);

// A connection past a limit (`per_address`: its address's, else the hub's;
// `max`: that limit): one request is read within
// HubOptions::refused_read_timeout and answered by RefusedResponse (so
// /healthz answers), then it closes. `slot`: one of the few such
// connections a shard serves at once.
boost::asio::awaitable<void> ServeRefused(Shard& shard, boost::asio::ip::tcp::socket sock,
                                          ConnSlot slot, bool per_address, size_t max);

}  // namespace salvus::hub
