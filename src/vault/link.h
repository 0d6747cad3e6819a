// A hub's client of the vault (what a hub links to call it): one
// connection, opened on the first call and again on the first call after it
// dropped: TLS with the vault's certificate checked before anything is
// sent, then hello with the cluster token. Calls carry ids chosen here;
// replies are matched to them, so calls may overlap. A call fails (with a
// reason, never an address) when the vault cannot be reached, refuses the
// token, drops the connection or does not answer within `timeout`.
//
// Thread-safety: none; one link per event loop (a hub has one per shard).
#pragma once

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <chrono>
#include <expected>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "core/address.h"
#include "core/conn.h"
#include "core/tls.h"
#include "proto/salvus.pb.h"

namespace salvus::vault {

struct VaultLinkOptions {
  core::HostPort address;
  std::string token;
  std::string client = "hub";  // the hello's free text, for the vault's log
  bool tls = true;             // false: plain TCP (a vault on loopback)
  core::ClientTlsOptions tls_options;
  std::chrono::milliseconds timeout{10'000};  // connecting + hello, and each call
};

class VaultLink {
 public:
  using Result = std::expected<proto::VaultReply, std::string>;

  // Throws if the TLS CA file cannot be read.
  VaultLink(boost::asio::any_io_executor ex, VaultLinkOptions o);
  // REQUIRES: no Call in flight (they refer to the link until they return).
  ~VaultLink();
  VaultLink(const VaultLink&) = delete;
  VaultLink& operator=(const VaultLink&) = delete;

  // `request`'s id is replaced. The reply may be an Error (the vault's
  // answer); the unexpected value says why there is no answer.
  boost::asio::awaitable<Result> Call(proto::VaultRequest request);
  // Drops the connection; calls in flight fail.
  void Close();
  bool connected() const { return conn_ != nullptr && up_; }

 private:
  struct Pending {
    std::optional<Result> result;
    boost::asio::steady_timer wake;
    explicit Pending(boost::asio::any_io_executor ex) : wake(ex) {}
  };
  boost::asio::awaitable<std::optional<std::string>> Connect();
  // Waits (at most timeout) for the reply to `id`, which was sent.
  boost::asio::awaitable<Result> Await(uint64_t id);
  void OnFrame(std::string_view body);
  void FailAll(const std::string& why);

  boost::asio::any_io_executor ex_;
  VaultLinkOptions opt_;
  std::optional<boost::asio::ssl::context> ssl_;
  std::shared_ptr<core::Conn> conn_;
  bool up_ = false;
  bool connecting_ = false;
  uint64_t next_id_ = 1;
  std::map<uint64_t, std::shared_ptr<Pending>> pending_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace salvus::vault
