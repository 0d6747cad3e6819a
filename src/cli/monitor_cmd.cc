// `salvus monitor`: see src/monitor/monitor.h.
#include <signal.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <cmath>
#include <iostream>
#include <memory>

#include "cli/commands.h"
#include "core/log.h"
#include "monitor/monitor.h"
#include "registry/cache.h"
#include "store/await_store.h"
#include "store/store.h"

namespace salvus::cli {

namespace asio = boost::asio;

namespace {

struct MonitorFlags {
  std::string pidfile;
  std::string name;
  std::string address;
  int port = 0;
  std::string site = "default";
  std::string type;
  std::string logfile;
  std::string extra_file;
  std::string db;
  std::string memcached;
  double interval = 6;
  double wait = 120;
  std::string log_level = "info";
};

int RunMonitor(const MonitorFlags& f) {
  core::InitLogging("monitor", f.log_level);
  if (!(f.interval >= 0.01) || !std::isfinite(f.interval)) {
    std::cerr << "salvus monitor: --interval must be at least 0.01 seconds\n";
    return 2;
  }
  if (!(f.wait >= 0) || !std::isfinite(f.wait)) {
    std::cerr << "salvus monitor: --wait must be a number of seconds\n";
    return 2;
  }
  monitor::MonitorOptions o;
  o.pidfile = f.pidfile;
  o.logfile = f.logfile;
  o.extra_file = f.extra_file;
  o.service.type = f.type;
  o.service.name = f.name;
  o.service.site = f.site;
  o.service.address = f.address;
  o.service.port = f.port;
  o.interval = std::chrono::milliseconds(static_cast<int64_t>(f.interval * 1000));
  o.pidfile_timeout = std::chrono::milliseconds(static_cast<int64_t>(f.wait * 1000));

  auto cache = registry::OpenCache(f.memcached);
  if (!cache) {
    std::cerr << "salvus monitor: " << cache.error() << "\n";
    return 2;
  }
  signal(SIGPIPE, SIG_IGN);
  asio::io_context io(1);
  auto store = store::OpenStore(f.db, io.get_executor());
  if (!store) {
    std::cerr << "salvus monitor: " << store.error() << "\n";
    return 2;
  }
  monitor::Monitor mon(io.get_executor(), **store, **cache, o);
  asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](boost::system::error_code ec, int sig) {
    if (ec) return;
    spdlog::info("signal {}: stopping the monitor (the service keeps running)", sig);
    mon.Stop();
  });
  int exit_code = 1;
  auto main = [&]() -> asio::awaitable<int> {
    auto version =
        co_await store::AwaitStore<int>([&](auto cb) { (*store)->Migrate(std::move(cb)); });
    if (!version) {
      spdlog::error("database {}: {}", f.db, version.error());
      co_return 1;
    }
    co_return co_await mon.Run();
  };
  asio::co_spawn(io, main(), [&](std::exception_ptr e, int rc) {
    exit_code = rc;
    if (e) {
      try {
        std::rethrow_exception(e);
      } catch (const std::exception& ex) {
        spdlog::critical("monitor failed: {}", ex.what());
        exit_code = 1;
      }
    }
    // The store may keep timers (background pruning): stop the loop.
    io.stop();
  });
  io.run();
  return exit_code;
}

}  // namespace

Command AddMonitorCommand(CLI::App& app) {
  auto f = std::make_shared<MonitorFlags>();
  CLI::App* c = app.add_subcommand(
      "monitor",
      "Watch one service: register it, write its status every interval, copy its log into the "
      "database; exit when it exits");
  c->add_option("--pidfile", f->pidfile, "file holding the service's pid (waited for)")->required();
  c->add_option("--type", f->type, "service type: hub, compute, ...")->required();
  c->add_option("--name", f->name, "service name")->required();
  c->add_option("--address", f->address, "address the service listens on")->required();
  c->add_option("--port", f->port, "port the service listens on")
      ->required()
      ->check(CLI::Range(0, 65535));
  c->add_option("--site", f->site, "site (data center) name")->capture_default_str();
  c->add_option("--logfile", f->logfile,
                "the service's log file, copied into the log table (rotation and truncation "
                "are followed; the file is never modified)");
  c->add_option("--extra-file", f->extra_file,
                "a small JSON file the service keeps current, copied into each status row");
  c->add_option("--db", f->db, "database: sqlite:PATH or postgresql://...")->required();
  c->add_option("--memcached", f->memcached, "HOST:PORT[,HOST:PORT...] of memcached (optional)");
  c->add_option("--interval", f->interval, "seconds between status rows")->capture_default_str();
  c->add_option("--wait", f->wait, "seconds to wait for a running process in the pidfile")
      ->capture_default_str();
  c->add_option("--log-level", f->log_level,
                "the monitor's own log (stderr): trace, debug, "
                "info, warn, error")
      ->capture_default_str();
  return {c, [f] { return RunMonitor(*f); }};
}

}  // namespace salvus::cli
