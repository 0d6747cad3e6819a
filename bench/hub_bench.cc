// Hub benchmarks through the browser protocol (JSON over WebSocket) against
// `salvus up` with real Sage. Prints one JSON object.
// Usage: hub_bench [--quick] [--interact-only]
#include <sys/resource.h>

#include "bench_client.h"

using namespace salvus::bench;

namespace {
struct SkipTheRest {};
}  // namespace

int main(int argc, char** argv) {
  bool quick = false, interact_only = false;
  for (int i = 1; i < argc; ++i) {
    quick |= std::string(argv[i]) == "--quick";
    interact_only |= std::string(argv[i]) == "--interact-only";
  }
  signal(SIGPIPE, SIG_IGN);
  rlimit nofile;
  getrlimit(RLIMIT_NOFILE, &nofile);
  nofile.rlim_cur = nofile.rlim_max;
  setrlimit(RLIMIT_NOFILE, &nofile);

  // The pipeline's speed is measured, not the per-connection flood guard
  // (one socket here sends ~2,000 messages/s); every session and every one of
  // the 10,000 idle WebSockets comes from 127.0.0.1.
  std::unique_ptr<Up> running;
  try {
    running = std::make_unique<Up>(
        SALVUS_BINARY, std::vector<std::string>{"--max-sessions", "128", "--max-message-rate", "0",
                                                "--max-sessions-per-address", "0",
                                                "--max-connections-per-address", "0"});
  } catch (const std::exception& e) {
    std::cerr << e.what() << "\n";
    return 1;
  }
  const uint16_t port = running->port();
  const pid_t up = running->pid();

  std::string rt_json = "null", rt_distinct_json = "null", throughput_json = "null",
              throughput_distinct_json = "null", idle_json = "null", interact_json;
  try {
    // 0. Interact updates: a slider moves, the function reruns, its new
    // output arrives (the function itself only prints its argument).
    RunIo([&]() -> asio::awaitable<void> {
      auto ws = co_await Open(port);
      const std::string s = co_await Start(*ws);
      const std::string code = "@interact\\ndef f(n=slider(0, 1000, 1, default=0)):\\n    print(n)";
      Message m = co_await Call(*ws, ExecJson(2, s, code), 2);
      if (!m.has_display()) throw std::runtime_error("no interact display: " + m.DebugString());
      const std::string& text = m.display().text();
      const auto at = text.find("\"id\": \"");
      if (at == std::string::npos) throw std::runtime_error("interact without id: " + text);
      const std::string interact = text.substr(at + 7, text.find('"', at + 7) - at - 7);
      for (;;) {  // the rest of the first run
        co_await ws->AsyncRead(asio::use_awaitable);
        Message r;
        google::protobuf::util::JsonStringToMessage(ws->text(), &r);
        if (r.id() == 2 && (r.has_done() || r.has_error())) break;
      }
      std::vector<double> t;
      const int n = quick ? 300 : 2000;
      for (int i = 0; i < n + 50; ++i) {
        const uint64_t id = 10 + i;
        const std::string req =
            "{\"id\": " + std::to_string(id) + ", \"interactUpdate\": {\"session\": \"" + s +
            "\", \"interact\": \"" + interact +
            "\", \"values\": \"{\\\"n\\\": " + std::to_string(i % 1000) + "}\"}}";
        const auto t0 = Clock::now();
        co_await ws->AsyncWrite(req, asio::use_awaitable);
        bool shown = false;
        for (;;) {
          co_await ws->AsyncRead(asio::use_awaitable);
          Message r;
          google::protobuf::util::JsonStringToMessage(ws->text(), &r);
          if (r.id() != id) continue;
          if (r.has_output() && r.output().target() == interact) shown = true;
          if (r.has_done() || r.has_error()) {
            if (!shown || !r.has_done() || r.done().status() != salvus::proto::Done::OK) {
              throw std::runtime_error("interact update failed: " + r.DebugString());
            }
            break;
          }
        }
        if (i >= 50) t.push_back(Ms(Clock::now() - t0));
      }
      interact_json = Pct(t);
    });
    if (interact_only) throw SkipTheRest{};
    // 1. 2+2 round trip, one browser: the same cell each time (as when a
    // cell is run again: the worker has it compiled), then distinct cells
    // 2+N (each one preparsed and compiled).
    for (const bool distinct : {false, true}) {
      RunIo([&]() -> asio::awaitable<void> {
        auto ws = co_await Open(port);
        const std::string s = co_await Start(*ws);
        std::vector<double> t;
        const int n = quick ? 300 : 3000;
        for (int i = 0; i < n + 100; ++i) {
          const uint64_t id = 10 + i;
          const std::string code = distinct ? "2+" + std::to_string(id) : "2+2";
          const auto t0 = Clock::now();
          Message m = co_await Call(*ws, ExecJson(id, s, code), id);
          if (!m.has_done()) throw std::runtime_error("no done");
          if (i >= 100) t.push_back(Ms(Clock::now() - t0));
        }
        (distinct ? rt_distinct_json : rt_json) = Pct(t);
      });
    }

    // 2. Many sessions running trivial cells back to back: the same cell
    // (`1`) again and again, then distinct ones (the cell's own id), on the
    // same sessions.
    const int browsers = quick ? 20 : 100;
    const auto seconds = std::chrono::seconds(quick ? 3 : 10);
    RunIo([&]() -> asio::awaitable<void> {
      auto ex = co_await asio::this_coro::executor;
      std::vector<std::unique_ptr<Ws>> socks;
      std::vector<std::string> sessions;
      for (int i = 0; i < browsers; ++i) {
        socks.push_back(co_await Open(port));
        sessions.push_back(co_await Start(*socks.back()));
      }
      std::vector<uint64_t> ids(browsers, 100);
      for (const bool distinct : {false, true}) {
        std::cerr << "hub_bench: " << browsers << " sessions running "
                  << (distinct ? "distinct" : "the same") << " cells for " << seconds.count()
                  << " s" << std::endl;
        long cells = 0;
        const auto t0 = Clock::now();
        const auto end = t0 + seconds;
        int running = browsers;
        asio::steady_timer all_done(ex, Clock::time_point::max());
        for (int i = 0; i < browsers; ++i) {
          asio::co_spawn(
              ex,
              [&, i]() -> asio::awaitable<void> {
                while (Clock::now() < end) {
                  const uint64_t id = ids[i]++;
                  const std::string code = distinct ? std::to_string(id) : "1";
                  Message m = co_await Call(*socks[i], ExecJson(id, sessions[i], code), id);
                  if (m.has_done()) ++cells;
                }
                if (--running == 0) all_done.cancel();
              },
              asio::detached);
        }
        boost::system::error_code ec;
        co_await all_done.async_wait(asio::redirect_error(asio::use_awaitable, ec));
        const double elapsed = std::chrono::duration<double>(Clock::now() - t0).count();
        char buf[200];
        std::snprintf(
            buf, sizeof buf,
            "{\"browsers\": %d, \"cells\": %ld, \"seconds\": %.2f, \"cells_per_s\": %.0f}",
            browsers, cells, elapsed, cells / elapsed);
        (distinct ? throughput_distinct_json : throughput_json) = buf;
      }
      for (auto& w : socks) co_await w->AsyncClose(asio::use_awaitable);
    });

    // 3. Idle WebSocket connections held by one hub.
    const int idle = quick ? 1000 : 10000;
    const long rss_before = RssKb(up);
    RunIo([&]() -> asio::awaitable<void> {
      std::vector<std::unique_ptr<Ws>> socks;
      for (int i = 0; i < idle; ++i) socks.push_back(co_await Open(port));
      std::this_thread::sleep_for(std::chrono::seconds(1));
      const long rss = RssKb(up);
      // All still answer.
      int alive = 0;
      for (int i = 0; i < idle; i += idle / 20) {
        Message m = co_await Call(*socks[i], R"({"id": 5, "interrupt": {"session": "x"}})", 5);
        if (m.has_error()) ++alive;
      }
      char b[200];
      std::snprintf(b, sizeof b,
                    "{\"connections\": %d, \"probed_alive\": %d, \"hub_rss_mb_before\": %.1f, "
                    "\"hub_rss_mb\": %.1f}",
                    idle, alive, rss_before / 1024.0, rss / 1024.0);
      idle_json = b;
      for (auto& w : socks) w->Abort();
    });
  } catch (const SkipTheRest&) {
    // Nothing to do: --interact-only skips the rest.
  } catch (const std::exception& e) {
    std::cerr << "benchmark failed: " << e.what() << "\n";
    return 1;
  }
  running.reset();
  std::cout << "{\n  \"interact_update_round_trip\": " << interact_json
            << ",\n  \"ws_2plus2_round_trip\": " << rt_json
            << ",\n  \"ws_2plusN_distinct_cells_round_trip\": " << rt_distinct_json
            << ",\n  \"concurrent_sessions\": " << throughput_json
            << ",\n  \"concurrent_sessions_distinct_cells\": " << throughput_distinct_json
            << ",\n  \"idle_websockets\": " << idle_json << "\n}\n";
  return 0;
}
