#include "admin/templates.h"

#include <arpa/inet.h>
#include <fmt/format.h>

namespace salvus::admin {

std::string Endpoint(const Cluster& c, const Service& s) {
  return c.ServiceAddress(s) + ":" + std::to_string(s.port);
}

std::string ProxyAddress(const Cluster& c, const Service& haproxy) {
  const Host& h = *c.FindHost(haproxy.host);
  return c.WireGuard() ? c.TunnelAddress(h, Cluster::Net::kSalvus) : h.address;
}

std::string DatabaseUrl(const Cluster& c) {
  auto db = c.OfType(ServiceType::kPostgresql);
  if (db.empty()) return "";
  return "postgresql://postgres@" + Endpoint(c, *db[0]) + "/salvus";
}

std::string MemcachedList(const Cluster& c) {
  std::string out;
  for (const Service* m : c.OfType(ServiceType::kMemcached)) {
    out += (out.empty() ? "" : ",") + Endpoint(c, *m);
  }
  return out;
}

std::filesystem::path SiteBundle(const StatePaths& p, const Service& haproxy) {
  return p.secrets / (haproxy.name + ".bundle.pem");
}

std::string HaproxyConfig(const Cluster& c, const Service& s, const StatePaths& p) {
  const Host& h = *c.FindHost(s.host);
  std::string out = fmt::format(
      "# Rendered by salvus admin from the cluster file; edits are overwritten.\n"
      "global\n"
      "  log stderr format raw local0 info\n"
      "  maxconn 5000\n"
      "  stats socket {sock} mode 600 level admin expose-fd listeners\n"
      "\n"
      "defaults\n"
      "  mode http\n"
      "  log global\n"
      "  option httplog\n"
      "  timeout connect 5s\n"
      "  timeout client 30s\n"
      "  timeout server 30s\n"
      "  timeout http-request 10s\n"
      "  # A WebSocket (/ws), once upgraded, is a tunnel: idle pages stay.\n"
      "  timeout tunnel 1h\n"
      "  timeout client-fin 5s\n"
      "\n"
      "frontend site\n"
      "  bind {addr}:{port}\n"
      "  bind {addr}:{tls} ssl crt {bundle}\n"
      "{floating}"
      "  # Plain http goes to https (but /healthz, for probes and checks).\n"
      "  http-request redirect scheme https code 301 unless {{ ssl_fc }} || {{ path /healthz }}\n"
      "  default_backend hubs\n"
      "\n"
      "frontend stats\n"
      "  bind {addr}:{stats}\n"
      "  monitor-uri /healthz\n"
      "  stats enable\n"
      "  stats uri /stats\n"
      "\n"
      "backend hubs\n"
      "  balance leastconn\n"
      "  # A connection that began with a client's PROXY header is that client's.\n"
      "  http-reuse never\n"
      "  option httpchk GET /healthz\n"
      "  default-server inter 1s rise 1 fall 2\n",
      fmt::arg("sock", (p.run / (s.name + ".sock")).string()), fmt::arg("addr", h.address),
      fmt::arg("port", s.port), fmt::arg("stats", s.stats_port), fmt::arg("tls", s.tls_port),
      fmt::arg("bundle", SiteBundle(p, s).string()),
      fmt::arg(
          "floating",
          c.floating_address.empty()
              ? std::string()
              : fmt::format("  # The floating address (keepalived), bound before it is here.\n"
                            "  bind {0}:{1} transparent\n"
                            "  bind {0}:{2} transparent ssl crt {3}\n",
                            c.floating_address, s.port, s.tls_port, SiteBundle(p, s).string())));
  for (const Service* hub : c.OfType(ServiceType::kHub)) {
    out += fmt::format("  server {} {} send-proxy-v2 source {} check check-send-proxy\n", hub->name,
                       Endpoint(c, *hub), ProxyAddress(c, s));
  }
  return out;
}

std::string PostgresConfig(const Cluster& c, const Service& db, const std::string& socket_dir) {
  return fmt::format(
      "# Rendered by salvus admin from the cluster file; edits are overwritten.\n"
      "listen_addresses = '{}'\n"
      "port = {}\n"
      "unix_socket_directories = '{}'\n"
      "max_connections = 200\n"
      "password_encryption = 'scram-sha-256'\n",
      c.ServiceAddress(db), db.port, socket_dir);
}

std::string PostgresHba(const Cluster& c, const Service& db) {
  const Host& h = *c.FindHost(db.host);
  std::string net;
  if (c.WireGuard()) {
    net = c.salvus_network + "/" + std::to_string(c.salvus_prefix);
  } else if (h.kind == HostKind::kNetns) {
    // The network's own address (host bits zero), as pg_hba wants it.
    in_addr a{};
    inet_pton(AF_INET, c.bridge_address.c_str(), &a);
    a.s_addr &= htonl(~uint32_t{0} << (32 - c.prefix_len));
    char buf[INET_ADDRSTRLEN];
    net = std::string(inet_ntop(AF_INET, &a, buf, sizeof buf)) + "/" + std::to_string(c.prefix_len);
  } else {
    net = h.address + "/32";
  }
  return fmt::format(
      "# Rendered by salvus admin from the cluster file; edits are overwritten.\n"
      "# TYPE DATABASE USER ADDRESS METHOD\n"
      "local all postgres peer\n"
      "host all postgres {} scram-sha-256\n",
      net);
}

}  // namespace salvus::admin
