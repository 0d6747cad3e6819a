// `salvus hub`: HTTP + WebSocket for browsers (Boost.Beast, C++20
// coroutines), routing each browser's sessions to compute servers.
//
// One shard per core: each has its own event loop thread, its own listening
// socket on the same port (SO_REUSEPORT, so the kernel spreads connections),
// its own Router and its own connection to every compute server. Shards
// share nothing, so there are no locks on the message path.
#pragma once

#include <boost/asio/ssl.hpp>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/address.h"
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
};

class Hub {
 public:
  explicit Hub(HubOptions options);
  ~Hub();
  // Binds, starts the shards; returns the bound port.
  uint16_t Start();
  // Stops accepting, closes everything, joins the threads.
  void Stop();

 private:
  class Shard;
  HubOptions opt_;
  std::optional<boost::asio::ssl::context> tls_;
  std::vector<std::unique_ptr<Shard>> shards_;
};

}  // namespace salvus::hub
