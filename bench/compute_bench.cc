// Compute server benchmarks against the real binary with real Sage.
// Prints one JSON object. Usage: compute_bench [--quick]
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "util/compute_process.h"

using namespace salvus;
using Clock = std::chrono::steady_clock;

namespace {

struct Stats {
  double p50_ms, p99_ms, min_ms, max_ms;
  size_t n;
};

Stats Summarize(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  auto pct = [&](double p) { return v[std::min(v.size() - 1, static_cast<size_t>(p * v.size()))]; };
  return {pct(0.50), pct(0.99), v.front(), v.back(), v.size()};
}

std::string Json(const Stats& s) {
  char buf[256];
  std::snprintf(
      buf, sizeof buf,
      "{\"n\": %zu, \"p50_ms\": %.4f, \"p99_ms\": %.4f, \"min_ms\": %.4f, \"max_ms\": %.4f}", s.n,
      s.p50_ms, s.p99_ms, s.min_ms, s.max_ms);
  return buf;
}

double Ms(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

// Private memory (USS) in MB from smaps_rollup.
double UssMb(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/smaps_rollup");
  std::string line;
  double kb = 0;
  while (std::getline(in, line)) {
    if (line.rfind("Private_Clean:", 0) == 0 || line.rfind("Private_Dirty:", 0) == 0) {
      std::istringstream ss(line.substr(line.find(':') + 1));
      double v;
      ss >> v;
      kb += v;
    }
  }
  return kb / 1024.0;
}

void Check(bool ok, const std::string& what) {
  if (!ok) {
    std::cerr << "benchmark failed: " << what << "\n";
    std::exit(1);
  }
}

}  // namespace

int main(int argc, char** argv) {
  const bool quick = argc > 1 && std::string(argv[1]) == "--quick";
  const int sessions = quick ? 20 : 200;
  const int trips = quick ? 200 : 5000;
  const int floods = quick ? 10 : 100;
  const int pace_ms = argc > 2 ? std::atoi(argv[2]) : 250;

  const char* pool = getenv("SALVUS_BENCH_POOL");
  testutil::ComputeProcess server({"--pool", pool ? pool : "4", "--max-sessions", "64"});
  Check(server.ok(), "server did not start: " + server.log());
  auto c = server.Connect();
  Check(c != nullptr, "connect");

  // Let the pool fill.
  std::this_thread::sleep_for(std::chrono::seconds(2));

  // 1. Session start: start request -> done of 1+1. The next session starts
  // once the pool has refilled (a user arriving, not a burst).
  std::vector<double> start_ms, started_ms, first_ms;
  for (int i = 0; i < sessions; ++i) {
    const auto t0 = Clock::now();
    auto s = c->StartSession("sage");
    Check(s.has_value(), "start session");
    const auto ts = Clock::now();
    auto r = c->Execute(*s, "1+1");
    const auto t1 = Clock::now();
    Check(r && r->out == "2\n", "1+1");
    start_ms.push_back(Ms(t1 - t0));
    started_ms.push_back(Ms(ts - t0));
    first_ms.push_back(Ms(t1 - ts));
    proto::Message t;
    t.mutable_terminate()->set_session(*s);
    c->Request(t);
    Check(c->Receive().has_value(), "terminate");
    std::this_thread::sleep_for(std::chrono::milliseconds(pace_ms));
  }

  // 2. 2+2 round trip in a warm session.
  auto s = c->StartSession("sage");
  Check(s.has_value(), "start");
  for (int i = 0; i < 50; ++i) (void)c->Execute(*s, "2+2");  // warm-up: only the time counts
  std::vector<double> rt_ms;
  for (int i = 0; i < trips; ++i) {
    const auto t0 = Clock::now();
    auto r = c->Execute(*s, "2+2");
    rt_ms.push_back(Ms(Clock::now() - t0));
    Check(r && r->out == "4\n", "2+2");
  }

  // 3. 10^4 printed lines, complete.
  std::vector<double> flood_ms;
  for (int i = 0; i < floods; ++i) {
    const auto t0 = Clock::now();
    auto r = c->Execute(*s, "for i in range(10^4): print(i)");
    flood_ms.push_back(Ms(Clock::now() - t0));
    Check(r && r->out.size() == 48890, "10^4 lines");
  }

  // 4. USS of workers: preforked idle ones, and this session's after its work.
  std::this_thread::sleep_for(std::chrono::seconds(1));
  std::vector<double> uss;
  for (pid_t p : testutil::ProcessesWithUids(server.uid_base(), 100)) uss.push_back(UssMb(p));
  std::sort(uss.begin(), uss.end());
  std::ostringstream uss_json;
  for (size_t i = 0; i < uss.size(); ++i) uss_json << (i ? ", " : "") << uss[i];

  std::cout << "{\n"
            << "  \"session_start_to_done_1plus1\": " << Json(Summarize(start_ms)) << ",\n"
            << "  \"session_start_only\": " << Json(Summarize(started_ms)) << ",\n"
            << "  \"first_1plus1_only\": " << Json(Summarize(first_ms)) << ",\n"
            << "  \"warm_2plus2_round_trip\": " << Json(Summarize(rt_ms)) << ",\n"
            << "  \"print_10k_lines\": " << Json(Summarize(flood_ms)) << ",\n"
            << "  \"worker_uss_mb\": [" << uss_json.str() << "]\n"
            << "}\n";
  return 0;
}
