// A blocking client of a hub's browser protocol (docs/protocol.md): a
// WebSocket at ws[s]://HOST:PORT/ws whose text messages are the proto3 JSON
// mapping of salvus.proto's Message. For `salvus exec --hub`, tests and
// tools; it runs a HubSocket (hub_socket.h) on a private loop. Not
// thread-safe; one thread drives it.
//
// Every call that waits for the hub can be broken into by signals (see
// HandleSignals): the wait runs an asio loop, so a Ctrl-C is noticed at once
// and the handler may still send (e.g. an interrupt) on the same connection.
#pragma once

#include <expected>
#include <functional>
#include <initializer_list>
#include <memory>
#include <string>

#include "client/hub_url.h"
#include "proto/salvus.pb.h"

namespace salvus::client {

struct HubClientOptions {
  std::string url;     // ws:// or wss://
  bool tls = false;    // use TLS even for ws://
  std::string tls_ca;  // verify the hub's certificate (and name) against this CA file
  int connect_timeout_s = 30;
};

class HubClient {
 public:
  static std::expected<std::unique_ptr<HubClient>, std::string> Connect(const HubClientOptions& o);
  ~HubClient();

  const HubUrl& url() const { return url_; }

  // While a call below waits, one of `signals` calls `on_signal(sig)` (from
  // that call, outside any asio handler: it may Send). When it returns
  // false the waiting call fails with kInterruptedBySignal. Install before
  // the signals can arrive; they are handled for the client's lifetime.
  void HandleSignals(std::initializer_list<int> signals, std::function<bool(int)> on_signal);
  static constexpr const char* kInterruptedBySignal = "stopped by a signal";

  // Sends one message as JSON text.
  std::expected<void, std::string> Send(const proto::Message& m);
  // Sends `m` with a fresh id; returns the id (0 if sending failed).
  uint64_t Request(proto::Message m);
  // Next message from the hub; an error string when the connection ends.
  std::expected<proto::Message, std::string> Receive();

  // Starts a session; its id, or the hub's error text.
  std::expected<std::string, std::string> StartSession(const std::string& kernel = "");

  struct Result {
    proto::Done::Status status = proto::Done::OK;
    std::string out, err, text;
  };
  // Runs code; `on_message` (optional) sees each output and display of the
  // request as it arrives. Fails on an error reply or a lost connection.
  std::expected<Result, std::string> Execute(
      const std::string& session, const std::string& code,
      const std::function<void(const proto::Message&)>& on_message = nullptr);

  // Sends interrupt / terminate for `session` without waiting for the reply
  // (Execute skips replies to other requests).
  uint64_t Interrupt(const std::string& session);
  uint64_t Terminate(const std::string& session);
  // Closes the WebSocket politely (bounded wait).
  void Close();

 private:
  struct Impl;
  HubClient();

  HubUrl url_;
  std::unique_ptr<Impl> impl_;
  uint64_t next_id_ = 1;
};

}  // namespace salvus::client
