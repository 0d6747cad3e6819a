// `salvus status`: the running services and their newest status, from
// memcached when it has them, else from the database (then cached).
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstdlib>
#include <iostream>
#include <memory>

#include "cli/commands.h"
#include "cli/status_table.h"
#include "core/clock.h"
#include "core/log.h"
#include "registry/cache.h"
#include "registry/registry.h"
#include "store/await_store.h"
#include "store/store.h"

namespace salvus::cli {

namespace asio = boost::asio;

namespace {

struct StatusFlags {
  std::string db;
  std::string memcached;
  std::string type;
  bool verbose = false;
};

// The running services from the database (then cached).
std::expected<std::vector<store::ServiceStatus>, std::string> FromDatabase(const std::string& url,
                                                                           registry::Cache& cache) {
  asio::io_context io(1);
  auto store = store::OpenStore(url, io.get_executor());
  if (!store) return std::unexpected(store.error());
  std::expected<std::vector<store::ServiceStatus>, std::string> out =
      std::unexpected("no answer from the database");
  auto query = [&]() -> asio::awaitable<void> {
    // A fresh database has no tables yet; creating them is harmless.
    auto version =
        co_await store::AwaitStore<int>([&](auto cb) { (*store)->Migrate(std::move(cb)); });
    if (!version) {
      out = std::unexpected(version.error());
      co_return;
    }
    auto r = co_await registry::StoredRunningServices(**store, cache);
    if (r) {
      out = std::move(*r);
    } else {
      out = std::unexpected(r.error());
    }
  };
  asio::co_spawn(io, query(), [&](std::exception_ptr e) {
    if (e) out = std::unexpected("database query failed");
    io.stop();  // the store may keep timers (background pruning)
  });
  io.run();
  return out;
}

int RunStatus(const StatusFlags& f) {
  // Warnings (memcached down) on stderr; the table on stdout.
  core::InitLogging("status", f.verbose ? "info" : "error");
  std::string db = f.db;
  if (db.empty()) {
    if (const char* env = std::getenv("SALVUS_DB")) db = env;
  }
  auto cache = registry::OpenCache(f.memcached);
  if (!cache) {
    std::cerr << "salvus status: " << cache.error() << "\n";
    return 2;
  }
  auto services = registry::CachedRunningServices(**cache);
  const char* source = "memcached";
  if (!services) {
    if (db.empty()) {
      std::cerr << "salvus status: no --db (or SALVUS_DB) given"
                << ((*cache)->enabled() ? ", and memcached has no service list\n" : "\n");
      return 2;
    }
    auto loaded = FromDatabase(db, **cache);
    if (!loaded) {
      std::cerr << "salvus status: database " << db << ": " << loaded.error() << "\n";
      return 1;
    }
    services = std::move(*loaded);
    source = "database";
  }
  if (!f.type.empty()) {
    std::erase_if(*services, [&](const auto& s) { return s.service.type != f.type; });
  }
  std::cout << FormatStatusTable(std::move(*services), core::NowMs());
  if (f.verbose) std::cerr << "(from the " << source << ")\n";
  return 0;
}

}  // namespace

Command AddStatusCommand(CLI::App& app) {
  auto f = std::make_shared<StatusFlags>();
  CLI::App* c = app.add_subcommand(
      "status",
      "Print the running services with their newest status (memcached first, then the "
      "database)");
  c->add_option("--db", f->db, "database: sqlite:PATH or postgresql://... (default: $SALVUS_DB)");
  c->add_option("--memcached", f->memcached, "HOST:PORT[,HOST:PORT...] of memcached (optional)");
  c->add_option("--type", f->type, "only services of this type");
  c->add_flag("-v,--verbose", f->verbose, "say where the answer came from; show warnings");
  return {c, [f] { return RunStatus(*f); }};
}

}  // namespace salvus::cli
