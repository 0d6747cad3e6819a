// `salvus hub`: HTTP + WebSocket for browsers (Boost.Beast, C++20
// coroutines), routing each browser's sessions to compute servers.
//
// One shard per core: each has its own event loop thread, its own listening
// socket on the same port (SO_REUSEPORT, so the kernel spreads connections),
// its own Router and its own connection to every compute server. Shards
// share nothing on the message path. A page that reconnects to resume its
// session may land on another shard than the one holding it: the shards
// share a directory of detached sessions (under a mutex, touched only when a
// session detaches, resumes or expires), and the new shard hands the whole
// WebSocket over to the session's shard, posting its messages there.
#pragma once

#include <boost/asio/ssl.hpp>

#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/address.h"
#include "hub/blob_store.h"
#include "hub/compute_link.h"

namespace salvus::hub {

struct HubOptions {
  core::HostPort listen{"127.0.0.1", 8080};
  std::vector<core::HostPort> compute;
  std::string token;
  std::string web_root;           // built web client (index.html, assets/)
  unsigned threads = 0;           // 0: one per core
  std::string tls_cert, tls_key;  // both set: serve https and wss
  bool compute_tls = false;
  std::string compute_tls_ca;
  size_t max_code = 1 << 20;      // largest cell accepted
  size_t max_message = 4 << 20;   // WebSocket messages above this close the socket (1009)
  std::string port_file;
  std::string db;                       // Store URL (sqlite:PATH, postgresql://...); empty: none
  size_t blob_cache_bytes = 256 << 20;  // blobs kept in memory
  // Origins (scheme://host[:port]) whose pages may open /ws besides the hub's
  // own, e.g. sites embedding cells with /embed.js; "*" allows any.
  std::vector<std::string> allow_origins;
  // How long the sessions of a page whose connection dropped wait for it to
  // reconnect and resume them (0: they end with the connection).
  std::chrono::milliseconds reconnect_grace = std::chrono::seconds(120);
  // Messages per second one WebSocket may send on average (bursts of one
  // second's worth pass at once); faster senders are slowed, not cut. 0: no limit.
  double max_message_rate = 200;
  // Open TCP connections (browsers, pages loading) the hub holds at once;
  // past it a new connection gets 503 and is closed.
  size_t max_connections = 20000;
  // With `db`: learn compute servers from the Store too (services of type
  // compute that run, with their monitors' reports), every
  // `discover_interval`, read through memcached when given. A server whose
  // newest report is older than `stale_after` gets no new sessions.
  std::string memcached;  // HOST:PORT[,...]; empty: none
  std::chrono::milliseconds discover_interval = std::chrono::seconds(2);
  std::chrono::milliseconds stale_after = std::chrono::seconds(20);
};

class SessionDirectory;
class ComputeDiscovery;

class Hub {
 public:
  explicit Hub(HubOptions options);
  ~Hub();
  // Binds, starts the shards; returns the bound port.
  uint16_t Start();
  // Waits until every shard is connected to every --compute server (true),
  // or `timeout` passes (false). Sessions start once this is true.
  bool WaitForCompute(std::chrono::milliseconds timeout);
  // Stops accepting, closes everything, joins the threads.
  void Stop();

 private:
  class Shard;
  HubOptions opt_;
  std::optional<boost::asio::ssl::context> tls_;
  std::unique_ptr<BlobStore> blobs_;
  std::unique_ptr<SessionDirectory> directory_;
  std::unique_ptr<ComputeDiscovery> discovery_;
  std::vector<std::unique_ptr<Shard>> shards_;
  std::atomic<size_t> connections_{0};  // open TCP connections, all shards
};

}  // namespace salvus::hub
