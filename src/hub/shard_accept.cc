// How a shard takes connections in: its accept loop, the PROXY header of
// a --proxy-from peer (proxy_accept.h), and the hub's limits (connections
// in all, per client address) before a connection is served; past them a
// short answer (Refuse).
#include <spdlog/spdlog.h>

#include "core/descriptors.h"
#include "core/spawn.h"
#include "hub/client_address.h"
#include "hub/connection.h"
#include "hub/hub_metrics.h"
#include "hub/proxy_accept.h"
#include "hub/proxy_from.h"
#include "hub/shard.h"

namespace salvus::hub {

namespace asio = boost::asio;
using asio::ip::tcp;

asio::awaitable<void> Shard::AcceptLoop() {
  for (;;) {
    boost::system::error_code ec;
    tcp::socket sock =
        co_await acceptor_.async_accept(asio::redirect_error(asio::use_awaitable, ec));
    if (ec) {
      if (!acceptor_.is_open()) co_return;
      continue;
    }
    core::SetCloseOnExec(sock.native_handle());  // asio accepts without it
    const auto peer = sock.remote_endpoint(ec);
    if (!ec && ctx_.proxies != nullptr && ctx_.proxies->Contains(peer.address())) {
      // Its wait for the header holds one of the hub's connections.
      std::atomic<size_t>& count = *ctx_.connections;
      if (count.fetch_add(1, std::memory_order_relaxed) >= opt_.max_connections) {
        count.fetch_sub(1, std::memory_order_relaxed);
        spdlog::warn("proxy {}: connection limit ({}) reached: connection closed",
                     peer.address().to_string(), opt_.max_connections);
        continue;
      }
      core::Spawn(io_, FromProxy(std::move(sock), peer.address(), ConnSlot(&count)),
                  "hub PROXY header");
      continue;
    }
    Admit(std::move(sock), ec ? std::string() : ClientKey(peer.address()));
  }
}

// A --proxy-from peer: the client is the one its PROXY header names.
asio::awaitable<void> Shard::FromProxy(tcp::socket sock, asio::ip::address peer, ConnSlot waiting) {
  auto client = co_await ReadProxyHeader(sock, opt_.proxy_header_timeout);
  { ConnSlot done = std::move(waiting); }  // Admit counts the connection again
  if (!client) {
    spdlog::warn("proxy {}: {}; connection closed", peer.to_string(), client.error());
    co_return;
  }
  Admit(std::move(sock), ClientKey(client->value_or(peer)));
}

void Shard::Admit(tcp::socket sock, std::string client) {
  std::atomic<size_t>& count = *ctx_.connections;
  if (count.fetch_add(1, std::memory_order_relaxed) >= opt_.max_connections) {
    count.fetch_sub(1, std::memory_order_relaxed);
    Refuse(std::move(sock), client, false, opt_.max_connections);
    return;
  }
  AddressQuota* per_address = client.empty() ? nullptr : ctx_.connections_per_address;
  if (per_address != nullptr && !per_address->Take(client)) {
    count.fetch_sub(1, std::memory_order_relaxed);
    Refuse(std::move(sock), client, true, per_address->max());
    return;
  }
  ConnSlot slot(&count, per_address, std::move(client));
  const size_t open = count.load(std::memory_order_relaxed);
  for (size_t peak = ctx_.connections_peak->load(std::memory_order_relaxed);
       open > peak && !ctx_.connections_peak->compare_exchange_weak(peak, open);) {
  }
  boost::system::error_code ec;
  sock.set_option(tcp::no_delay(true), ec);
  core::Spawn(io_, ServeConnection(*this, std::move(sock), std::move(slot)), "hub connection");
}

// Past --max-connections or --max-connections-per-address: the request is
// read and answered (/healthz with ok), a few such connections at a time
// per shard and per address; past those, a plain-text 503 (a TLS client
// just sees the connection close), sent without waiting; the socket
// closes at once.
void Shard::Refuse(tcp::socket sock, const std::string& client, bool per_address, size_t max) {
  (per_address ? Metrics().refused_per_address : Metrics().refused_full).Add();
  const auto now = std::chrono::steady_clock::now();
  if (now - last_full_warning_ > opt_.full_warning_interval) {
    last_full_warning_ = now;
    if (per_address) {
      spdlog::warn("{} holds {} connections (--max-connections-per-address): refusing more", client,
                   max);
    } else {
      spdlog::warn("connection limit ({}) reached: refusing new connections", max);
    }
  }
  if (refused_.fetch_add(1, std::memory_order_relaxed) < opt_.refused_slots) {
    AddressQuota* q = client.empty() ? nullptr : ctx_.refused_per_address;
    if (q == nullptr || q->Take(client)) {
      ConnSlot slot(&refused_, q, client);
      core::Spawn(io_, ServeRefused(*this, std::move(sock), std::move(slot), per_address, max),
                  "hub refused connection");
      return;
    }
  }
  refused_.fetch_sub(1, std::memory_order_relaxed);
  if (!ctx_.tls) {
    const std::string res = ConnectionLimitResponse(max, per_address);
    boost::system::error_code ec;
    sock.non_blocking(true, ec);
    (void)sock.write_some(asio::buffer(res), ec);  // fits a fresh socket's buffer
    sock.shutdown(tcp::socket::shutdown_both, ec);
  }
  boost::system::error_code ec;
  sock.close(ec);
}

}  // namespace salvus::hub
