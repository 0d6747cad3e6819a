// The cluster file (TOML): the hosts of a cluster and the services on each,
// parsed and checked into plain structs. deploy/README.md documents every
// key; an unknown key, a wrong type or an inconsistent cluster (a service
// on a host that does not exist, two services on one port, overlapping uid
// blocks) is an error that names the key and its line. Pure: no file is
// touched but the one read by LoadCluster.
#pragma once

#include <cstdint>
#include <expected>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace salvus::admin {

enum class HostKind { kLocal, kNetns, kSsh };
std::string_view HostKindName(HostKind k);

struct Host {
  std::string name;
  HostKind kind = HostKind::kLocal;
  // The address the other hosts reach it at: 127.0.0.1 for local (the
  // default), its IPv4 address on the bridge for netns, a name or address
  // for ssh.
  std::string address;
  std::string ssh_user;  // ssh only; "" means the operator's own
  uint16_t ssh_port = 22;
};

// In start order: each one needs those before it.
enum class ServiceType { kPostgresql, kMemcached, kCompute, kHub, kHaproxy };
std::string_view ServiceTypeName(ServiceType t);

struct Service {
  ServiceType type = ServiceType::kHub;
  std::string name;  // unique; defaults to the type and a number (hub1, hub2)
  std::string host;  // a Host's name
  uint16_t port = 0;
  // compute only
  std::string kernel = "sage";
  uint32_t uid_base = 0;
  uint32_t uid_count = 1000;
  uint32_t max_sessions = 32;
  // haproxy only: where its statistics and health page answers (/healthz)
  uint16_t stats_port = 8404;
  // haproxy only: https and wss, TLS ending there (`port` redirects to it)
  uint16_t tls_port = 443;
};

struct Cluster {
  std::string name;                 // [a-z][a-z0-9]{0,9}: prefixes namespaces and interfaces
  std::filesystem::path state_dir;  // absolute
  std::string site = "default";
  std::string public_origin;  // "" when not given
  std::string web;            // the hubs' built web client; "" is the salvus binary's default
  // netns hosts: the bridge's own address and the prefix length of the
  // network the hosts' addresses are in, e.g. 10.214.0.1/24.
  std::string bridge_address;
  int prefix_len = 0;
  // The site's address shared by the haproxies (keepalived VRRP); "" none.
  std::string floating_address;
  // WireGuard (both or neither): the networks of the seed's two VPNs, as
  // network addresses and prefixes. salvus: hubs, database, memcached,
  // haproxy; sage: hubs and compute. Host i's tunnel address is the
  // network's address + i + 1.
  std::string salvus_network, sage_network;
  int salvus_prefix = 0, sage_prefix = 0;
  std::vector<Host> hosts;
  std::vector<Service> services;  // sorted into start order, stable

  enum class Net { kSalvus, kSage };
  bool WireGuard() const { return !salvus_network.empty(); }
  bool On(const Host& h, Net n) const;
  std::string TunnelAddress(const Host& h, Net n) const;
  // WireGuard interfaces are machine-wide names (wireguard-go's sockets).
  std::string WgInterface(const Host& h, Net n) const;
  // Where a service listens and the others reach it: its host's address,
  // or with WireGuard its tunnel address (compute: sage; others: salvus;
  // haproxy keeps its host's address, the public side).
  std::string ServiceAddress(const Service& s) const;

  const Host* FindHost(std::string_view name) const;
  const Service* FindService(std::string_view name) const;
  std::vector<const Service*> OfType(ServiceType t) const;
  bool HasNetns() const;

  // Names on the machine, all starting with the cluster's name.
  std::string Bridge() const { return name + "br"; }
  std::string Netns(const Host& h) const { return name + "-" + h.name; }
  // The host end of the veth pair of the i-th host (its index in `hosts`).
  std::string Veth(size_t i) const { return name + "v" + std::to_string(i); }
};

// The largest cluster file read, in bytes, and the most hosts and services.
constexpr size_t kMaxClusterFileBytes = 1 << 20;
constexpr size_t kMaxHosts = 250;
constexpr size_t kMaxServices = 1000;

// `text` is the file's content; `file` its path (relative state_dir is
// taken from its folder, and errors name it).
std::expected<Cluster, std::string> ParseCluster(std::string_view text,
                                                 const std::filesystem::path& file);
std::expected<Cluster, std::string> LoadCluster(const std::filesystem::path& file);

}  // namespace salvus::admin
