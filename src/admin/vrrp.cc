#include "admin/vrrp.h"

#include <fmt/format.h>
#include <signal.h>

#include <ostream>
#include <thread>

#include "admin/probe.h"

namespace salvus::admin {

namespace fs = std::filesystem;

namespace {

// The VRRP router id, 1..255, from the cluster's name: two clusters on one
// network should differ (and can, by name).
int RouterId(const Cluster& c) {
  unsigned h = 5381;
  for (char ch : c.name) h = h * 33 + static_cast<unsigned char>(ch);
  return static_cast<int>(h % 255) + 1;
}

}  // namespace

fs::path KeepalivedPidfile(const Context& ctx, const Service& s) {
  return ctx.paths.run / (s.name + ".keepalived.pid");
}

std::string KeepalivedConfig(const Cluster& c, const Service& s, size_t index) {
  const Host& h = *c.FindHost(s.host);
  return fmt::format(
      "# Rendered by salvus admin from the cluster file; edits are overwritten.\n"
      "global_defs {{\n"
      "  router_id {name}\n"
      "  script_user root\n"
      "  enable_script_security\n"
      "}}\n"
      "\n"
      "# Down when this host's haproxy does not answer its own /healthz.\n"
      "vrrp_script haproxy_up {{\n"
      "  script \"/usr/bin/curl -sf -o /dev/null -m 1 http://{addr}:{stats}/healthz\"\n"
      "  interval 1\n"
      "  fall 2\n"
      "  rise 1\n"
      "}}\n"
      "\n"
      "vrrp_instance site {{\n"
      "  state BACKUP\n"
      "  interface eth0\n"
      "  virtual_router_id {vrid}\n"
      "  priority {priority}\n"
      "  advert_int 1\n"
      "  virtual_ipaddress {{\n"
      "    {floating}/{len} dev eth0\n"
      "  }}\n"
      "  track_script {{\n"
      "    haproxy_up\n"
      "  }}\n"
      "}}\n",
      fmt::arg("name", s.name), fmt::arg("addr", h.address), fmt::arg("stats", s.stats_port),
      fmt::arg("vrid", RouterId(c)), fmt::arg("priority", 200 - 10 * static_cast<int>(index)),
      fmt::arg("floating", c.floating_address), fmt::arg("len", c.prefix_len));
}

std::expected<void, std::string> StartKeepalived(const Context& ctx, const Service& s) {
  const auto proxies = ctx.cluster.OfType(ServiceType::kHaproxy);
  size_t index = 0;
  while (index < proxies.size() && proxies[index] != &s) ++index;
  const fs::path conf = ctx.paths.conf / (s.name + ".keepalived.conf");
  auto w = WriteIfChanged(conf, KeepalivedConfig(ctx.cluster, s, index), 0644);
  if (!w) return std::unexpected(w.error());
  const fs::path pidfile = KeepalivedPidfile(ctx, s);
  const pid_t pid = ReadPid(pidfile);
  if (Alive(pid)) {
    if (*w) kill(pid, SIGHUP);  // keepalived rereads its configuration
    return {};
  }
  // Each instance needs pid files of its own (-p, -r, -c); -n: no fork, so
  // the pid admin keeps is keepalived's parent.
  const std::string base = (ctx.paths.run / (s.name + ".keepalived")).string();
  ProcessOptions o = On(ctx, s);
  o.uid.reset();
  o.log = (ctx.paths.log / (s.name + ".keepalived.log")).string();
  auto launched =
      Launch({"keepalived", "-n", "-l", "-D", "-f", conf.string(), "-p", base + ".main.pid", "-r",
              base + ".vrrp.pid", "-c", base + ".checkers.pid"},
             o);
  if (!launched) return std::unexpected("keepalived of " + s.name + ": " + launched.error());
  if (auto r = WriteIfChanged(pidfile, std::to_string(*launched) + "\n"); !r) {
    return std::unexpected(r.error());
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  if (!Alive(*launched)) {
    return std::unexpected("keepalived of " + s.name + " exited; see " + o.log);
  }
  ctx.out << "  " << s.name << ": keepalived (VRRP for " << ctx.cluster.floating_address
          << "), pid " << *launched << "\n";
  return {};
}

std::expected<void, std::string> StopKeepalived(const Context& ctx, const Service& s) {
  const fs::path pidfile = KeepalivedPidfile(ctx, s);
  const pid_t pid = ReadPid(pidfile);
  if (!Stop(pid, std::chrono::seconds(10))) {
    return std::unexpected("keepalived of " + s.name + " (pid " + std::to_string(pid) +
                           ") does not stop");
  }
  std::error_code ec;
  fs::remove(pidfile, ec);
  return {};
}

const Service* FloatingHolder(const Context& ctx) {
  for (const Service* x : ctx.cluster.OfType(ServiceType::kHaproxy)) {
    const Host& h = *ctx.cluster.FindHost(x->host);
    if (h.kind != HostKind::kNetns) continue;
    RunResult r =
        Run({"ip", "-n", ctx.cluster.Netns(h), "-4", "-o", "addr", "show", "dev", "eth0"});
    if (r.output.find(" " + ctx.cluster.floating_address + "/") != std::string::npos) return x;
  }
  return nullptr;
}

std::expected<void, std::string> WaitForFloating(const Context& ctx) {
  const auto proxies = ctx.cluster.OfType(ServiceType::kHaproxy);
  const uint16_t port = proxies.front()->port;
  const auto deadline = std::chrono::steady_clock::now() + ctx.start_timeout;
  for (;;) {
    const Service* holder = FloatingHolder(ctx);
    if (holder && HttpOk(ctx.cluster.floating_address, port, "/healthz")) {
      ctx.out << "  floating address " << ctx.cluster.floating_address << ": on " << holder->name
              << ", healthy\n";
      return {};
    }
    if (std::chrono::steady_clock::now() > deadline) {
      return std::unexpected("no haproxy took the floating address " +
                             ctx.cluster.floating_address);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
}

}  // namespace salvus::admin
