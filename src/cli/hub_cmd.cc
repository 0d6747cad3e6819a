// `salvus hub`: see src/hub/server.h.
#include <signal.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>

#include "cli/commands.h"
#include "core/log.h"
#include "core/tls.h"
#include "core/token.h"
#include "hub/origin.h"
#include "hub/proxy_from.h"
#include "hub/server.h"

namespace salvus::cli {

namespace {

struct HubFlags {
  std::string listen = "127.0.0.1:8080";
  std::vector<std::string> compute;
  std::string token_file;
  std::string web = DefaultWebDir();
  unsigned threads = 0;
  bool compute_tls = false;
  std::string compute_tls_ca;
  bool compute_tls_insecure = false;
  std::string tls_cert, tls_key;
  std::string port_file;
  std::string log_level = "info";
  std::string log_file;
  std::string db;
  std::vector<std::string> allow_origins;
  size_t blob_cache_mb = 256;
  double reconnect_grace_s = 120;
  std::string memcached;
  double discover_interval_s = 2;
  double stale_after_s = 20;
  std::string vault;
  std::string vault_ca;
  hub::HubOptions limits;  // the limits set by AddHubLimitOptions
};

}  // namespace

std::expected<hub::HubOptions, std::string> HubOptionsFrom(const std::string& listen,
                                                           const std::vector<std::string>& compute,
                                                           const std::string& token_file,
                                                           const std::string& web) {
  hub::HubOptions o;
  auto l = core::ParseHostPort(listen);
  if (!l) return std::unexpected(l.error());
  o.listen = *l;
  for (const auto& c : compute) {
    auto a = core::ParseHostPort(c);
    if (!a) return std::unexpected(a.error());
    o.compute.push_back(*a);
  }
  auto t = core::ReadTokenFile(token_file);
  if (!t) return std::unexpected(t.error());
  o.token = *t;
  if (!std::filesystem::exists(web + "/index.html")) {
    return std::unexpected("no web client in " + web + " (build it with `make`)");
  }
  o.web_root = web;
  return o;
}

void AddHubLimitOptions(CLI::App* c, hub::HubOptions* o, double* grace_s) {
  c->add_option("--password-cost", o->password_cost,
                "Argon2id cost of account passwords: interactive, moderate, sensitive (min: "
                "tests only); older hashes are redone at the next sign-in")
      ->capture_default_str()
      ->check(CLI::IsMember({"interactive", "moderate", "sensitive", "min"}));
  c->add_option("--password-threads", o->password_threads,
                "threads hashing passwords, off the event loops")
      ->capture_default_str()
      ->check(CLI::Range(1u, 64u));
  c->add_option("--password-queue", o->password_queue,
                "sign-ins that may wait for a hashing thread; more are told to try again")
      ->capture_default_str();
  c->add_option("--sign-in-free-failures", o->sign_in_free_failures,
                "failed sign-ins per account and per address before each next try must wait "
                "(1 s, doubling, at most 15 min)")
      ->capture_default_str()
      ->check(CLI::Range(0, 1000));
  c->add_option("--reconnect-grace", *grace_s,
                "seconds a page that lost its connection has to reconnect and get its session "
                "back (0: sessions end with the connection)")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 86400.0));
  c->add_option("--max-message-rate", o->max_message_rate,
                "messages per second one connection may send (bursts of a second's worth pass; "
                "a request sent while none of its own is in flight is free); faster senders "
                "are slowed down, nothing is dropped (0: no limit)")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 1e9));
  c->add_option_function<double>(
       "--http-timeout",
       [o](double s) { o->http_read_timeout = std::chrono::milliseconds(int64_t(s * 1000)); },
       fmt::format("seconds a client has to send an HTTP request, headers and body (a slower "
                   "one, or an idle keep-alive connection, is closed; default {})",
                   std::chrono::duration<double>(o->http_read_timeout).count()))
      ->check(CLI::Range(0.1, 3600.0));
  c->add_option_function<double>(
       "--blob-max-age", [o](double s) { o->blob_max_age = std::chrono::seconds(int64_t(s)); },
       fmt::format("seconds an image or file (blob) stays in the database after it was last "
                   "produced, unless a permalink refers to it (0: for ever; default {}, 7 days)",
                   o->blob_max_age.count()))
      ->check(CLI::Range(0.0, 1e10));
  c->add_option("--metrics-listen", o->metrics_listen,
                "HOST:PORT answering GET /metrics (Prometheus) with the hub's figures; keep it on "
                "an operator's network");
  c->add_option("--max-connections", o->max_connections,
                "connections held at once; past it new ones get 503 (/healthz still answers)")
      ->capture_default_str()
      ->check(CLI::Range(size_t{1}, size_t{10000000}));
  c->add_option("--max-connections-per-address", o->max_connections_per_address,
                "connections one client address (IPv6: one /64) may hold at once; past it new "
                "ones get 429 (/healthz still answers; 0: no limit)")
      ->capture_default_str();
  c->add_option_function<size_t>(
       "--max-send-queue-kb", [o](size_t kb) { o->max_send_queue = kb << 10; },
       fmt::format("KiB waiting to be sent to one connection past which its messages are not read "
                   "and its sessions pause (their output waits in their workers) until half of "
                   "it left (default {}; 0: no limit)",
                   o->max_send_queue >> 10))
      ->check(CLI::Range(size_t{0}, size_t{1} << 22));
  c->add_option_function<double>(
       "--slow-reader-timeout",
       [o](double s) {
         o->slow_reader_timeout = std::chrono::milliseconds(static_cast<int64_t>(s * 1000));
       },
       fmt::format("seconds a connection may stay over --max-send-queue-kb; then it is closed "
                   "(1008 \"too slow\"; its sessions wait for a resume) (default {})",
                   std::chrono::duration<double>(o->slow_reader_timeout).count()))
      ->check(CLI::Range(0.1, 86400.0));
  c->add_option("--max-sessions-per-connection", o->max_sessions_per_connection,
                "sessions one connection may hold; past it a start gets RESOURCE_EXHAUSTED "
                "(0: no limit)")
      ->capture_default_str();
  c->add_option("--max-sessions-per-address", o->max_sessions_per_address,
                "sessions one client address may hold, over all its connections, detached ones "
                "included; past it a start ends the address's session detached longest ago, or "
                "gets RESOURCE_EXHAUSTED when none is (0: no limit)")
      ->capture_default_str();
  c->add_option("--proxy-from", o->proxy_from,
                "ADDR[,ADDR...]: the proxies (haproxy with send-proxy-v2) in front of this hub, "
                "addresses or CIDR networks; their connections must open with a PROXY header "
                "(v2 or v1) and count as the client it names; nobody else may send one")
      ->delimiter(',')
      ->check([](const std::string& s) {
        auto p = hub::ProxyFrom::Parse({s});
        return p ? std::string() : p.error();
      });
  c->add_option_function<double>(
       "--proxy-header-timeout",
       [o](double s) { o->proxy_header_timeout = std::chrono::milliseconds(int64_t(s * 1000)); },
       fmt::format("seconds a --proxy-from connection has to send its PROXY header (default {})",
                   std::chrono::duration<double>(o->proxy_header_timeout).count()))
      ->check(CLI::Range(0.01, 3600.0));
  c->add_option("--public-origin", o->public_origin,
                "the site's address as browsers see it behind a proxy, e.g. https://salvus.example:"
                " its pages may open /ws (instead of those from the address a connection reached)")
      ->check([](const std::string& s) {
        return hub::ParsePublicOrigin(s) ? std::string() : "not scheme://host[:port]: " + s;
      });
  // The ceiling of what a page may ask for; 0: none at the hub.
  proto::Limits* m = &o->max_session_limits;
  c->add_option_function<double>(
      "--max-session-walltime", [m](double v) { m->set_walltime_s(v); },
      fmt::format("the longest walltime limit a page may ask for, s (default {})",
                  m->walltime_s()));
  c->add_option_function<double>(
      "--max-session-idle", [m](double v) { m->set_idle_s(v); },
      fmt::format("the longest idle limit a page may ask for, s (default {})", m->idle_s()));
  c->add_option_function<double>(
      "--max-session-cputime", [m](double v) { m->set_cputime_s(v); },
      fmt::format("the most CPU time a page may ask for, s (default {})", m->cputime_s()));
  c->add_option_function<uint64_t>(
      "--max-session-memory-mb", [m](uint64_t v) { m->set_memory_mb(v); },
      fmt::format("the most memory a page may ask for, MB (default {})", m->memory_mb()));
  c->add_option_function<uint32_t>(
      "--max-session-open-files", [m](uint32_t v) { m->set_open_files(v); },
      fmt::format("the most open files a page may ask for (default {})", m->open_files()));
  c->add_option_function<uint32_t>(
      "--max-session-processes", [m](uint32_t v) { m->set_processes(v); },
      fmt::format("the most processes a page may ask for (default {})", m->processes()));
  c->add_option_function<uint64_t>(
      "--max-session-file-size-mb", [m](uint64_t v) { m->set_file_size_mb(v); },
      fmt::format("the largest file size a page may ask for, MB (default {})", m->file_size_mb()));
  c->add_option_function<uint64_t>(
      "--max-session-output-bytes", [m](uint64_t v) { m->set_output_bytes(v); },
      fmt::format("the most output per request a page may ask for (default {})",
                  m->output_bytes()));
}

void CopyHubLimits(const hub::HubOptions& from, hub::HubOptions* to) {
  to->password_cost = from.password_cost;
  to->password_threads = from.password_threads;
  to->password_queue = from.password_queue;
  to->sign_in_free_failures = from.sign_in_free_failures;
  to->max_message_rate = from.max_message_rate;
  to->http_read_timeout = from.http_read_timeout;
  to->blob_max_age = from.blob_max_age;
  to->metrics_listen = from.metrics_listen;
  to->max_connections = from.max_connections;
  to->max_connections_per_address = from.max_connections_per_address;
  to->max_send_queue = from.max_send_queue;
  to->slow_reader_timeout = from.slow_reader_timeout;
  to->max_sessions_per_connection = from.max_sessions_per_connection;
  to->max_sessions_per_address = from.max_sessions_per_address;
  to->max_session_limits = from.max_session_limits;
  to->proxy_from = from.proxy_from;
  to->proxy_header_timeout = from.proxy_header_timeout;
  to->public_origin = from.public_origin;
}

namespace {
sigset_t StopSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  return set;
}
}  // namespace

// Blocks until SIGINT or SIGTERM.
int WaitForSignal() {
  const sigset_t set = StopSignals();
  int sig = 0;
  sigwait(&set, &sig);
  return sig;
}

void BlockStopSignals() {
  const sigset_t set = StopSignals();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  signal(SIGPIPE, SIG_IGN);
}

Command AddHubCommand(CLI::App& app) {
  auto f = std::make_shared<HubFlags>();
  CLI::App* c =
      app.add_subcommand("hub", "Serve the web page and route browsers to compute servers");
  c->add_option("--listen", f->listen, "HOST:PORT for browsers (http and WebSocket /ws)")
      ->capture_default_str();
  c->add_option("--compute", f->compute,
                "compute servers, HOST:PORT[,HOST:PORT...] (with --db, more are learnt from the "
                "database)")
      ->delimiter(',');
  c->add_option("--token-file", f->token_file, "file holding the cluster token")->required();
  c->add_option("--web", f->web, "folder of the built web client")->capture_default_str();
  c->add_option("--threads", f->threads, "event loop threads (0: one per core)")
      ->capture_default_str();
  c->add_option("--tls-cert", f->tls_cert, "PEM certificate chain: serve https and wss");
  c->add_option("--tls-key", f->tls_key, "PEM private key for --tls-cert");
  c->add_flag("--compute-tls", f->compute_tls,
              "connect to compute servers with TLS, their certificates checked against "
              "--compute-tls-ca (or the system's trusted CAs) and the host name dialled");
  c->add_option("--compute-tls-ca", f->compute_tls_ca,
                "PEM file of the CA that signs the compute servers' certificates (implies "
                "--compute-tls)");
  c->add_flag("--compute-tls-insecure", f->compute_tls_insecure,
              "TLS to compute servers WITHOUT checking their certificates: whoever answers at "
              "their addresses gets the cluster token (for tests; implies --compute-tls)");
  c->add_option("--port-file", f->port_file, "write the listening port here once ready");
  c->add_option("--log-level", f->log_level, "trace, debug, info, warn, error")
      ->capture_default_str();
  c->add_option("--log-file", f->log_file, "log here instead of stderr");
  c->add_option("--db", f->db,
                "database for permalinks, blobs, services: sqlite:PATH or postgresql://...");
  c->add_option("--allow-origin", f->allow_origins,
                "another site whose pages may use this hub (embedded cells), e.g. "
                "https://example.org; * allows any; repeatable")
      ->delimiter(',');
  c->add_option("--blob-cache-mb", f->blob_cache_mb, "images and files kept in memory (MB)")
      ->capture_default_str();
  AddHubLimitOptions(c, &f->limits, &f->reconnect_grace_s);
  c->add_option("--vault", f->vault,
                "HOST:PORT of the vault (salvus vault): accounts, with --db; a vault on another "
                "host needs --vault-ca");
  c->add_option("--vault-ca", f->vault_ca,
                "PEM file of the CA that signs the vault's certificate: reach it over TLS");
  c->add_option("--memcached", f->memcached,
                "HOST:PORT[,HOST:PORT...] of memcached, read before the database for the "
                "compute servers' reports (optional)");
  c->add_option("--discover-interval", f->discover_interval_s,
                "seconds between reads of the running compute servers and their load (with --db)")
      ->capture_default_str()
      ->check(CLI::Range(0.05, 3600.0));
  c->add_option("--stale-after", f->stale_after_s,
                "a compute server whose newest report is older than this many seconds gets no "
                "new sessions")
      ->capture_default_str()
      ->check(CLI::Range(0.1, 86400.0));
  return {
      c, [f] {
        core::InitLogging("hub", f->log_level, f->log_file);
        auto o = HubOptionsFrom(f->listen, f->compute, f->token_file, f->web);
        if (!o) {
          std::cerr << "salvus hub: " << o.error() << "\n";
          return 2;
        }
        if (f->tls_cert.empty() != f->tls_key.empty()) {
          std::cerr << "salvus hub: --tls-cert and --tls-key go together\n";
          return 2;
        }
        if (f->compute.empty() && f->db.empty()) {
          std::cerr << "salvus hub: give --compute HOST:PORT, or --db to learn the compute "
                       "servers from the database\n";
          return 2;
        }
        if (!f->memcached.empty() && f->db.empty()) {
          std::cerr << "salvus hub: --memcached caches what --db says; give --db too\n";
          return 2;
        }
        o->tls_cert = f->tls_cert;
        o->tls_key = f->tls_key;
        o->threads = f->threads;
        if (f->compute_tls_insecure && !f->compute_tls_ca.empty()) {
          std::cerr << "salvus hub: --compute-tls-insecure checks no certificate; it makes "
                       "no sense with --compute-tls-ca\n";
          return 2;
        }
        o->compute_tls = f->compute_tls || !f->compute_tls_ca.empty() || f->compute_tls_insecure;
        o->compute_tls_ca = f->compute_tls_ca;
        o->compute_tls_insecure = f->compute_tls_insecure;
        if (o->compute_tls_insecure) {
          spdlog::warn(
              "--compute-tls-insecure: compute servers' certificates are NOT checked; "
              "whoever answers at their addresses gets the cluster token");
        }
        if (!o->compute_tls_ca.empty()) {
          try {
            core::MakeClientTlsContext({o->compute_tls_ca, false});
          } catch (const std::exception& e) {
            std::cerr << "salvus hub: cannot read --compute-tls-ca " << o->compute_tls_ca << ": "
                      << e.what() << "\n";
            return 2;
          }
        }
        o->db = f->db;
        o->allow_origins = f->allow_origins;
        o->blob_cache_bytes = f->blob_cache_mb << 20;
        o->reconnect_grace =
            std::chrono::milliseconds(static_cast<int64_t>(f->reconnect_grace_s * 1000));
        o->memcached = f->memcached;
        if (!f->vault.empty()) {
          auto v = core::ParseHostPort(f->vault);
          if (!v) {
            std::cerr << "salvus hub: --vault: " << v.error() << "\n";
            return 2;
          }
          o->vault = *v;
        }
        o->vault_tls_ca = f->vault_ca;
        o->discover_interval =
            std::chrono::milliseconds(static_cast<int64_t>(f->discover_interval_s * 1000));
        o->stale_after = std::chrono::milliseconds(static_cast<int64_t>(f->stale_after_s * 1000));
        CopyHubLimits(f->limits, &*o);
        BlockStopSignals();  // before any thread starts, so sigwait gets them
        hub::Hub hub(*o);
        uint16_t port;
        try {
          port = hub.Start();
        } catch (const std::exception& e) {
          std::cerr << "salvus hub: cannot start on " << f->listen << ": " << e.what() << "\n";
          return 2;
        }
        if (!hub.WaitForCompute(std::chrono::seconds(10))) {
          spdlog::warn(
              "not every compute server is reachable yet; sessions start on those "
              "that are, and on the others once they answer");
        }
        spdlog::info("hub listening on {}://{}:{}", o->tls_cert.empty() ? "http" : "https",
                     o->listen.host, port);
        if (!f->port_file.empty()) std::ofstream(f->port_file) << port << "\n";
        int sig = WaitForSignal();
        spdlog::info("signal {}: shutting down", sig);
        hub.Stop();
        return 0;
      }};
}

}  // namespace salvus::cli
