// `salvus hub`: HTTP + WebSocket for browsers (Boost.Beast, C++20
// coroutines), routing each browser's sessions to compute servers.
//
// One shard per core (shard.h): each has its own event loop thread, its own
// listening socket on the same port (SO_REUSEPORT, so the kernel spreads
// connections), its own Router and its own connection to every compute
// server. Shards share nothing on the message path. A page that reconnects
// to resume its session may land on another shard than the one holding it:
// the shards share a directory of sessions (session_directory.h), and the
// new shard hands the whole WebSocket over to the session's shard, posting
// its messages there.
//
// The Hub starts it all (the database's migration, the shards, discovery
// of compute servers) and stops it in reverse.
#pragma once

#include <atomic>
#include <boost/asio/ssl.hpp>
#include <chrono>
#include <memory>
#include <optional>
#include <thread>
#include <vector>

#include "core/metrics_server.h"
#include "hub/blob_store.h"
#include "hub/hub_options.h"
#include "hub/proxy_from.h"

namespace salvus::hub {

struct AccountShared;
class AddressQuota;
class SessionDirectory;
class ComputeDiscovery;
class Shard;

class Hub {
 public:
  explicit Hub(HubOptions options);
  ~Hub();
  // Binds, starts the shards; returns the bound port. Throws with the
  // reason when it cannot (a bad option among them).
  uint16_t Start();
  // Waits until every shard is connected to every --compute server (true),
  // or `timeout` passes (false). Sessions start once this is true.
  bool WaitForCompute(std::chrono::milliseconds timeout);
  // Stops accepting, closes everything, joins the threads.
  void Stop();

 private:
  // With --vault: the password pool and the sign-in limiters. Throws.
  void StartAccounts();

  HubOptions opt_;
  ProxyFrom proxies_;
  std::optional<boost::asio::ssl::context> tls_;
  std::unique_ptr<BlobStore> blobs_;
  std::unique_ptr<SessionDirectory> directory_;
  std::unique_ptr<AddressQuota> sessions_per_address_;
  std::unique_ptr<AddressQuota> connections_per_address_;
  std::unique_ptr<AddressQuota> refused_per_address_;
  std::unique_ptr<ComputeDiscovery> discovery_;
  std::unique_ptr<AccountShared> accounts_;  // with --vault
  std::vector<std::unique_ptr<Shard>> shards_;
  std::atomic<size_t> connections_{0};  // open TCP connections, all shards
  std::atomic<size_t> connections_peak_{0};
  // --metrics-listen: a thread of its own, apart from the shards.
  std::unique_ptr<boost::asio::io_context> metrics_io_;
  std::unique_ptr<core::metrics::MetricsServer> metrics_;
  std::thread metrics_thread_;
};

}  // namespace salvus::hub
