// One shard of the hub (server.h): an event loop thread with its own
// listening socket, Router, links to the compute servers and Store
// connection. It accepts connections (connection.h), dispatches what its
// Router says to do, learns compute servers from discovery reports, and
// hands a WebSocket over to the shard that holds the session it resumes.
//
// Thread-safety: Bind, Run, Stop, AllLinksUp and PostComputeReports may be
// called from any thread; everything else runs on the shard's event loop.
#pragma once

#include <atomic>
#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include "hub/account_api.h"
#include "hub/browser.h"
#include "hub/compute_link.h"
#include "hub/discovery.h"
#include "hub/http_handler.h"
#include "hub/hub_options.h"
#include "hub/permalinks.h"
#include "hub/router.h"

namespace salvus::store {
class Store;
}
namespace salvus::vault {
class VaultLink;
}

namespace salvus::hub {

class AddressQuota;
class BlobStore;
class ConnSlot;
class ProxyFrom;
class SessionDirectory;
class Shard;

// What the shards of one hub share (all owned by the Hub, outliving them).
struct ShardContext {
  const HubOptions* options = nullptr;
  boost::asio::ssl::context* tls = nullptr;  // null: plain http
  BlobStore* blobs = nullptr;
  SessionDirectory* directory = nullptr;
  std::atomic<size_t>* connections = nullptr;       // open TCP connections, all shards
  std::atomic<size_t>* connections_peak = nullptr;  // most open at once since the last trim
  AddressQuota* sessions_per_address = nullptr;     // sessions held per client address
  AddressQuota* connections_per_address = nullptr;  // open connections per client address
  AddressQuota* refused_per_address = nullptr;  // refused connections being answered, per address
  const std::vector<std::unique_ptr<Shard>>* shards = nullptr;  // for hand-overs
  const ProxyFrom* proxies = nullptr;                           // --proxy-from (null: none)
  AccountShared* accounts = nullptr;  // with --db and --vault (null: no accounts)
};

class Shard {
 public:
  // Opens the shard's Store connection (with --db); throws if it cannot.
  Shard(ShardContext context, unsigned index, unsigned shards);
  ~Shard();
  Shard(const Shard&) = delete;
  Shard& operator=(const Shard&) = delete;

  uint16_t Bind(uint16_t port);
  // Starts the links and the accept loop, and the thread.
  void Run();
  // Closes everything and joins the thread.
  void Stop();
  // Whether every --compute link of this shard is up.
  bool AllLinksUp() const {
    return links_up_.load(std::memory_order_relaxed) == static_cast<int>(opt_.compute.size());
  }
  // What the Store says of the compute servers (discovery.h): links to the
  // new ones, their load, and which take new sessions.
  void PostComputeReports(std::vector<ComputeReport> reports);

  // For the connections the shard serves (connection.cc, ws_session.cc).
  boost::asio::io_context& io() { return io_; }
  const HubOptions& options() const { return opt_; }
  boost::asio::ssl::context* tls() const { return ctx_.tls; }
  HttpHandler& http() { return http_; }
  AccountApi& accounts() { return accounts_; }
  // Connection ids are unique in the hub: a handed-over connection keeps
  // its id on the shard it was handed to.
  uint64_t NewConnId() { return next_conn_++ * nshards_ + index_; }
  void AddBrowser(std::shared_ptr<Browser> browser);
  // A message from a browser connected here; `outs`: scratch space, kept
  // by the caller from one message to the next.
  void OnBrowserText(Browser& browser, std::string_view text, std::vector<Out>* outs);
  // A browser connected here is gone: its sessions detach (or end, when it
  // says so: Browser::end_sessions). Once; later calls do nothing.
  void OnBrowserGone(Browser& browser);
  // Browser `conn` connected here is backed up, or no longer (ws_session.h):
  // its sessions pause, or go on, wherever its Router is.
  void OnBrowserBacklog(uint64_t conn, bool backed_up);
  // Expires when the shard is destroyed: cleanup that runs as its event
  // loop is torn down (coroutine frames destroyed with it) checks this.
  std::weak_ptr<void> Lifetime() const { return alive_; }

 private:
  class RemoteBrowser;

  void Dispatch(std::vector<Out>& outs);
  size_t NewLink(const core::HostPort& where);
  void OnComputeReports(const std::vector<ComputeReport>& reports);
  void SendTo(uint64_t conn, std::string text);
  void HandOverResume(uint64_t conn, const proto::Message& m);
  // `charge`: whether the message costs its connection a token (the
  // resume that hands it over paid on its own shard).
  void FromRemote(uint64_t conn, const std::string& text, bool charge = true);
  void BrowserClosed(uint64_t conn, bool keep_sessions);
  // Charges the connection served here for a message a Router handled.
  void ChargeBrowser(uint64_t conn);
  void StoreBlob(proto::Blob&& b);
  void SetConnBackedUp(uint64_t conn, bool backed_up);
  boost::asio::awaitable<void> AcceptLoop();
  // A connection from a --proxy-from peer: its PROXY header, then Admit.
  // `waiting`: one of the hub's connections, held while the header comes.
  boost::asio::awaitable<void> FromProxy(boost::asio::ip::tcp::socket sock,
                                         boost::asio::ip::address peer, ConnSlot waiting);
  // Serves a connection from `client` ("": unknown) within the limits.
  void Admit(boost::asio::ip::tcp::socket sock, std::string client);
  boost::asio::awaitable<void> ExpireLoop();
  // Gives memory freed by closed connections back to the system.
  boost::asio::awaitable<void> TrimLoop();
  // A connection past a limit (`per_address`: its address's, `max`).
  void Refuse(boost::asio::ip::tcp::socket sock, const std::string& client, bool per_address,
              size_t max);

  const ShardContext ctx_;
  const HubOptions& opt_;
  const unsigned index_;
  const unsigned nshards_;
  std::shared_ptr<int> alive_ = std::make_shared<int>(0);
  boost::asio::io_context io_{1};
  boost::asio::ip::tcp::acceptor acceptor_;
  Router router_;
  std::unique_ptr<store::Store> store_;  // null without --db
  HttpHandler http_;
  Permalinks permalinks_;
  std::unique_ptr<vault::VaultLink> vault_;  // null without --vault
  AccountApi accounts_;
  std::vector<std::unique_ptr<ComputeLink>> links_;
  std::unordered_map<uint64_t, std::shared_ptr<Browser>> conns_;
  std::atomic<int> links_up_{0};  // --compute links up (read by WaitForCompute)
  std::unordered_map<std::string, size_t> link_index_;  // "host:port" -> live link
  std::chrono::steady_clock::time_point last_full_warning_{};
  std::atomic<size_t> refused_{0};  // refused connections being answered (ServeRefused)
  uint64_t next_conn_ = 1;
  std::thread thread_;
};

}  // namespace salvus::hub
