// Store benchmarks (Google Benchmark): permalink insert and lookup rates on
// SQLite (a temp file) and on a real PostgreSQL server started for the run
// (tests/util/postgres_server.h).
//   one_at_a_time: each operation waits for the previous one (latency)
//   pipelined:     100 operations in flight (throughput)
// Usage: store_bench [--benchmark_format=json] [--sqlite-only]
#include <benchmark/benchmark.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "store/store.h"
#include "util/postgres_server.h"

namespace {

namespace asio = boost::asio;
using salvus::store::Options;
using salvus::store::Result;
using salvus::store::Store;

constexpr int kInFlight = 100;
constexpr int kLookupSet = 1000;

// Where fresh databases come from: a temp dir, or the PostgreSQL server.
std::string g_sqlite_dir;
salvus::testutil::PostgresServer* g_pg = nullptr;
int g_databases = 0;

std::string NewDatabase(bool postgres) {
  ++g_databases;
  if (postgres) return g_pg->CreateDatabase("bench" + std::to_string(g_databases));
  return "sqlite:" + g_sqlite_dir + "/bench" + std::to_string(g_databases) + ".sqlite";
}

// A migrated store on a fresh database, and a loop to drive it.
struct Bench {
  asio::io_context io;
  std::unique_ptr<Store> store;
  int pending = 0;
  std::string error;

  explicit Bench(bool postgres) {
    Options opt;
    opt.prune_interval_s = 0;
    auto s = salvus::store::OpenStore(NewDatabase(postgres), io.get_executor(), opt);
    if (!s) throw std::runtime_error(s.error());
    store = std::move(*s);
    ++pending;
    store->Migrate([this](Result<int> r) { Done(r); });
    Drain();
  }

  template <class R>
  void Done(const R& r) {
    --pending;
    if (!r && error.empty()) error = r.error();
  }

  void Drain() {
    io.restart();
    while (pending > 0) io.run_one();
    if (!error.empty()) throw std::runtime_error(error);
  }

  void Create(int n) {
    ++pending;
    store->CreatePermalink("print(" + std::to_string(n) + ")", "python", "",
                           [this](Result<std::string> r) { Done(r); });
  }
};

void BM_PermalinkCreate(benchmark::State& state, bool postgres, int in_flight) {
  Bench b(postgres);
  int n = 0;
  for (auto _ : state) {
    for (int i = 0; i < in_flight; ++i) b.Create(n++);
    b.Drain();
  }
  state.SetItemsProcessed(static_cast<int64_t>(n));
}

void BM_PermalinkGet(benchmark::State& state, bool postgres, int in_flight) {
  Bench b(postgres);
  std::vector<std::string> ids(kLookupSet);
  for (int i = 0; i < kLookupSet; ++i) {
    ++b.pending;
    b.store->CreatePermalink("print(" + std::to_string(i) + ")", "python", "",
                             [&b, &ids, i](Result<std::string> r) {
                               if (r) ids[i] = *r;
                               b.Done(r);
                             });
  }
  b.Drain();
  size_t n = 0, found = 0;
  for (auto _ : state) {
    for (int i = 0; i < in_flight; ++i) {
      ++b.pending;
      b.store->GetPermalink(ids[n++ % ids.size()],
                            [&](Result<std::optional<salvus::store::Permalink>> r) {
                              if (r && r->has_value()) ++found;
                              b.Done(r);
                            });
    }
    b.Drain();
  }
  if (found != n) state.SkipWithError("a permalink was not found");
  state.SetItemsProcessed(static_cast<int64_t>(n));
}

void Register(bool postgres) {
  const std::string backend = postgres ? "postgresql" : "sqlite";
  for (auto [mode, in_flight] : {std::pair{"one_at_a_time", 1}, std::pair{"in_flight_10", 10},
                                 std::pair{"pipelined", kInFlight}}) {
    benchmark::RegisterBenchmark(("BM_PermalinkCreate/" + backend + "/" + mode).c_str(),
                                 BM_PermalinkCreate, postgres, in_flight)
        ->Unit(benchmark::kMicrosecond)
        ->UseRealTime()  // the work happens on the store's thread or the server
        ->MinTime(0.5);
    benchmark::RegisterBenchmark(("BM_PermalinkGet/" + backend + "/" + mode).c_str(),
                                 BM_PermalinkGet, postgres, in_flight)
        ->Unit(benchmark::kMicrosecond)
        ->UseRealTime()  // the work happens on the store's thread or the server
        ->MinTime(0.5);
  }
}

}  // namespace

int main(int argc, char** argv) {
  bool sqlite_only = false;
  std::vector<char*> args;
  for (int i = 0; i < argc; ++i) {
    if (std::strcmp(argv[i], "--sqlite-only") == 0) {
      sqlite_only = true;
    } else {
      args.push_back(argv[i]);
    }
  }
  int n = static_cast<int>(args.size());
  spdlog::set_level(spdlog::level::warn);  // stdout is for the results
  benchmark::Initialize(&n, args.data());

  char tmpl[] = "/tmp/salvus-store-bench-XXXXXX";
  if (mkdtemp(tmpl) == nullptr) return 1;
  g_sqlite_dir = tmpl;
  salvus::testutil::PostgresServer pg;
  Register(false);
  if (!sqlite_only) {
    try {
      pg.start();
      g_pg = &pg;
      Register(true);
    } catch (const std::exception& e) {
      std::cerr << "store_bench: no PostgreSQL, SQLite only: " << e.what() << "\n";
    }
  }
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  pg.stop();
  std::filesystem::remove_all(g_sqlite_dir);
  return 0;
}
