// `salvus up`: the embedded default. One compute server and one vault
// (child processes, restarted if they die) and a hub in this process, data
// in one folder.
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <mutex>
#include <optional>
#include <thread>

#include "cli/commands.h"
#include "cli/up_monitors.h"
#include "cli/up_places.h"
#include "compute/sandbox.h"
#include "core/hex.h"
#include "core/log.h"

extern char** environ;

namespace salvus::cli {

namespace {

namespace fs = std::filesystem;

struct UpFlags {
  std::string host = "127.0.0.1";
  uint16_t port = 8080;
  std::string data = "data";
  std::string web = DefaultWebDir();
  std::string kernel = "sage";
  unsigned max_sessions = 32;
  unsigned uid_base = 0;  // 0: the first free block from 200000
  unsigned disk_mb = 1024;
  bool no_isolate_network = false;
  std::string tls_cert, tls_key;
  std::string db, memcached;
  std::vector<std::string> allow_origins;
  double reconnect_grace_s = 120;
  std::string log_level = "info";
  std::string compute_metrics_listen;
  bool monitor = true;  // monitors of the hub and compute server (up_monitors.h)
  double monitor_interval_s = 6;
  // A classroom opens the page at once: enough ready workers that a burst of 20
  // starts finds one each (a fork of the warm zygote costs ~15 ms of CPU
  // here, so starts beyond the pool queue behind each other). A ready worker
  // costs ~5 MB of its own memory.
  unsigned pool = 20, pool_max = 32;
  bool no_accounts = false;
  std::string smtp_url;
  std::string mail_from = "noreply@salvus.invalid";
  hub::HubOptions limits;  // the limits set by AddHubLimitOptions
};

uint16_t FreePort() {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    close(fd);
    return 0;
  }
  close(fd);
  return ntohs(a.sin_port);
}

std::string EnsureToken(const std::string& data) {
  const std::string path = data + "/token";
  if (!fs::exists(path)) {
    const std::string hex = core::RandomHex(32);
    int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd >= 0) {
      (void)!write(fd, (hex + "\n").data(), hex.size() + 1);
      close(fd);
    }
  }
  return path;
}

// A child (the compute server, the vault), restarted on the same port if it
// dies.
class ComputeChild {
 public:
  ComputeChild(std::vector<std::string> args, std::string port_file, std::string pid_file,
               std::string name = "compute server")
      : args_(std::move(args)),
        port_file_(std::move(port_file)),
        pid_file_(std::move(pid_file)),
        name_(std::move(name)) {}

  bool Spawn() {
    std::vector<char*> argv;
    for (auto& a : args_) argv.push_back(a.data());
    argv.push_back(nullptr);
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    sigset_t none;
    sigemptyset(&none);
    posix_spawnattr_setsigmask(&attr, &none);  // our stop signals are blocked for sigwait
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK);
    // Only stdio: never the hub's listening socket or its browsers'
    // connections (asio opens them without close-on-exec, and another
    // thread may be between accept and setting it).
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addclosefrom_np(&fa, 3);
    fs::remove(port_file_);
    pid_t pid;
    int rc = posix_spawn(&pid, "/proc/self/exe", &fa, &attr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    if (rc != 0) return false;
    pid_ = pid;
    std::ofstream(pid_file_) << pid << "\n";  // for its monitor
    return true;
  }

  // Waits until it listens (or died, or `timeout`).
  bool WaitReady(std::chrono::seconds timeout) {
    const auto end = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < end) {
      if (fs::exists(port_file_)) return true;
      int status;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return false;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
  }

  // Restarts the child whenever it exits, until Stop().
  void Supervise() {
    supervisor_ = std::thread([this] {
      while (!stopping_) {
        int status;
        pid_t p = pid_;
        if (p <= 0 || waitpid(p, &status, 0) != p) {
          std::this_thread::sleep_for(std::chrono::milliseconds(200));
          continue;
        }
        if (stopping_) break;
        spdlog::warn("{} exited (status {}); restarting it", name_, status);
        std::this_thread::sleep_for(std::chrono::milliseconds(500));
        if (!stopping_ && Spawn() && WaitReady(std::chrono::seconds(120))) {
          spdlog::info("{} is back", name_);
        }
      }
    });
  }

  void Stop() {
    stopping_ = true;
    pid_t p = pid_;
    if (p > 0) {
      kill(p, SIGTERM);
      for (int i = 0; i < 100; ++i) {
        if (kill(p, 0) != 0) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
      }
      kill(p, SIGKILL);
    }
    if (supervisor_.joinable()) supervisor_.join();
    if (p > 0) waitpid(p, nullptr, WNOHANG);
  }

 private:
  std::vector<std::string> args_;
  std::string port_file_;
  std::string pid_file_;
  std::string name_;
  std::atomic<pid_t> pid_{-1};
  std::atomic<bool> stopping_{false};
  std::thread supervisor_;
};

// The vault's arguments: keys made on first start (unencrypted: one
// machine), its file and the mail folder under `data`.
std::vector<std::string> VaultArgs(const UpFlags& f, const std::string& data,
                                   const std::string& token, uint16_t port,
                                   const std::string& site_url) {
  std::vector<std::string> a = {"salvus",
                                "vault",
                                "--keys",
                                data + "/vault/keys",
                                "--no-passphrase",
                                "--create",
                                "--token-file",
                                token,
                                "--db",
                                data + "/vault/vault.sqlite",
                                "--listen",
                                "127.0.0.1:" + std::to_string(port),
                                "--port-file",
                                data + "/vault.port",
                                "--site-url",
                                site_url,
                                "--mail-from",
                                f.mail_from,
                                "--log-file",
                                data + "/vault.log",
                                "--log-level",
                                f.log_level,
                                "--exit-with-parent"};
  if (f.smtp_url.empty()) {
    a.insert(a.end(), {"--mail-dir", data + "/mail"});
  } else {
    a.insert(a.end(), {"--smtp-url", f.smtp_url});
  }
  return a;
}

int RunUp(const UpFlags& f) {
  // What this process and its compute server write is theirs alone unless
  // made otherwise (the database, its -wal and -shm, logs, ports).
  umask(077);
  core::InitLogging("up", f.log_level);
  std::error_code ec;
  fs::create_directories(f.data, ec);
  if (ec) {
    std::cerr << "salvus up: cannot create " << f.data << ": " << ec.message() << "\n";
    return 2;
  }
  const std::string data = fs::absolute(f.data).lexically_normal().string();
  const bool root = geteuid() == 0;
  auto homes = PlaceSessionHomes(data, root);
  if (!homes) {
    std::cerr << "salvus up: " << homes.error() << "\n";
    return 2;
  }
  struct RemoveAtExit {
    std::string path;
    ~RemoveAtExit() {
      if (!path.empty()) compute::RemoveTree(path);
    }
  } own_homes{homes->own ? homes->state_dir : ""};
  if (homes->own) {
    spdlog::info("session homes are in {} (session uids cannot pass through a folder above {})",
                 homes->state_dir, data);
  }
  if (auto r = MakeDataPrivate(data, root && !homes->own); !r) {
    std::cerr << "salvus up: " << r.error() << "\n";
    return 2;
  }
  unsigned uid_base = f.uid_base != 0 ? f.uid_base : 200000;
  if (root && f.uid_base == 0) {
    auto b = PickUidBlock(200000, 1000, 10);
    if (!b) {
      std::cerr << "salvus up: " << b.error() << "\n";
      return 2;
    }
    uid_base = *b;
    spdlog::info("session uids {}..{} (--uid-base chooses others)", uid_base, uid_base + 999);
  }
  if (!fs::exists(f.web + "/index.html")) {
    std::cerr << "salvus up: no web client in " << f.web << " (build it with `make`)\n";
    return 2;
  }
  const std::string token = EnsureToken(data);
  const uint16_t cport = FreePort();
  const std::string caddr = "127.0.0.1:" + std::to_string(cport);
  std::vector<std::string> compute_args = {"salvus",
                                           "compute",
                                           "--listen",
                                           caddr,
                                           "--token-file",
                                           token,
                                           "--kernel",
                                           f.kernel,
                                           "--max-sessions",
                                           std::to_string(f.max_sessions),
                                           "--state-dir",
                                           homes->state_dir,
                                           "--log-file",
                                           data + "/compute.log",
                                           "--log-level",
                                           f.log_level,
                                           "--port-file",
                                           data + "/compute.port",
                                           "--exit-with-parent",
                                           "--uid-base",
                                           std::to_string(uid_base),
                                           "--disk-mb",
                                           std::to_string(f.disk_mb)};
  if (!f.compute_metrics_listen.empty()) {
    compute_args.insert(compute_args.end(), {"--metrics-listen", f.compute_metrics_listen});
  }
  if (f.monitor) compute_args.insert(compute_args.end(), {"--stats-file", ComputeStatsFile(data)});
  compute_args.insert(compute_args.end(), {"--pool", std::to_string(f.pool), "--pool-max",
                                           std::to_string(std::max(f.pool, f.pool_max))});
  // Everything runs on this machine, the hub's port included: sessions get
  // no network unless asked, wherever the machine allows it.
  if (f.no_isolate_network) {
    spdlog::warn(
        "--no-isolate-network: cells can reach this machine's network, the hub's and "
        "the compute server's ports included");
  } else if (!root) {
    spdlog::warn(
        "cells can reach this machine's network, the hub's port included (isolating "
        "sessions' network needs root)");
  } else if (auto r = compute::CanIsolateNetwork(); !r) {
    spdlog::warn("cells can reach this machine's network, the hub's port included: {}", r.error());
  } else {
    compute_args.push_back("--isolate-network");
    spdlog::info(
        "sessions have no network: an empty network namespace each "
        "(--no-isolate-network gives them this machine's)");
  }
  BlockStopSignals();
  ComputeChild compute(std::move(compute_args), data + "/compute.port", ComputePidFile(data));
  std::cout << "Starting Sage (a few seconds)..." << std::endl;
  if (!compute.Spawn() || !compute.WaitReady(std::chrono::seconds(180))) {
    std::cerr << "salvus up: the compute server did not start; see " << data << "/compute.log\n";
    compute.Stop();
    return 1;
  }
  compute.Supervise();
  auto o = HubOptionsFrom(f.host + ":" + std::to_string(f.port), {caddr}, token, f.web);
  if (!o) {
    std::cerr << "salvus up: " << o.error() << "\n";
    compute.Stop();
    return 2;
  }
  if (f.tls_cert.empty() != f.tls_key.empty()) {
    std::cerr << "salvus up: --tls-cert and --tls-key go together\n";
    compute.Stop();
    return 2;
  }
  o->tls_cert = f.tls_cert;
  o->tls_key = f.tls_key;
  o->db = f.db.empty() ? "sqlite:" + data + "/salvus.db" : f.db;
  o->memcached = f.memcached;
  o->allow_origins = f.allow_origins;
  o->reconnect_grace = std::chrono::milliseconds(static_cast<int64_t>(f.reconnect_grace_s * 1000));
  CopyHubLimits(f.limits, &*o);
  // The vault starts once the hub's port (for links in mails) is known; the
  // hub reaches it on the first sign-in.
  const uint16_t vport = f.no_accounts ? 0 : FreePort();
  if (!f.no_accounts) o->vault = {"127.0.0.1", vport};
  hub::Hub hub(*o);
  uint16_t port;
  try {
    port = hub.Start();
  } catch (const std::exception& e) {
    std::cerr << "salvus up: cannot start the hub on " << f.host << ":" << f.port << ": "
              << e.what() << "\n";
    compute.Stop();
    return 2;
  }
  // Sessions can start once the hub is connected to the compute server:
  // only then tell anyone the port.
  if (!hub.WaitForCompute(std::chrono::seconds(30))) {
    spdlog::warn("the hub is not connected to the compute server yet; see {}/compute.log", data);
  }
  std::optional<ComputeChild> vault;
  if (!f.no_accounts) {
    fs::create_directories(data + "/vault", ec);
    fs::permissions(data + "/vault", fs::perms::owner_all, ec);
    const std::string site = std::string(f.tls_cert.empty() ? "http" : "https") + "://" + f.host +
                             ":" + std::to_string(port);
    vault.emplace(VaultArgs(f, data, token, vport, site), data + "/vault.port", data + "/vault.pid",
                  "vault");
    if (!vault->Spawn() || !vault->WaitReady(std::chrono::seconds(30))) {
      spdlog::error("the vault did not start (see {}/vault.log): accounts are unavailable", data);
    } else {
      vault->Supervise();
      spdlog::info(
          "accounts: a vault beside the hub, its keys in {}/vault/keys (0600, NOT encrypted: "
          "a production vault wants a passphrase, see `salvus vault init`)",
          data);
    }
  }
  std::optional<UpMonitors> monitors;
  if (f.monitor) {
    monitors.emplace(UpMonitorOptions{
        .db = o->db,
        .memcached = f.memcached,
        .data = data,
        .hub_address = f.host,
        .hub_port = port,
        .compute_address = "127.0.0.1",
        .compute_port = cport,
        .interval = std::chrono::milliseconds(static_cast<int64_t>(f.monitor_interval_s * 1000))});
    if (auto r = monitors->Start(); !r) spdlog::error("--monitor: {}", r.error());
  }
  std::ofstream(data + "/hub.port") << port << "\n";
  const std::string url = std::string(f.tls_cert.empty() ? "http" : "https") + "://" + f.host +
                          ":" + std::to_string(port);
  std::cout << "Salvus is running at " << url << "/  (Ctrl-C stops it)\n"
            << "Operator's page: " << url << "/admin from this machine, with the token in " << token
            << (f.monitor ? "" : " (without --no-monitor it would show up's own services)")
            << std::endl;
  if (vault && f.smtp_url.empty()) {
    std::cout << "Accounts: without --smtp-url, mails (password resets) are written to " << data
              << "/mail/" << std::endl;
  }
  WaitForSignal();
  std::cout << "stopping..." << std::endl;
  if (monitors) monitors->Stop();
  hub.Stop();
  if (vault) vault->Stop();
  compute.Stop();
  return 0;
}

}  // namespace

Command AddUpCommand(CLI::App& app) {
  auto f = std::make_shared<UpFlags>();
  CLI::App* c = app.add_subcommand(
      "up", "Run everything on this machine: a hub and a compute server, data in one folder");
  c->add_option("--host", f->host, "address for browsers")->capture_default_str();
  c->add_option("--port", f->port, "port for browsers (0: any free port)")->capture_default_str();
  c->add_option("--data", f->data, "data folder (token, session homes, logs)")
      ->capture_default_str();
  c->add_option("--web", f->web, "folder of the built web client")->capture_default_str();
  c->add_option("--kernel", f->kernel, "sage or python")->capture_default_str();
  c->add_option("--max-sessions", f->max_sessions, "sessions at once")->capture_default_str();
  c->add_option("--uid-base", f->uid_base,
                "first of 1000 session uids (as root; default: the first block of 200000, "
                "201000, ... 209000 that nothing else uses)");
  c->add_option("--disk-mb", f->disk_mb,
                "disk space per session, MB (as root; see `salvus compute --help`)")
      ->capture_default_str();
  c->add_flag("--no-isolate-network", f->no_isolate_network,
              "let cells use this machine's network (as root, sessions have none by default)");
  c->add_option("--tls-cert", f->tls_cert, "PEM certificate chain: serve https and wss");
  c->add_option("--tls-key", f->tls_key, "PEM private key for --tls-cert");
  c->add_option("--db", f->db, "database URL (default: sqlite:DATA/salvus.db)");
  c->add_option("--memcached", f->memcached,
                "HOST:PORT[,HOST:PORT...] of memcached, read before the database for the compute "
                "servers' reports (as `salvus hub --memcached`)");
  c->add_option("--allow-origin", f->allow_origins,
                "another site whose pages may embed cells from this hub; repeatable")
      ->delimiter(',');
  c->add_option("--pool", f->pool, "workers kept ready for new sessions (about 5 MB each)")
      ->capture_default_str();
  c->add_option("--pool-max", f->pool_max,
                "under a burst of starts the pool grows by one per start up to this many")
      ->capture_default_str();
  c->add_option("--compute-metrics-listen", f->compute_metrics_listen,
                "HOST:PORT answering GET /metrics with the compute server's figures "
                "(--metrics-listen: the hub's)");
  c->add_flag("--monitor,!--no-monitor", f->monitor,
              "watch the hub and the compute server as `salvus monitor` would (status rows and "
              "the compute server's log in the database: /admin and `salvus status` show them; "
              "on unless --no-monitor)");
  c->add_option("--monitor-interval", f->monitor_interval_s, "seconds between status rows")
      ->check(CLI::Range(0.05, 3600.0))
      ->capture_default_str();
  c->add_flag("--no-accounts", f->no_accounts,
              "start no vault: sign-up and sign-in answer that accounts are unavailable");
  c->add_option("--smtp-url", f->smtp_url,
                "the vault's mail relay, smtp://HOST:PORT (default: mails written to DATA/mail/)");
  c->add_option("--mail-from", f->mail_from, "the sender of the vault's mails")
      ->capture_default_str();
  c->add_option("--log-level", f->log_level, "trace, debug, info, warn, error (hub and compute)")
      ->capture_default_str();
  AddHubLimitOptions(c, &f->limits, &f->reconnect_grace_s);
  return {c, [f] { return RunUp(*f); }};
}

}  // namespace salvus::cli
