// `salvus compute`: see src/compute/server.h.
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <expected>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <limits>
#include <memory>
#include <thread>

#include "cli/commands.h"
#include "compute/limits.h"
#include "compute/sandbox.h"
#include "compute/server.h"
#include "compute/session_mounts.h"
#include "compute/state_dir.h"
#include "compute/stats_file.h"
#include "compute/zygote_launcher.h"
#include "compute/zygote_link.h"
#include "core/descriptors.h"
#include "core/log.h"
#include "core/metrics_server.h"
#include "core/tls.h"
#include "core/token.h"

namespace salvus::cli {

namespace asio = boost::asio;

namespace {

struct ComputeFlags {
  std::string listen = "127.0.0.1:6000";
  std::string token_file;
  std::string kernel = "sage";
  unsigned max_sessions = 32;
  unsigned pool = 2;
  unsigned pool_max = 16;
  unsigned pool_idle_s = 120;
  std::string tls_cert, tls_key;
  bool isolate_network = false;
  unsigned disk_mb = 1024;
  bool exit_with_parent = false;
  std::string state_dir;
  unsigned uid_base = 200000;
  unsigned uid_count = 1000;
  std::string port_file;
  std::string metrics_listen;
  std::string stats_file;
  std::string log_level = "info";
  std::string log_file;
  proto::Limits defaults = compute::DefaultLimits();
  proto::Limits maxima;  // --max-*: how far a start request may raise a default
};

// A count from the command line, clamped into T (a double past T's range
// would make the conversion undefined); core::SaneLimits bounds it further.
template <class T>
T Count(double v) {
  if (!(v > 0)) return 0;
  return v >= static_cast<double>(std::numeric_limits<T>::max()) ? std::numeric_limits<T>::max()
                                                                 : static_cast<T>(v);
}

// A certificate or key that cannot be loaded is reported before anything
// starts (the server would throw constructing its TLS context).
std::expected<void, std::string> CheckTlsFiles(const std::string& cert, const std::string& key) {
  for (const auto& [flag, path] : {std::pair{"--tls-cert", cert}, std::pair{"--tls-key", key}}) {
    if (!std::ifstream(path)) {
      return std::unexpected(std::string("cannot read ") + flag + " " + path + ": " +
                             std::strerror(errno));
    }
  }
  try {
    core::MakeServerTlsContext(cert, key);
  } catch (const std::exception& e) {
    return std::unexpected("cannot load --tls-cert " + cert + " with --tls-key " + key + ": " +
                           e.what());
  }
  return {};
}

int RunCompute(const ComputeFlags& f) {
  // Whatever this process inherited is not its own (under `salvus up`, once,
  // the hub's sockets): its zygote and sessions must never see it.
  core::CloseAllExcept({0, 1, 2});
  if (f.exit_with_parent) {
    // Under `salvus up`: stop (cleanly) when it goes, however it goes.
    const pid_t parent = getppid();
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != parent) return 1;
  }
  core::InitLogging("compute", f.log_level, f.log_file);
  compute::ComputeOptions o;
  auto listen = core::ParseHostPort(f.listen);
  if (!listen) {
    std::cerr << "salvus compute: " << listen.error() << "\n";
    return 2;
  }
  o.listen = *listen;
  if (f.kernel != "sage" && f.kernel != "python") {
    std::cerr << "salvus compute: --kernel must be sage or python\n";
    return 2;
  }
  if (f.tls_cert.empty() != f.tls_key.empty()) {
    std::cerr << "salvus compute: --tls-cert and --tls-key go together\n";
    return 2;
  }
  if (!f.tls_cert.empty()) {
    if (auto r = CheckTlsFiles(f.tls_cert, f.tls_key); !r) {
      std::cerr << "salvus compute: " << r.error() << "\n";
      return 2;
    }
  }
  o.kernel = f.kernel;
  o.max_sessions = f.max_sessions;
  // No more ready workers than sessions that may run.
  o.pool_size = std::max(1u, std::min(f.pool, f.max_sessions));
  o.pool_max = std::max(o.pool_size, std::min(f.pool_max, f.max_sessions));
  o.pool_idle = std::chrono::seconds(f.pool_idle_s);
  o.tls_cert = f.tls_cert;
  o.tls_key = f.tls_key;
  o.isolate_network = f.isolate_network;
  o.uid_base = f.uid_base;
  o.uid_count = f.uid_count;
  o.port_file = f.port_file;
  o.default_limits = f.defaults;
  o.max_limits = f.maxima;
  o.root = geteuid() == 0;
  compute::StateDir state{f.state_dir, false};
  if (state.path.empty()) {
    auto d = compute::DefaultStateDir(o.root, std::getenv("XDG_RUNTIME_DIR"));
    if (!d) {
      std::cerr << "salvus compute: no state directory: " << d.error() << "\n";
      return 2;
    }
    state = *d;
  }
  o.state_dir = std::filesystem::absolute(state.path).lexically_normal().string();
  // A directory made for this run goes with it (after the zygote: declared first).
  struct RemoveAtExit {
    std::string path;
    ~RemoveAtExit() {
      if (!path.empty()) compute::RemoveTree(path);
    }
  } temporary{state.temporary ? o.state_dir : ""};
  if (!o.root) {
    spdlog::warn(
        "not running as root: sessions share this user's uid (no per-session uid, no "
        "RLIMIT_NPROC per session, no pid namespace; processes a session detaches may "
        "outlive it). Rlimits, process groups and deadlines still apply.");
  }

  // Session uids must be ours alone: another compute server (or user) in the
  // same range would have its processes killed by our session cleanup.
  if (o.root) {
    // A predecessor that just stopped may still be tearing down: give it 2 s.
    pid_t other = compute::AnyProcessWithUidIn(o.uid_base, o.uid_count);
    for (int i = 0; i < 40 && other > 0; ++i) {
      usleep(50 * 1000);
      other = compute::AnyProcessWithUidIn(o.uid_base, o.uid_count);
    }
    if (other > 0) {
      std::cerr << "salvus compute: process " << other << " already runs with a uid in "
                << o.uid_base << ".." << o.uid_base + o.uid_count - 1
                << " (another compute server?); choose another --uid-base\n";
      return 2;
    }
  }

  // Homes: <state>/homes/<worker>. Session uids must be able to reach their
  // own home, and nothing else: found out now, not at the first session.
  if (o.root) {
    if (const std::string closed = compute::FirstClosedToOthers(o.state_dir); !closed.empty()) {
      std::cerr << "salvus compute: session uids could not reach their homes in " << o.state_dir
                << ": " << closed
                << " lets no other user through; choose a --state-dir they can reach (every "
                   "folder above it with o+x)\n";
      return 2;
    }
  }
  if (auto r = compute::PrepareStateDir(o.state_dir, o.root); !r) {
    std::cerr << "salvus compute: state directory: " << r.error() << "\n";
    return 2;
  }
  if (state.temporary) spdlog::info("state directory (removed at exit): {}", o.state_dir);
  // Leftovers from a previous run that did not stop cleanly: its homes, and
  // what its session uids own in the shared temporary folders (sessions
  // write only into their own tmpfs now, which went with their namespaces;
  // an older version, or a crash between fork and namespace, wrote here).
  std::error_code ec;
  for (auto& e : std::filesystem::directory_iterator(o.state_dir + "/homes", ec)) {
    compute::RemoveTree(e.path().string());
  }
  if (o.root) {
    // Found out now, not at the first session.
    if (auto r = compute::TrySessionMounts(o.state_dir + "/homes/mount-trial"); !r) {
      std::cerr << "salvus compute: sessions cannot have mount namespaces of their own here "
                   "(root and Linux 5.12 or later are needed): "
                << r.error() << "\n";
      return 2;
    }
    for (const char* dir : {"/tmp", "/var/tmp", "/dev/shm", "/run/lock"}) {
      compute::RemoveEntriesOfUids(dir, o.uid_base, o.uid_count);
    }
    spdlog::info(
        "each session has its own mount namespace: home, /tmp, /var/tmp and /dev/shm in one "
        "tmpfs of {} (--disk-mb), the rest read-only, a /proc of its own processes; network: {}",
        f.disk_mb ? std::to_string(f.disk_mb) + " MB" : std::string("half the RAM"),
        o.isolate_network ? "none (--isolate-network)" : "the host's (no --isolate-network)");
  }

  // The zygote must be forked before any thread exists.
  compute::ZygoteConfig zc{o.kernel, o.state_dir, o.root, f.disk_mb};
  auto zygote = compute::ZygoteLink::Start(zc, o.root);
  if (!zygote) {
    std::cerr << "salvus compute: " << zygote.error() << "\n";
    return 2;
  }
  // Only now: the zygote, and so every worker, is a copy of this process's
  // memory, where a cell could read the token (freed copies included).
  auto token = core::ReadTokenFile(f.token_file);
  if (!token) {
    std::cerr << "salvus compute: " << token.error() << "\n";
    return 2;
  }
  o.token = *token;
  signal(SIGPIPE, SIG_IGN);
  asio::io_context io(1);
  compute::ZygoteLauncher launcher(io, std::move(*zygote));
  std::unique_ptr<compute::ComputeServer> server;
  try {
    server = std::make_unique<compute::ComputeServer>(io, o, launcher);
  } catch (const std::exception& e) {
    std::cerr << "salvus compute: " << e.what() << "\n";
    launcher.KillZygote();
    return 2;
  }
  compute::StatsFile stats(io, f.stats_file, [&server, max = o.max_sessions] {
    proto::ComputeStats s;
    s.set_sessions(static_cast<uint32_t>(server->sessions_in_use()));
    s.set_max_sessions(max);
    s.set_cpus(std::max(1u, std::thread::hardware_concurrency()));
    return s;
  });
  if (!f.stats_file.empty()) stats.Start();
  core::metrics::MetricsServer metrics(io, core::metrics::Default());
  if (!f.metrics_listen.empty()) {
    try {
      spdlog::info("metrics on http://{}/metrics (port {})", f.metrics_listen,
                   metrics.Start(f.metrics_listen));
    } catch (const std::exception& e) {
      std::cerr << "salvus compute: " << e.what() << "\n";
      launcher.KillZygote();
      return 2;
    }
  }
  asio::signal_set signals(io, SIGINT, SIGTERM);
  int exit_code = 0;
  signals.async_wait([&](boost::system::error_code ec, int sig) {
    if (ec) return;
    spdlog::info("signal {}: shutting down", sig);
    metrics.Stop();
    server->Stop();
  });
  asio::co_spawn(io, server->Run(), [&](const std::exception_ptr& e) {
    if (e) {
      try {
        std::rethrow_exception(e);
      } catch (const std::exception& ex) {
        spdlog::critical("compute server failed: {}", ex.what());
        exit_code = 1;
      }
    }
    if (!server->stopped_cleanly()) exit_code = exit_code ? exit_code : 1;
    // Let sessions' reapers finish (bounded), then leave.
    server->AfterStop([&io] { io.stop(); });
  });
  io.run();
  // Leave only when every session process is gone: the zygote is pid 1 of
  // their namespace, and the kernel reaps the namespace before the zygote.
  launcher.KillZygote();
  return exit_code;
}

}  // namespace

Command AddComputeCommand(CLI::App& app) {
  auto f = std::make_shared<ComputeFlags>();
  CLI::App* c = app.add_subcommand(
      "compute", "Run a compute server: hubs connect to it and run sessions in sandboxed workers");
  c->add_option("--listen", f->listen, "HOST:PORT to listen on (port 0: any free port)")
      ->capture_default_str();
  c->add_option("--token-file", f->token_file, "file holding the cluster token hubs must present")
      ->required();
  c->add_option("--kernel", f->kernel, "sage or python")->capture_default_str();
  c->add_option("--max-sessions", f->max_sessions, "sessions running at once")
      ->capture_default_str();
  c->add_option("--pool", f->pool, "preforked workers kept ready (at most --max-sessions)")
      ->capture_default_str();
  c->add_option("--pool-max", f->pool_max,
                "under a burst of starts the pool grows by one per start up to this many")
      ->capture_default_str();
  c->add_option("--pool-idle", f->pool_idle_s,
                "seconds without a start after which the pool shrinks back to --pool")
      ->capture_default_str();
  c->add_option("--tls-cert", f->tls_cert, "PEM certificate chain: serve TLS");
  c->add_option("--tls-key", f->tls_key, "PEM private key for --tls-cert");
  c->add_flag("--isolate-network", f->isolate_network,
              "give each session an empty network namespace (needs root)");
  c->add_option("--disk-mb", f->disk_mb,
                "disk space per session, MB, as root: its home, /tmp, /var/tmp and /dev/shm share "
                "one tmpfs this large (its pages count toward --memory-mb; 0: half the RAM)")
      ->capture_default_str();
  c->add_flag("--exit-with-parent", f->exit_with_parent,
              "stop when the parent process exits (used by `salvus up`)");
  c->add_option("--state-dir", f->state_dir,
                "folder for session homes, owned by this user (default /var/lib/salvus/compute "
                "as root; otherwise $XDG_RUNTIME_DIR/salvus-compute, or a fresh "
                "/tmp/salvus-compute-UID-XXXXXX removed at exit)");
  c->add_option("--uid-base", f->uid_base, "first session uid (as root)")->capture_default_str();
  c->add_option("--uid-count", f->uid_count, "number of session uids")->capture_default_str();
  c->add_option("--port-file", f->port_file, "write the listening port here once ready");
  c->add_option("--metrics-listen", f->metrics_listen,
                "HOST:PORT answering GET /metrics (Prometheus) with this server's figures; keep "
                "it on an operator's network");
  c->add_option("--stats-file", f->stats_file,
                "keep the sessions in use, --max-sessions and the cores here as JSON, for "
                "`salvus monitor --extra-file` (hubs place sessions by it)");
  c->add_option("--log-level", f->log_level, "trace, debug, info, warn, error")
      ->capture_default_str();
  c->add_option("--log-file", f->log_file, "log here instead of stderr");
  // Each limit: --NAME sets the default (and the ceiling a start request
  // cannot pass), --max-NAME raises the ceiling above the default.
  using Set = void (*)(proto::Limits*, double);
  auto limit = [c, f](const std::string& name, Set set, double def, const char* help) {
    c->add_option_function<double>(
        "--" + name, [f, set](double v) { set(&f->defaults, v); },
        fmt::format("{} (default {}; 0: none; requests may only lower it)", help, def));
    c->add_option_function<double>(
        "--max-" + name, [f, set](double v) { set(&f->maxima, v); },
        fmt::format("let a start request raise --{} up to this", name));
  };
  const auto& d = f->defaults;
  limit(
      "walltime", [](proto::Limits* l, double v) { l->set_walltime_s(v); }, d.walltime_s(),
      "session walltime limit, seconds");
  limit(
      "idle", [](proto::Limits* l, double v) { l->set_idle_s(v); }, d.idle_s(),
      "idle session limit, seconds");
  limit(
      "cputime", [](proto::Limits* l, double v) { l->set_cputime_s(v); }, d.cputime_s(),
      "CPU time limit per session, seconds");
  limit(
      "memory-mb", [](proto::Limits* l, double v) { l->set_memory_mb(Count<uint64_t>(v)); },
      static_cast<double>(d.memory_mb()), "memory a session may add to the warm image, MB");
  limit(
      "open-files", [](proto::Limits* l, double v) { l->set_open_files(Count<uint32_t>(v)); },
      d.open_files(), "open files per session");
  limit(
      "processes", [](proto::Limits* l, double v) { l->set_processes(Count<uint32_t>(v)); },
      d.processes(), "processes per session (as root)");
  limit(
      "file-size-mb", [](proto::Limits* l, double v) { l->set_file_size_mb(Count<uint64_t>(v)); },
      static_cast<double>(d.file_size_mb()), "largest file a session may write, MB");
  limit(
      "output-bytes", [](proto::Limits* l, double v) { l->set_output_bytes(Count<uint64_t>(v)); },
      static_cast<double>(d.output_bytes()), "output cap per request, bytes");
  return {c, [f] { return RunCompute(*f); }};
}

}  // namespace salvus::cli
