// `salvus vault`'s network side: accepts hubs only (TLS, then a hello with
// the cluster token, as a compute server does), hands each request to a
// VaultService, and sends the mails it asks for through a Mailer, whose
// answers come back to this loop. One single-threaded io_context.
//
// Caps: connections at once (max_connections, counting those not yet
// authenticated), frames before hello (core::kMaxHelloFrame) and after
// (max_frame), bytes waiting to be sent to a hub (max_queued), mails in
// flight per connection (max_mails_in_flight); the Mailer's queue is
// bounded too. A TLS handshake and a hello each have a deadline.
#pragma once

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <chrono>
#include <memory>
#include <optional>
#include <set>
#include <string>

#include "core/address.h"
#include "vault/mailer.h"
#include "vault/service.h"

namespace salvus::vault {

struct ServerOptions {
  core::HostPort listen{"127.0.0.1", 6100};
  std::string token;
  std::string tls_cert, tls_key;  // both empty: plain TCP (allowed on loopback only)
  std::string port_file;          // written with the bound port once listening
  size_t max_connections = 64;
  size_t max_frame = 16 * 1024;
  size_t max_queued = 1 << 20;
  size_t max_mails_in_flight = 8;
  std::chrono::milliseconds tls_handshake_timeout{10'000};
  std::chrono::milliseconds hello_timeout{10'000};
};

class VaultServer {
 public:
  // `service` and `mailer` must outlive the server. Throws if the TLS files
  // cannot be loaded.
  VaultServer(boost::asio::io_context& io, ServerOptions o, VaultService& service, Mailer& mailer);
  ~VaultServer();

  // Listens, then accepts until Stop().
  boost::asio::awaitable<void> Run();
  void Stop();
  uint16_t port() const { return port_; }

 private:
  struct HubConn;
  void Accept(boost::asio::ip::tcp::socket sock);
  void OnFrame(const std::shared_ptr<HubConn>& hub, std::string_view body);
  void Reply(HubConn& hub, const proto::VaultReply& r);

  boost::asio::io_context& io_;
  ServerOptions opt_;
  VaultService& service_;
  Mailer& mailer_;
  std::optional<boost::asio::ssl::context> tls_;
  boost::asio::ip::tcp::acceptor acceptor_;
  std::set<std::shared_ptr<HubConn>> hubs_;
  uint16_t port_ = 0;
  bool stopping_ = false;
  // Lets mail answers that arrive after the server is gone find out.
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace salvus::vault
