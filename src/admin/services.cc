#include "admin/services.h"

#include <pwd.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <ostream>
#include <thread>

#include "admin/probe.h"
#include "admin/templates.h"
#include "admin/vrrp.h"

namespace salvus::admin {

namespace fs = std::filesystem;

namespace {

std::optional<uid_t> UserUid(const char* name) {
  const passwd* pw = getpwnam(name);
  if (!pw) return std::nullopt;
  return pw->pw_uid;
}

// Root runs PostgreSQL as `postgres` and memcached as `memcache` (or
// nobody); anyone else runs them as themselves.
std::optional<uid_t> ServiceUser(ServiceType t) {
  if (geteuid() != 0) return std::nullopt;
  if (t == ServiceType::kPostgresql) return UserUid("postgres");
  if (t == ServiceType::kMemcached) {
    auto u = UserUid("memcache");
    return u ? u : UserUid("nobody");
  }
  return std::nullopt;
}

std::string PostgresBin(const std::string& program) {
  std::vector<std::string> found;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator("/usr/lib/postgresql", ec)) {
    if (fs::exists(e.path() / "bin" / program)) found.push_back(e.path() / "bin" / program);
  }
  std::sort(found.begin(), found.end(), [](const std::string& a, const std::string& b) {
    return a.size() != b.size() ? a.size() < b.size() : a < b;  // the newest version
  });
  return found.empty() ? program : found.back();
}

std::string LogTail(const fs::path& log) {
  std::string s = ReadSmallFile(log);
  if (s.size() > 2000) s = "..." + s.substr(s.size() - 2000);
  return s;
}

void Chown(const fs::path& path, std::optional<uid_t> uid) {
  if (!uid) return;
  const passwd* pw = getpwuid(*uid);
  if (pw) (void)!chown(path.c_str(), pw->pw_uid, pw->pw_gid);
}

std::expected<void, std::string> WriteOwned(const fs::path& path, const std::string& content,
                                            std::optional<uid_t> uid, bool* changed = nullptr) {
  auto w = WriteIfChanged(path, content, 0600);
  if (!w) return std::unexpected(w.error());
  if (changed) *changed = *w;
  Chown(path, uid);
  return {};
}

// initdb once, the configuration every time (reloaded when it changed).
std::expected<void, std::string> PreparePostgres(const Context& ctx, const Service& s,
                                                 bool* reload) {
  const auto uid = ServiceUser(s.type);
  const fs::path data = ctx.paths.data / s.name;
  const fs::path sock = ctx.paths.run / s.name;
  std::error_code ec;
  fs::create_directories(sock, ec);
  Chown(sock, uid);
  if (!fs::exists(data / "PG_VERSION")) {
    fs::remove_all(data, ec);  // a half-made folder from an initdb that failed
    fs::create_directories(data, ec);
    fs::permissions(data, fs::perms::owner_all, ec);
    Chown(data, uid);
    const fs::path pw = ctx.paths.data / (s.name + ".pw");
    if (auto r = WriteOwned(pw, DatabasePassword(ctx.paths) + "\n", uid); !r) return r;
    ProcessOptions o;
    o.uid = uid;
    o.log = ctx.paths.Log(s.name).string();
    RunResult r = Run(
        {PostgresBin("initdb"), "-D", data.string(), "-U", "postgres", "--pwfile=" + pw.string(),
         "-A", "scram-sha-256", "--auth-local=peer", "-E", "UTF8", "--locale=C.UTF-8"},
        o);
    fs::remove(pw, ec);
    if (!r.ok()) {
      return std::unexpected("initdb failed (" + std::to_string(r.status) +
                             "): " + LogTail(ctx.paths.Log(s.name)));
    }
    ctx.out << "  initdb " << data.string() << "\n";
  }
  bool c1 = false, c2 = false;
  if (auto r =
          WriteOwned(data / "salvus.conf", PostgresConfig(ctx.cluster, s, sock.string()), uid, &c1);
      !r) {
    return r;
  }
  if (auto r = WriteOwned(data / "pg_hba.conf", PostgresHba(ctx.cluster, s), uid, &c2); !r) {
    return r;
  }
  const std::string conf = ReadSmallFile(data / "postgresql.conf");
  if (conf.find("include_if_exists = 'salvus.conf'") == std::string::npos) {
    if (auto r = WriteOwned(data / "postgresql.conf",
                            conf + "\n# salvus admin\ninclude_if_exists = 'salvus.conf'\n", uid);
        !r) {
      return r;
    }
  }
  *reload = c1 || c2;
  return {};
}

// createdb, only when the database is missing (so no "already exists"),
// then the tables (`salvus status` migrates, creating only what is missing).
std::expected<void, std::string> PrepareDatabase(const Context& ctx, const Service& s) {
  const auto uid = ServiceUser(s.type);
  const std::string sock = (ctx.paths.run / s.name).string();
  const std::string port = std::to_string(s.port);
  ProcessOptions o;
  o.uid = uid;
  RunResult have = Run({"psql", "-h", sock, "-p", port, "-U", "postgres", "-d", "postgres", "-tAc",
                        "SELECT 1 FROM pg_database WHERE datname = 'salvus'"},
                       o);
  if (!have.ok()) return std::unexpected("psql: " + have.output);
  if (have.output.find('1') == std::string::npos) {
    RunResult r = Run({"createdb", "-h", sock, "-p", port, "-U", "postgres", "salvus"}, o);
    if (!r.ok()) return std::unexpected("createdb: " + r.output);
    ctx.out << "  createdb salvus\n";
  }
  ProcessOptions m = On(ctx, s);
  m.uid.reset();
  m.log.clear();
  RunResult r = Run({ctx.salvus, "status", "--db", DatabaseUrl(ctx.cluster)}, m);
  if (!r.ok()) return std::unexpected("creating the tables (salvus status): " + r.output);
  return {};
}

std::vector<std::string> Command(const Context& ctx, const Service& s) {
  const Cluster& c = ctx.cluster;
  const StatePaths& p = ctx.paths;
  const std::string listen = c.ServiceAddress(s) + ":" + std::to_string(s.port);
  switch (s.type) {
    case ServiceType::kPostgresql:
      return {PostgresBin("postgres"), "-D", (p.data / s.name).string()};
    case ServiceType::kMemcached:
      return {"memcached", "-l", c.ServiceAddress(s), "-p", std::to_string(s.port), "-U", "0",
              "-m",        "64"};
    case ServiceType::kCompute:
      return {ctx.salvus,       "compute",
              "--listen",       listen,
              "--token-file",   p.Token().string(),
              "--tls-cert",     p.Cert(s.name).string(),
              "--tls-key",      p.Key(s.name).string(),
              "--state-dir",    (p.data / s.name).string(),
              "--uid-base",     std::to_string(s.uid_base),
              "--uid-count",    std::to_string(s.uid_count),
              "--kernel",       s.kernel,
              "--max-sessions", std::to_string(s.max_sessions),
              "--port-file",    (p.run / (s.name + ".port")).string()};
    case ServiceType::kHub: {
      std::string compute, proxies;
      for (const Service* k : c.OfType(ServiceType::kCompute)) {
        compute += (compute.empty() ? "" : ",") + Endpoint(c, *k);
      }
      for (const Service* x : c.OfType(ServiceType::kHaproxy)) {
        proxies += (proxies.empty() ? "" : ",") + ProxyAddress(c, *x);
      }
      std::vector<std::string> a{ctx.salvus,
                                 "hub",
                                 "--listen",
                                 listen,
                                 "--token-file",
                                 p.Token().string(),
                                 "--compute-tls-ca",
                                 p.Ca().string(),
                                 "--compute",
                                 compute,
                                 "--db",
                                 DatabaseUrl(c),
                                 "--port-file",
                                 (p.run / (s.name + ".port")).string()};
      if (!MemcachedList(c).empty()) a.insert(a.end(), {"--memcached", MemcachedList(c)});
      if (!proxies.empty()) a.insert(a.end(), {"--proxy-from", proxies});
      if (!c.public_origin.empty()) a.insert(a.end(), {"--public-origin", c.public_origin});
      if (!c.web.empty()) a.insert(a.end(), {"--web", c.web});
      return a;
    }
    case ServiceType::kHaproxy:
      return {"haproxy", "-W", "-db", "-f", (p.conf / (s.name + ".cfg")).string()};
  }
  return {};
}

std::expected<void, std::string> StartMonitor(const Context& ctx, const Service& s) {
  const fs::path pidfile = ctx.paths.MonitorPidfile(s.name);
  if (Alive(ReadPid(pidfile))) return {};
  if (ctx.cluster.WireGuard() && s.type == ServiceType::kCompute) {
    // Its host cannot reach the database (by design); relaying its figures
    // through the hubs is not built yet.
    ctx.out << "  " << s.name << ": no monitor (a compute host cannot reach the database)\n";
    return {};
  }
  const Cluster& c = ctx.cluster;
  std::vector<std::string> a{ctx.salvus,  "monitor",
                             "--pidfile", ctx.paths.Pidfile(s.name).string(),
                             "--type",    std::string(ServiceTypeName(s.type)),
                             "--name",    s.name,
                             "--address", c.ServiceAddress(s),
                             "--port",    std::to_string(s.port),
                             "--site",    c.site,
                             "--logfile", ctx.paths.Log(s.name).string(),
                             "--db",      DatabaseUrl(c)};
  if (!MemcachedList(c).empty()) a.insert(a.end(), {"--memcached", MemcachedList(c)});
  ProcessOptions o = On(ctx, s);
  o.uid.reset();
  o.log = (ctx.paths.log / (s.name + ".monitor.log")).string();
  auto pid = Launch(a, o);
  if (!pid) return std::unexpected("monitor of " + s.name + ": " + pid.error());
  if (auto w = WriteIfChanged(pidfile, std::to_string(*pid) + "\n"); !w) {
    return std::unexpected(w.error());
  }
  return {};
}

}  // namespace

ProcessOptions On(const Context& ctx, const Service& s) {
  ProcessOptions o;
  const Host& h = *ctx.cluster.FindHost(s.host);
  if (h.kind == HostKind::kNetns) o.netns = ctx.cluster.Netns(h);
  o.uid = ServiceUser(s.type);
  o.log = ctx.paths.Log(s.name).string();
  o.env = {"PGPASSFILE=" + ctx.paths.Pgpass().string()};
  return o;
}

bool Healthy(const Context& ctx, const Service& s) {
  const Host& h = *ctx.cluster.FindHost(s.host);
  const std::string ns = h.kind == HostKind::kNetns ? ctx.cluster.Netns(h) : "";
  // From the service's own host: with WireGuard its address is reachable
  // only through the tunnels (and the firewall).
  const std::string addr = ctx.cluster.ServiceAddress(s);
  switch (s.type) {
    case ServiceType::kPostgresql: {
      ProcessOptions o;
      o.netns = ns;
      return Run({"pg_isready", "-q", "-h", addr, "-p", std::to_string(s.port), "-t", "2"}, o).ok();
    }
    case ServiceType::kMemcached:
      return InNetns(ns, [&] {
        bool connected = false;
        return Exchange(addr, s.port, "version\r\n", &connected).rfind("VERSION ", 0) == 0;
      });
    case ServiceType::kCompute:
      return fs::exists(ctx.paths.run / (s.name + ".port")) &&
             InNetns(ns, [&] { return TcpOpen(addr, s.port); });
    case ServiceType::kHub: {
      // On one machine haproxy and this probe share 127.0.0.1, a --proxy-from
      // address: the probe then opens with a PROXY header naming no client.
      const auto proxies = ctx.cluster.OfType(ServiceType::kHaproxy);
      const bool proxied = std::any_of(proxies.begin(), proxies.end(), [&](const Service* x) {
        return ctx.cluster.FindHost(x->host)->kind == HostKind::kLocal;
      });
      return InNetns(
          ns, [&] { return HttpOk(addr, s.port, "/healthz", proxied ? "PROXY UNKNOWN\r\n" : ""); });
    }
    case ServiceType::kHaproxy:
      // Through haproxy to a hub: up once a hub passed its checks.
      return InNetns(ns, [&] { return HttpOk(addr, s.port, "/healthz"); });
  }
  return false;
}

std::expected<void, std::string> StartService(const Context& ctx, const Service& s) {
  const Host& h = *ctx.cluster.FindHost(s.host);
  if (h.kind == HostKind::kSsh) {
    return std::unexpected("host " + h.name + " is an ssh host: ssh hosts are not deployed yet");
  }
  const fs::path pidfile = ctx.paths.Pidfile(s.name);
  pid_t pid = ReadPid(pidfile);
  bool running = Alive(pid);
  bool reload = false;
  if (s.type == ServiceType::kPostgresql) {
    if (auto r = PreparePostgres(ctx, s, &reload); !r) return r;
  }
  if (s.type == ServiceType::kHaproxy) {
    auto b = WriteIfChanged(
        SiteBundle(ctx.paths, s),
        ReadSmallFile(ctx.paths.Cert(s.name)) + ReadSmallFile(ctx.paths.Key(s.name)), 0600);
    if (!b) return std::unexpected(b.error());
    const fs::path cfg = ctx.paths.conf / (s.name + ".cfg");
    auto w = WriteIfChanged(cfg, HaproxyConfig(ctx.cluster, s, ctx.paths), 0644);
    if (!w) return std::unexpected(w.error());
    reload = *w || *b;  // a new certificate too
    RunResult check = Run({"haproxy", "-c", "-f", cfg.string()});
    if (!check.ok()) return std::unexpected("haproxy -c " + cfg.string() + ": " + check.output);
  }
  if (running) {
    if (reload) {
      // haproxy (master-worker): SIGUSR2 reloads without dropping connections;
      // PostgreSQL: SIGHUP rereads its configuration.
      kill(pid, s.type == ServiceType::kHaproxy ? SIGUSR2 : SIGHUP);
      ctx.out << "  " << s.name << ": configuration changed, reloaded\n";
    }
  } else {
    std::error_code ec;
    fs::remove(ctx.paths.run / (s.name + ".port"), ec);
    auto launched = Launch(Command(ctx, s), On(ctx, s));
    if (!launched) return std::unexpected(s.name + ": " + launched.error());
    pid = *launched;
    if (auto w = WriteIfChanged(pidfile, std::to_string(pid) + "\n"); !w) {
      return std::unexpected(w.error());
    }
  }
  const auto deadline = std::chrono::steady_clock::now() + ctx.start_timeout;
  while (!Healthy(ctx, s)) {
    if (!Alive(pid)) {
      return std::unexpected(s.name + " exited while starting; its log (" +
                             ctx.paths.Log(s.name).string() + ") ends:\n" +
                             LogTail(ctx.paths.Log(s.name)));
    }
    if (std::chrono::steady_clock::now() > deadline) {
      return std::unexpected(s.name + " (pid " + std::to_string(pid) + ") not healthy after " +
                             std::to_string(ctx.start_timeout.count()) + " s; its log ends:\n" +
                             LogTail(ctx.paths.Log(s.name)));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  if (s.type == ServiceType::kPostgresql) {
    if (auto r = PrepareDatabase(ctx, s); !r) return r;
  }
  ctx.out << "  " << s.name << " (" << ServiceTypeName(s.type) << ") on " << h.name << " "
          << Endpoint(ctx.cluster, s) << ": " << (running ? "already running" : "started")
          << ", pid " << pid << ", healthy\n";
  if (auto r = StartMonitor(ctx, s); !r) return r;
  if (s.type == ServiceType::kHaproxy && !ctx.cluster.floating_address.empty()) {
    return StartKeepalived(ctx, s);
  }
  return {};
}

std::expected<void, std::string> StopService(const Context& ctx, const Service& s) {
  std::string failed;
  if (s.type == ServiceType::kHaproxy) {
    if (auto r = StopKeepalived(ctx, s); !r) failed += " " + r.error();
  }
  const fs::path mon = ctx.paths.MonitorPidfile(s.name);
  if (!Stop(ReadPid(mon), std::chrono::seconds(5))) failed += " its monitor";
  const fs::path pidfile = ctx.paths.Pidfile(s.name);
  const pid_t pid = ReadPid(pidfile);
  // PostgreSQL: SIGINT is its fast shutdown (SIGTERM waits for every client).
  const bool was = Alive(pid);
  if (pid > 0 && s.type == ServiceType::kPostgresql && was) kill(pid, SIGINT);
  if (!Stop(pid, std::chrono::seconds(20))) failed += " pid " + std::to_string(pid);
  std::error_code ec;
  if (failed.empty()) {
    fs::remove(mon, ec);
    fs::remove(pidfile, ec);
    fs::remove(ctx.paths.run / (s.name + ".port"), ec);
    if (was) ctx.out << "  " << s.name << ": stopped\n";
    return {};
  }
  return std::unexpected(s.name + ": could not stop" + failed);
}

}  // namespace salvus::admin
