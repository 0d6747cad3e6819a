// A soak with faults (not a timed test): `--sessions` browsers run varied
// cells (prints, plots, errors, interrupts, interacts, state) through
// `salvus up` (real Sage, real PostgreSQL and memcached) for `--seconds`,
// while a fault loop, every `--fault-every` seconds on average, picks one of:
// SIGKILL a session's worker, SIGKILL the compute server (`up` restarts it),
// restart memcached, crash and restart PostgreSQL, SIGKILL `salvus up` (its
// hub) and start it again. Checks and reports, as one JSON object:
// - every request ends in exactly one `done` or `error` (or its connection
//   went away with a fault: "cut"); nothing answers a request twice;
// - a cell's output arrives whole and once (a cell that died: a prefix);
// - answers are right (2+2, errors, plots, interrupts, interacts, state kept);
// - nothing is left once `up` stops: processes or files of the session uids,
//   cgroups, homes;
// - the hub's and compute server's RSS after warm-up and at the end.
// Exits 1 on any violation or leftover. Root only (session uids).
// Usage: soak [--seconds 600] [--sessions 100] [--fault-every 6] [--no-faults] [--seed N]
#include <unistd.h>

#include <atomic>
#include <iostream>
#include <thread>

#include "core/json.h"
#include "soak/browser.h"
#include "soak/cluster.h"
#include "util/uid_block.h"

using namespace salvus::soak;
using Clock = std::chrono::steady_clock;

namespace {

struct Options {
  int seconds = 600;
  int sessions = 100;
  double fault_every_s = 6;
  bool faults = true;
  unsigned seed = 1;
};

Options Parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) throw std::runtime_error(a + " needs a value");
      return argv[++i];
    };
    if (a == "--seconds") {
      o.seconds = std::stoi(next());
    } else if (a == "--sessions") {
      o.sessions = std::stoi(next());
    } else if (a == "--fault-every") {
      o.fault_every_s = std::stod(next());
    } else if (a == "--no-faults") {
      o.faults = false;
    } else if (a == "--seed") {
      o.seed = static_cast<unsigned>(std::stoul(next()));
    } else {
      throw std::runtime_error("unknown option " + a);
    }
  }
  return o;
}

// RSS of one process over its life (the hub's and compute server's change
// with every restart): after warm-up (30 s into its life)
// and at its last sample.
struct RssTrack {
  pid_t pid = 0;
  Clock::time_point since;
  long warm_kb = 0, last_kb = 0;
  double lived_s = 0;
};

void Sample(pid_t pid, double warm_after_s, RssTrack* cur, RssTrack* longest) {
  if (pid <= 0) return;
  const auto now = Clock::now();
  if (cur->pid != pid) {
    if (cur->pid != 0 && cur->lived_s > longest->lived_s) *longest = *cur;
    *cur = RssTrack{pid, now, 0, 0, 0};
  }
  const long kb = RssKb(pid);
  if (kb == 0) return;
  cur->lived_s = std::chrono::duration<double>(now - cur->since).count();
  if (cur->warm_kb == 0 && cur->lived_s >= warm_after_s) cur->warm_kb = kb;
  cur->last_kb = kb;
}

std::string Json(const RssTrack& t) {
  return "{\"lived_s\": " + std::to_string(static_cast<long>(t.lived_s)) +
         ", \"after_warmup_kb\": " + std::to_string(t.warm_kb) +
         ", \"last_kb\": " + std::to_string(t.last_kb) + "}";
}

template <class M>
std::string JsonMap(const M& m) {
  std::string j = "{";
  for (const auto& [k, v] : m) j += (j.size() > 1 ? ", \"" : "\"") + k + "\": " + std::to_string(v);
  return j + "}";
}

std::string JsonString(const std::string& s) {
  std::string j;
  salvus::core::AppendJsonString(s, &j);
  return j;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  try {
    o = Parse(argc, argv);
  } catch (const std::exception& e) {
    std::cerr << "soak: " << e.what() << "\n";
    return 2;
  }
  if (geteuid() != 0) {
    std::cerr << "soak: run as root (sessions get uids of their own)\n";
    return 2;
  }
  signal(SIGPIPE, SIG_IGN);
  const unsigned uid_base = salvus::testutil::ClaimUidBlock(270000, 1000, 10);
  std::unique_ptr<Cluster> cluster;
  try {
    cluster = std::make_unique<Cluster>(SALVUS_BINARY, o.sessions + 16, uid_base);
  } catch (const std::exception& e) {
    std::cerr << "soak: " << e.what() << "\n";
    return 1;
  }
  const auto start = Clock::now();
  const auto end = start + std::chrono::seconds(o.seconds);
  std::vector<Stats> stats(o.sessions);
  std::thread browsers([&] {
    boost::asio::io_context io;
    for (int i = 0; i < o.sessions; ++i) {
      BrowserOptions bo{cluster->port(), end};
      boost::asio::co_spawn(io, RunBrowser(i, bo, stats[i], std::mt19937(o.seed * 1000 + i)),
                            boost::asio::detached);
    }
    io.run();
  });

  // The fault loop, and the RSS samples, on this thread.
  std::mt19937 rng(o.seed);
  std::exponential_distribution<double> gap(1.0 / o.fault_every_s);
  std::map<std::string, long> faults;
  std::string fault_error;
  const double warm_after_s = 30;  // a process's RSS 30 s into its life, and at its end
  RssTrack hub, hub_longest, compute, compute_longest;
  auto next_fault = start + std::chrono::milliseconds(static_cast<long>(gap(rng) * 1000 + 5000));
  while (Clock::now() < end) {
    std::this_thread::sleep_for(std::chrono::seconds(1));
    Sample(cluster->up_pid(), warm_after_s, &hub, &hub_longest);
    Sample(cluster->compute_pid(), warm_after_s, &compute, &compute_longest);
    if (!o.faults || Clock::now() < next_fault || Clock::now() > end - std::chrono::seconds(5)) {
      continue;
    }
    static const char* kKinds[] = {"worker",    "worker",     "worker", "compute",
                                   "memcached", "postgresql", "hub"};
    const std::string kind = kKinds[std::uniform_int_distribution<int>(0, 6)(rng)];
    try {
      std::string did = kind == "worker"       ? cluster->KillWorker(rng)
                        : kind == "compute"    ? cluster->KillCompute()
                        : kind == "memcached"  ? cluster->RestartMemcached()
                        : kind == "postgresql" ? cluster->RestartPostgres()
                                               : cluster->RestartUp();
      if (!did.empty()) ++faults[kind];
    } catch (const std::exception& e) {
      fault_error = kind + ": " + e.what();
      break;
    }
    next_fault = Clock::now() + std::chrono::milliseconds(static_cast<long>(gap(rng) * 1000));
  }
  browsers.join();
  for (auto* t : {&hub, &compute}) {
    RssTrack& longest = t == &hub ? hub_longest : compute_longest;
    if (t->lived_s > longest.lived_s) longest = *t;
  }
  const std::vector<std::string> leftovers = cluster->StopAndListLeftovers();

  Stats all;
  for (const Stats& s : stats) {
    all.requests += s.requests;
    for (const auto& [k, v] : s.cells) all.cells[k] += v;
    for (const auto& [k, v] : s.done) all.done[k] += v;
    all.error_replies += s.error_replies;
    all.cut += s.cut;
    all.starts += s.starts;
    all.start_failures += s.start_failures;
    for (const auto& [k, v] : s.start_errors) all.start_errors[k] += v;
    all.sessions_ended += s.sessions_ended;
    all.connects += s.connects;
    all.violations += s.violations;
    for (const auto& v : s.first_violations) {
      if (all.first_violations.size() < 20) all.first_violations.push_back(v);
    }
  }
  std::string out = "{\n";
  out += "  \"seconds\": " + std::to_string(o.seconds) +
         ", \"browsers\": " + std::to_string(o.sessions) + ",\n";
  out += "  \"requests\": " + std::to_string(all.requests) + ", \"cells\": " + JsonMap(all.cells) +
         ",\n";
  out += "  \"done\": " + JsonMap(all.done) + ", \"cut_by_faults\": " + std::to_string(all.cut) +
         ",\n";
  out += "  \"connects\": " + std::to_string(all.connects) +
         ", \"starts\": " + std::to_string(all.starts) +
         ", \"start_failures\": " + std::to_string(all.start_failures) +
         ", \"sessions_ended\": " + std::to_string(all.sessions_ended) + ",\n";
  out += "  \"start_errors\": {";
  for (const auto& [k, v] : all.start_errors) {
    out += (out.back() == '{' ? "" : ", ") + JsonString(k) + ": " + std::to_string(v);
  }
  out += "},\n";
  out += "  \"faults\": " + JsonMap(faults) + ",\n";
  out +=
      "  \"hub_rss\": " + Json(hub_longest) + ", \"compute_rss\": " + Json(compute_longest) + ",\n";
  out += "  \"violations\": " + std::to_string(all.violations) + ", \"first_violations\": [";
  for (size_t i = 0; i < all.first_violations.size(); ++i) {
    out += (i ? ", " : "") + JsonString(all.first_violations[i]);
  }
  out += "],\n  \"leftovers\": [";
  for (size_t i = 0; i < leftovers.size() && i < 20; ++i) {
    out += (i ? ", " : "") + JsonString(leftovers[i]);
  }
  out += "]";
  if (!fault_error.empty()) out += ",\n  \"fault_failed\": " + JsonString(fault_error);
  out += "\n}\n";
  std::cout << out;
  return all.violations == 0 && leftovers.empty() && fault_error.empty() && all.requests > 0 ? 0
                                                                                             : 1;
}
