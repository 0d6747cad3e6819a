// A blocking client of `salvus compute`, for `salvus exec`, benchmarks and
// tests: connect, say hello with the token, then exchange Messages.
// Not thread-safe; one request stream per client.
#pragma once

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <expected>
#include <functional>
#include <initializer_list>
#include <memory>
#include <optional>
#include <string>

#include "core/signal_pump.h"
#include "proto/salvus.pb.h"

namespace salvus::compute {

struct ClientOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 0;
  std::string token;
  bool tls = false;
  // With tls the server's certificate must chain to this CA file ("": the
  // system's trusted CAs) and name `host`, or the hello (the token) is not
  // sent; tls_insecure checks nothing.
  std::string tls_ca;
  bool tls_insecure = false;
};

class ComputeClient {
 public:
  static std::expected<std::unique_ptr<ComputeClient>, std::string> Connect(const ClientOptions& o);
  ~ComputeClient();

  bool Send(const proto::Message& m);
  // Next message from the server; an error string on EOF or I/O failure.
  std::expected<proto::Message, std::string> Receive();

  // Sends `m` with a fresh id; returns the id.
  uint64_t Request(proto::Message m);

  // Convenience: start a session (returns its id or the server's error text).
  std::expected<std::string, std::string> StartSession(const std::string& kernel,
                                                       const proto::Limits& limits = {});

  struct Result {
    proto::Done::Status status = proto::Done::OK;
    std::string out, err, text;
  };
  // Runs code and collects its output; `on_output` (optional) sees each
  // Output as it arrives. Messages for other requests are ignored.
  std::expected<Result, std::string> Execute(
      const std::string& session, const std::string& code,
      const std::function<void(const proto::Output&)>& on_output = nullptr);

  // Send an interrupt / terminate for `session` without waiting for the
  // reply (Execute skips replies to other requests); return its id.
  uint64_t Interrupt(const std::string& session);
  uint64_t Terminate(const std::string& session);

  // From now on, while a call waits for the server, one of `signals` calls
  // `on_signal(sig)` (outside any asio handler: it may Send, e.g. Interrupt).
  // When it returns false the waiting call fails with kInterruptedBySignal
  // and the connection is closed. Without this, I/O simply blocks.
  void HandleSignals(std::initializer_list<int> signals, std::function<bool(int)> on_signal);
  static constexpr const char* kInterruptedBySignal = "stopped by a signal";

 private:
  ComputeClient();
  bool WriteAll(const std::string& data);
  bool ReadExactly(char* p, size_t n);

  // Waits for an asynchronous operation started with `done` as its flag,
  // handing signals over; false if the handler asked to stop.
  bool Wait(const bool& done);
  void CloseSocket();

  boost::asio::io_context io_;
  core::SignalPump pump_{io_};
  bool stopped_ = false;  // a signal handler stopped a call: the connection is closed
  std::optional<boost::asio::ssl::context> ctx_;
  std::unique_ptr<boost::asio::ip::tcp::socket> plain_;
  std::unique_ptr<boost::asio::ssl::stream<boost::asio::ip::tcp::socket>> tls_;
  uint64_t next_id_ = 1;
  std::string buf_;
};

}  // namespace salvus::compute
