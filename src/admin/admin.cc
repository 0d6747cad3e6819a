#include "admin/admin.h"

#include <fmt/format.h>

#include <algorithm>
#include <ostream>
#include <thread>

#include "admin/netns.h"
#include "admin/probe.h"
#include "admin/services.h"
#include "admin/templates.h"
#include "admin/vrrp.h"
#include "admin/wireguard.h"

namespace salvus::admin {

namespace fs = std::filesystem;

namespace {

Context MakeContext(const Cluster& c, const AdminOptions& o, std::ostream& out) {
  return Context{c, StatePaths(c.state_dir), o.salvus, out, o.start_timeout};
}

// A service by its name, its type (hub) or its type's plural (hubs,
// haproxies).
bool Names(const std::string& n, const Service& s) {
  const std::string type(ServiceTypeName(s.type));
  const std::string plural =
      type.back() == 'y' ? type.substr(0, type.size() - 1) + "ies" : type + "s";
  return n == s.name || n == type || n == plural;
}

std::expected<std::vector<const Service*>, std::string> Select(
    const Cluster& c, const std::vector<std::string>& names) {
  for (const auto& n : names) {
    if (!std::any_of(c.services.begin(), c.services.end(),
                     [&](const Service& s) { return Names(n, s); })) {
      return std::unexpected("no service or service type named " + n + " in the cluster");
    }
  }
  std::vector<const Service*> out;
  for (const Service& s : c.services) {
    if (names.empty() || std::any_of(names.begin(), names.end(),
                                     [&](const std::string& n) { return Names(n, s); })) {
      out.push_back(&s);
    }
  }
  return out;
}

}  // namespace

std::expected<void, std::string> StartCluster(const Cluster& c,
                                              const std::vector<std::string>& names,
                                              const AdminOptions& o, std::ostream& out) {
  auto chosen = Select(c, names);
  if (!chosen) return std::unexpected(chosen.error());
  std::string ssh;
  for (const Service* s : *chosen) {
    if (c.FindHost(s->host)->kind == HostKind::kSsh) ssh += " " + s->name + "@" + s->host;
  }
  if (!ssh.empty()) {
    return std::unexpected(
        "ssh hosts are not deployed yet (the Ansible path is to come); these services are on "
        "ssh hosts:" +
        ssh + "\nstart the others by name");
  }
  Context ctx = MakeContext(c, o, out);
  if (auto r = MakeStateFolders(ctx.paths); !r) return r;
  if (auto r = EnsureSecrets(c, ctx.paths); !r) return r;
  if (c.HasNetns()) {
    if (auto r = CreateNetwork(c); !r) return std::unexpected("network: " + r.error());
    out << "network: bridge " << c.Bridge() << " " << c.bridge_address << "/" << c.prefix_len
        << ", "
        << std::count_if(c.hosts.begin(), c.hosts.end(),
                         [](const Host& h) { return h.kind == HostKind::kNetns; })
        << " namespaces\n";
    if (auto r = StartWireGuard(c, ctx.paths, out); !r)
      return std::unexpected("wireguard: " + r.error());
    if (auto r = ApplyFirewall(c, ctx.paths, out); !r)
      return std::unexpected("nftables: " + r.error());
  }
  bool proxies = false;
  for (const Service* s : *chosen) {
    if (auto r = StartService(ctx, *s); !r) return r;
    proxies = proxies || s->type == ServiceType::kHaproxy;
  }
  if (proxies && !c.floating_address.empty()) return WaitForFloating(ctx);
  return {};
}

std::expected<void, std::string> StopCluster(const Cluster& c,
                                             const std::vector<std::string>& names,
                                             const AdminOptions& o, std::ostream& out) {
  auto chosen = Select(c, names);
  if (!chosen) return std::unexpected(chosen.error());
  Context ctx = MakeContext(c, o, out);
  std::string failed;
  for (auto it = chosen->rbegin(); it != chosen->rend(); ++it) {
    if (auto r = StopService(ctx, **it); !r) failed += r.error() + "\n";
  }
  if (!failed.empty()) return std::unexpected(failed);
  return {};
}

std::expected<void, std::string> RestartService(const Cluster& c, const std::string& name,
                                                const AdminOptions& o, std::ostream& out) {
  if (auto r = StopCluster(c, {name}, o, out); !r) return r;
  return StartCluster(c, {name}, o, out);
}

std::expected<void, std::string> RollingRestartHubs(const Cluster& c, const AdminOptions& o,
                                                    std::ostream& out) {
  Context ctx = MakeContext(c, o, out);
  auto proxies = c.OfType(ServiceType::kHaproxy);
  auto tell = [&](const Service& hub, const std::string& state) {
    for (const Service* x : proxies) {
      const std::string sock = (ctx.paths.run / (x->name + ".sock")).string();
      const std::string a = UnixCommand(sock, "set server hubs/" + hub.name + " state " + state);
      if (!a.empty() && a != "\n") out << "  " << x->name << ": " << a;
    }
  };
  for (const Service* hub : c.OfType(ServiceType::kHub)) {
    out << "rolling restart: " << hub->name << "\n";
    tell(*hub, "maint");
    if (auto r = StopService(ctx, *hub); !r) return r;
    if (auto r = StartService(ctx, *hub); !r) return r;
    tell(*hub, "ready");
  }
  // Back in rotation only once haproxy sees them up again.
  for (const Service* x : proxies) {
    const auto deadline = std::chrono::steady_clock::now() + o.start_timeout;
    while (!Healthy(ctx, *x)) {
      if (std::chrono::steady_clock::now() > deadline) {
        return std::unexpected(x->name + " has no healthy hub after the restart");
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
  }
  return {};
}

bool ClusterStatus(const Cluster& c, const AdminOptions& o, std::ostream& out) {
  Context ctx = MakeContext(c, o, out);
  bool all = true;
  out << fmt::format("{:<14} {:<11} {:<10} {:<21} {:>8} {:<16} {:<8} {}\n", "SERVICE", "TYPE",
                     "HOST", "ADDRESS", "PID", "STATE", "HEALTH", "MONITOR");
  bool db_up = false;
  for (const Service& s : c.services) {
    const fs::path pidfile = ctx.paths.Pidfile(s.name);
    const pid_t pid = ReadPid(pidfile);
    std::string state = "stopped", health = "-";
    if (c.FindHost(s.host)->kind == HostKind::kSsh) {
      state = "not deployed";
    } else if (pid > 0 && !Alive(pid)) {
      // Marked running, but its process is gone: say so, and fix the table.
      state = "gone";
      std::error_code ec;
      fs::remove(pidfile, ec);
    } else if (pid > 0) {
      state = "running";
      health = Healthy(ctx, s) ? "ok" : "failing";
      if (s.type == ServiceType::kPostgresql && health == "ok") db_up = true;
    }
    const pid_t mon = ReadPid(ctx.paths.MonitorPidfile(s.name));
    const std::string monitor =
        mon > 0 ? (Alive(mon) ? "pid " + std::to_string(mon) : "gone") : "-";
    if (state != "running" || health != "ok") all = false;
    out << fmt::format("{:<14} {:<11} {:<10} {:<21} {:>8} {:<16} {:<8} {}\n", s.name,
                       ServiceTypeName(s.type), s.host, Endpoint(c, s),
                       pid > 0 ? std::to_string(pid) : "-", state, health, monitor);
  }
  if (!c.floating_address.empty()) {
    for (const Service* x : c.OfType(ServiceType::kHaproxy)) {
      const pid_t k = ReadPid(KeepalivedPidfile(ctx, *x));
      out << fmt::format("{:<14} {:<11} {:<10} {:<21} {:>8} {:<16}\n", x->name + "-vrrp",
                         "keepalived", x->host, c.floating_address, k > 0 ? std::to_string(k) : "-",
                         k > 0 ? (Alive(k) ? "running" : "gone") : "stopped");
    }
    const Service* holder = FloatingHolder(ctx);
    out << "floating address " << c.floating_address << ": "
        << (holder ? "on " + holder->name + " (" + holder->host + ")" : std::string("on no host"))
        << "\n";
    if (!holder) all = false;
  }
  if (db_up) {
    const Service& db = *c.OfType(ServiceType::kPostgresql).front();
    ProcessOptions m = On(ctx, db);
    m.uid.reset();
    m.log.clear();
    RunResult r = Run({o.salvus, "status", "--db", DatabaseUrl(c)}, m, std::chrono::seconds(20));
    out << "\nwhat the monitors last wrote (salvus status):\n" << r.output;
  }
  return all;
}

std::expected<void, std::string> DestroyCluster(const Cluster& c, bool purge, const AdminOptions& o,
                                                std::ostream& out) {
  std::string failed;
  if (auto r = StopCluster(c, {}, o, out); !r) failed += r.error();
  if (c.HasNetns()) {
    for (const auto& left : DestroyNetwork(c)) failed += left + "\n";
    out << "network: namespaces, veths and bridge " << c.Bridge() << " removed\n";
  }
  if (purge) {
    std::error_code ec;
    fs::remove_all(c.state_dir, ec);
    if (ec) failed += "cannot remove " + c.state_dir.string() + ": " + ec.message() + "\n";
    out << "state folder " << c.state_dir.string() << " removed\n";
  }
  if (!failed.empty()) return std::unexpected(failed);
  return {};
}

}  // namespace salvus::admin
