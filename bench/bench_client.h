// What the hub benchmarks share: `salvus up` started for the run, a browser
// client over the JSON WebSocket protocol, and percentiles.
#pragma once

#include <google/protobuf/util/json_util.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "client/hub_socket.h"
#include "proto/salvus.pb.h"

namespace salvus::bench {

namespace asio = boost::asio;
using asio::ip::tcp;
using Clock = std::chrono::steady_clock;
using Ws = client::HubSocket;
using proto::Message;

inline double Ms(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

// {"n": .., "p50_ms": .., "p99_ms": .., "max_ms": ..} of `v` (not empty).
inline std::string Pct(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  auto p = [&](double q) { return v[std::min(v.size() - 1, static_cast<size_t>(q * v.size()))]; };
  char buf[200];
  std::snprintf(buf, sizeof buf,
                "{\"n\": %zu, \"p50_ms\": %.4f, \"p99_ms\": %.4f, \"max_ms\": %.4f}", v.size(),
                p(0.5), p(0.99), v.back());
  return buf;
}

inline long RssKb(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  }
  return -1;
}

// `salvus up` in a fresh data folder, with `extra` arguments; stopped (and
// its folder removed) on destruction. Throws if the hub does not come up.
class Up {
 public:
  Up(const std::string& binary, std::vector<std::string> extra) {
    char tmpl[] = "/tmp/salvus-bench-XXXXXX";
    data_ = mkdtemp(tmpl);
    std::filesystem::permissions(data_, std::filesystem::perms(0711));
    std::vector<std::string> args = {binary, "up", "--port", "0", "--data", data_};
    args.insert(args.end(), extra.begin(), extra.end());
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    if (posix_spawn(&pid_, binary.c_str(), nullptr, nullptr, argv.data(), environ) != 0) {
      throw std::runtime_error("cannot run " + binary);
    }
    for (int i = 0; i < 1800 && port_ == 0; ++i) {
      std::ifstream in(data_ + "/hub.port");
      unsigned p = 0;
      if (in >> p) port_ = static_cast<uint16_t>(p);
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    if (port_ == 0) {
      Stop();
      throw std::runtime_error("salvus up did not start");
    }
  }
  ~Up() { Stop(); }
  Up(const Up&) = delete;
  Up& operator=(const Up&) = delete;

  uint16_t port() const { return port_; }
  pid_t pid() const { return pid_; }

 private:
  void Stop() {
    if (pid_ > 0) {
      kill(pid_, SIGTERM);
      waitpid(pid_, nullptr, 0);
      pid_ = 0;
    }
    if (getenv("BENCH_KEEP_DATA") != nullptr) {  // to read its logs
      std::cerr << "kept " << data_ << "\n";
      return;
    }
    std::error_code ec;
    std::filesystem::remove_all(data_, ec);
  }

  std::string data_;
  pid_t pid_ = 0;
  uint16_t port_ = 0;
};

inline asio::awaitable<std::unique_ptr<Ws>> Open(uint16_t port) {
  return client::OpenHubSocket(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port),
                               "127.0.0.1", "/ws");
}

// Sends `json` and returns the first message answering `id` that is not an output.
inline asio::awaitable<Message> Call(Ws& ws, const std::string& json, uint64_t id) {
  co_await ws.AsyncWrite(json, asio::use_awaitable);
  for (;;) {
    co_await ws.AsyncRead(asio::use_awaitable);
    // Like a browser's JSON.parse, a cheap look first: this client shares the
    // machine with the servers it measures, so it spends as little as it can
    // (the message is read in place, never copied).
    const std::string_view text = ws.text();
    if (text.find("\"output\":") != std::string_view::npos) continue;
    Message m;
    (void)google::protobuf::util::JsonStringToMessage(text, &m);
    if (m.id() != id) continue;
    if (m.has_output()) continue;
    co_return m;
  }
}

// Starts a session (request `id`); its id. Throws with the error if it fails.
inline asio::awaitable<std::string> Start(Ws& ws, uint64_t id = 1) {
  Message m = co_await Call(ws, "{\"id\": " + std::to_string(id) + ", \"startSession\": {}}", id);
  if (!m.has_session_started()) throw std::runtime_error("start failed: " + m.error().text());
  co_return m.session_started().session();
}

inline std::string ExecJson(uint64_t id, const std::string& session, const std::string& code) {
  return "{\"id\": " + std::to_string(id) + ", \"execute\": {\"session\": \"" + session +
         "\", \"code\": \"" + code + "\"}}";
}

// Runs the coroutine `f` on a fresh io_context to its end; rethrows what it threw.
template <class F>
void RunIo(F&& f) {
  asio::io_context io;
  std::exception_ptr err;
  asio::co_spawn(io, std::forward<F>(f), [&](std::exception_ptr e) { err = e; });
  io.run();
  if (err) std::rethrow_exception(err);
}

}  // namespace salvus::bench
