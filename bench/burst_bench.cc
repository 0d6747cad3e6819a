// A classroom at once: bursts of session starts through the hub, each
// followed by `2+2`, against `salvus up` with real Sage and its defaults
// (--max-sessions 32, --pool 2). Prints one JSON object.
//   burst_20, burst_30: every browser connects first; then all send their
//     start at the same moment and run `2+2`; the time from the start's send
//     to the `done` of `2+2`, per browser, and how many succeeded. Round 1
//     meets the pool as start-up left it (--pool ready); later rounds follow
//     within seconds (the pool has grown: --pool-max), as when a class opens
//     one page after another.
//   back_to_back: a connection starting sessions one after another (each
//     waits for the previous sessionStarted), kept: 7 each on 4 connections.
// Usage: burst_bench [--rounds N] [--sizes 20,30 (the bursts of a round, in order)]
//                    [--port P (a running hub) | -- ARGS FOR salvus up]
#include <sstream>

#include "bench_client.h"

using namespace salvus::bench;

namespace {

struct BurstResult {
  int ok = 0;
  std::vector<double> ms;
  std::string first_error;
};

// `n` browsers start a session at once and run `2+2`; then each ends its
// session (a page that vanishes would hold it for the reconnect grace).
BurstResult Burst(uint16_t port, int n) {
  BurstResult r;
  RunIo([&]() -> asio::awaitable<void> {
    auto ex = co_await asio::this_coro::executor;
    std::vector<std::unique_ptr<Ws>> socks;
    std::vector<std::string> sessions(n);
    for (int i = 0; i < n; ++i) socks.push_back(co_await Open(port));
    int running = n;
    asio::steady_timer all_done(ex, Clock::time_point::max());
    const auto t0 = Clock::now();
    for (int i = 0; i < n; ++i) {
      asio::co_spawn(
          ex,
          [&, i]() -> asio::awaitable<void> {
            try {
              const std::string s = co_await Start(*socks[i]);
              sessions[i] = s;
              Message m = co_await Call(*socks[i], ExecJson(2, s, "2+2"), 2);
              if (!m.has_done() || m.done().status() != salvus::proto::Done::OK) {
                throw std::runtime_error("2+2 failed: " + m.DebugString());
              }
              r.ms.push_back(Ms(Clock::now() - t0));
              ++r.ok;
            } catch (const std::exception& e) {
              if (r.first_error.empty()) r.first_error = e.what();
            }
            if (--running == 0) all_done.cancel();
          },
          asio::detached);
    }
    boost::system::error_code ec;
    co_await all_done.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    for (int i = 0; i < n; ++i) {
      if (!sessions[i].empty()) {
        co_await Call(*socks[i],
                      "{\"id\": 3, \"terminate\": {\"session\": \"" + sessions[i] + "\"}}", 3);
      }
      socks[i]->Abort();
    }
  });
  return r;
}

std::string Json(const BurstResult& r, int n) {
  std::string j = "{\"ok\": " + std::to_string(r.ok) + ", \"of\": " + std::to_string(n);
  if (!r.ms.empty()) j += ", \"start_and_2plus2\": " + Pct(r.ms);
  if (!r.first_error.empty()) j += ", \"first_error\": \"" + r.first_error + "\"";
  return j + "}";
}

}  // namespace

int main(int argc, char** argv) {
  int rounds = 3;
  uint16_t port = 0;
  std::vector<int> sizes = {20, 30};
  std::vector<std::string> up_args;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--rounds" && i + 1 < argc) {
      rounds = std::stoi(argv[++i]);
    } else if (a == "--sizes" && i + 1 < argc) {
      sizes.clear();
      std::stringstream in(argv[++i]);
      for (std::string n; std::getline(in, n, ',');) sizes.push_back(std::stoi(n));
    } else if (a == "--port" && i + 1 < argc) {
      port = static_cast<uint16_t>(std::stoi(argv[++i]));
    } else if (a == "--") {
      up_args.assign(argv + i + 1, argv + argc);
      break;
    }
  }
  signal(SIGPIPE, SIG_IGN);
  std::unique_ptr<Up> up;
  try {
    if (port == 0) up = std::make_unique<Up>(SALVUS_BINARY, up_args);
  } catch (const std::exception& e) {
    std::cerr << e.what() << "\n";
    return 1;
  }
  if (up) port = up->port();
  std::string out = "{\n";
  try {
    // The pool settles at --pool after start-up.
    std::this_thread::sleep_for(std::chrono::seconds(3));
    for (int round = 1; round <= rounds; ++round) {
      for (int n : sizes) {
        const BurstResult r = Burst(port, n);
        std::cerr << "burst_bench: round " << round << ", burst of " << n << ": " << r.ok << " ok"
                  << std::endl;
        out += "  \"round_" + std::to_string(round) + "_burst_" + std::to_string(n) +
               "\": " + Json(r, n) + ",\n";
        // The sessions end with their browsers; the pool refills.
        std::this_thread::sleep_for(std::chrono::seconds(2));
      }
    }
    // Back to back on one connection, kept (a start each as soon as the last
    // is answered; the hub allows 8 sessions per connection, so 4 connections).
    std::vector<double> t;
    RunIo([&]() -> asio::awaitable<void> {
      for (int c = 0; c < 4; ++c) {
        auto ws = co_await Open(port);
        for (int i = 0; i < 7; ++i) {
          const auto t0 = Clock::now();
          co_await Start(*ws, 10 + i);
          t.push_back(Ms(Clock::now() - t0));
        }
        ws->Abort();
      }
    });
    out += "  \"back_to_back_starts\": " + Pct(t) + "\n}\n";
  } catch (const std::exception& e) {
    std::cerr << "benchmark failed: " << e.what() << "\n";
    return 1;
  }
  up.reset();
  std::cout << out;
  return 0;
}
