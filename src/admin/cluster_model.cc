// The Cluster's own lookups and names (cluster.h); the parsing is in
// cluster.cc.
#include <arpa/inet.h>

#include <algorithm>

#include "admin/cluster.h"

namespace salvus::admin {

std::string_view HostKindName(HostKind k) {
  switch (k) {
    case HostKind::kLocal:
      return "local";
    case HostKind::kNetns:
      return "netns";
    case HostKind::kSsh:
      return "ssh";
  }
  return "?";
}

std::string_view ServiceTypeName(ServiceType t) {
  switch (t) {
    case ServiceType::kPostgresql:
      return "postgresql";
    case ServiceType::kMemcached:
      return "memcached";
    case ServiceType::kCompute:
      return "compute";
    case ServiceType::kHub:
      return "hub";
    case ServiceType::kHaproxy:
      return "haproxy";
  }
  return "?";
}

const Host* Cluster::FindHost(std::string_view n) const {
  for (const auto& h : hosts) {
    if (h.name == n) return &h;
  }
  return nullptr;
}

const Service* Cluster::FindService(std::string_view n) const {
  for (const auto& s : services) {
    if (s.name == n) return &s;
  }
  return nullptr;
}

std::vector<const Service*> Cluster::OfType(ServiceType t) const {
  std::vector<const Service*> out;
  for (const auto& s : services) {
    if (s.type == t) out.push_back(&s);
  }
  return out;
}

bool Cluster::HasNetns() const {
  return std::any_of(hosts.begin(), hosts.end(),
                     [](const Host& h) { return h.kind == HostKind::kNetns; });
}

bool Cluster::On(const Host& h, Net n) const {
  return std::any_of(services.begin(), services.end(), [&](const Service& s) {
    if (s.host != h.name) return false;
    if (s.type == ServiceType::kHub) return true;
    return n == Net::kSage ? s.type == ServiceType::kCompute : s.type != ServiceType::kCompute;
  });
}

std::string Cluster::TunnelAddress(const Host& h, Net n) const {
  in_addr a{};
  inet_pton(AF_INET, (n == Net::kSalvus ? salvus_network : sage_network).c_str(), &a);
  const auto index = static_cast<uint32_t>(&h - hosts.data());
  a.s_addr = htonl(ntohl(a.s_addr) + index + 1);
  char buf[INET_ADDRSTRLEN];
  return inet_ntop(AF_INET, &a, buf, sizeof buf);
}

std::string Cluster::WgInterface(const Host& h, Net n) const {
  return name + (n == Net::kSalvus ? "s" : "g") + std::to_string(&h - hosts.data());
}

std::string Cluster::ServiceAddress(const Service& s) const {
  const Host& h = *FindHost(s.host);
  if (!WireGuard() || s.type == ServiceType::kHaproxy) return h.address;
  return TunnelAddress(h, s.type == ServiceType::kCompute ? Net::kSage : Net::kSalvus);
}

}  // namespace salvus::admin
