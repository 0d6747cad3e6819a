// One soak browser: a WebSocket to the hub, a session, and cells of every
// kind (prints, plots, errors, interrupts, interacts, state), each answer
// checked; it reconnects and starts a new session when a fault took them.
#pragma once

#include <boost/asio.hpp>
#include <chrono>
#include <cstdint>
#include <map>
#include <random>
#include <string>
#include <vector>

namespace salvus::soak {

struct Stats {
  long requests = 0;                  // sent
  std::map<std::string, long> cells;  // sent, by kind
  std::map<std::string, long> done;   // dones by status
  long error_replies = 0;             // an `error` answered the request
  long cut = 0;                       // the connection went away before the answer (a fault)
  long starts = 0, start_failures = 0, sessions_ended = 0, connects = 0;
  std::map<std::string, long> start_errors;  // why starts failed (first 60 characters)
  long violations = 0;
  std::vector<std::string> first_violations;  // up to 20, verbatim

  void Violation(std::string what);
};

struct BrowserOptions {
  uint16_t port = 0;
  std::chrono::steady_clock::time_point end;
  std::chrono::milliseconds think_min{300}, think_max{1500};
};

// Runs until `o.end`, then ends its session and closes.
boost::asio::awaitable<void> RunBrowser(int index, BrowserOptions o, Stats& stats,
                                        std::mt19937 rng);

}  // namespace salvus::soak
