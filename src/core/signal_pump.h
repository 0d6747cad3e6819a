// Signals for blocking clients built on an asio io_context (`salvus exec`):
// while the client waits for its server, a signal such as SIGINT reaches a
// handler at once, outside any asio handler, so the handler may still send
// on the same connection (e.g. an interrupt request).
//
// The client starts its operation asynchronously and calls RunUntil(done):
// the loop runs until the operation's handler sets `done`, handing each
// signal to the handler in between. Signals that arrive while the handler
// runs (it may send, which runs the loop again) wait for the outer loop.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <deque>
#include <functional>
#include <initializer_list>
#include <optional>

namespace salvus::core {

class SignalPump {
 public:
  explicit SignalPump(boost::asio::io_context& io) : io_(io) {}

  // From now on, `signals` go to `on_signal`; when it returns false the
  // current RunUntil returns false. Calling again replaces the handler.
  void Handle(std::initializer_list<int> signals, std::function<bool(int)> on_signal) {
    on_signal_ = std::move(on_signal);
    if (set_) return;
    set_.emplace(io_);
    for (int s : signals) set_->add(s);
    Wait();
  }
  bool active() const { return set_.has_value(); }

  // Runs the io_context until `done`; false when the signal handler asked
  // to stop (the caller must then cancel its operation and Drain).
  bool RunUntil(const bool& done) {
    while (!done) {
      RunOne();
      while (!pending_.empty() && !in_handler_) {
        const int sig = pending_.front();
        pending_.pop_front();
        if (!on_signal_) continue;
        in_handler_ = true;
        const bool go_on = on_signal_(sig);
        in_handler_ = false;
        if (!go_on) return false;
      }
    }
    return true;
  }

  // Runs the io_context until `done`, leaving signals queued.
  void Drain(const bool& done) {
    while (!done) RunOne();
  }

 private:
  void RunOne() {
    if (io_.stopped()) io_.restart();
    io_.run_one();
  }
  void Wait() {
    set_->async_wait([this](const boost::system::error_code& ec, int sig) {
      if (ec) return;
      pending_.push_back(sig);
      Wait();
    });
  }

  boost::asio::io_context& io_;
  std::optional<boost::asio::signal_set> set_;
  std::function<bool(int)> on_signal_;
  std::deque<int> pending_;
  bool in_handler_ = false;
};

}  // namespace salvus::core
