// The hub's connection to one compute server: connects (TLS optional, the
// server's certificate verified), says hello with the cluster token, reconnects with backoff when
// the connection drops. Runs on one shard's event loop; not thread-safe.
#pragma once

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "core/address.h"
#include "core/conn.h"
#include "proto/salvus.pb.h"

namespace salvus::hub {

struct LinkOptions {
  core::HostPort address;
  std::string token;
  bool tls = false;
  // With tls: the compute server's certificate must chain to this CA (PEM;
  // "": the system's trusted store) and name address.host; the hello (the
  // cluster token) is sent only then. tls_insecure checks nothing.
  std::string tls_ca;
  bool tls_insecure = false;
  // Waits between attempts to (re)connect: from backoff_min, doubling up to
  // backoff_max; back to backoff_min once a connection was up.
  std::chrono::milliseconds backoff_min{100};
  std::chrono::milliseconds backoff_max{5000};
};

class ComputeLink {
 public:
  struct Handlers {
    std::function<void()> on_up;
    std::function<void(const proto::Message&)> on_message;
    std::function<void(const std::string& why)> on_down;
  };
  ComputeLink(boost::asio::io_context& io, LinkOptions options, Handlers handlers);

  void Start();
  void Stop();
  // Dropped (false) while the link is down.
  bool Send(const proto::Message& m);
  bool up() const { return up_; }
  const LinkOptions& options() const { return opt_; }

 private:
  boost::asio::awaitable<void> Run();

  boost::asio::io_context& io_;
  LinkOptions opt_;
  Handlers handlers_;
  std::shared_ptr<core::Conn> conn_;
  std::optional<boost::asio::ssl::context> ssl_;
  bool up_ = false;
  bool stopped_ = false;
  boost::asio::steady_timer wait_;
};

}  // namespace salvus::hub
