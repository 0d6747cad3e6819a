// Test helper: a blocking hub-side client of `salvus vault` (TLS checked
// against a CA, length-prefixed VaultRequest/VaultReply frames), and the
// raw bytes a hostile client might send instead.
#pragma once

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "proto/salvus.pb.h"

namespace salvus::testutil {

class VaultClient {
 public:
  // Connects to 127.0.0.1:port and completes the TLS handshake (the
  // certificate must chain to `ca_file` and name 127.0.0.1). Reads time out
  // after 20 s, so a test never hangs. Throws on failure.
  VaultClient(uint16_t port, const std::string& ca_file);

  void Send(const proto::VaultRequest& r);
  // Any bytes, as they are (a hostile client).
  void SendRaw(const std::string& bytes);
  // The next reply; nullopt when the vault closed the connection.
  std::optional<proto::VaultReply> Receive();
  // Send, then Receive.
  std::optional<proto::VaultReply> Ask(const proto::VaultRequest& r);
  // Hello with `token`; true if answered hello_ok.
  bool Hello(const std::string& token);

 private:
  boost::asio::io_context io_;
  boost::asio::ssl::context ctx_;
  std::unique_ptr<boost::asio::ssl::stream<boost::asio::ip::tcp::socket>> s_;
};

}  // namespace salvus::testutil
