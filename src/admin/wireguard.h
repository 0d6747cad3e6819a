// The seed's two VPNs with WireGuard (cluster.salvus_network and
// sage_network): on each netns host, a wireguard-go interface per network
// the host is on, its keys made once in the secrets, peers from the
// cluster; and nftables rules per role. salvus: hubs, database, memcached,
// haproxy (a full mesh); sage: hubs and compute servers, where a compute
// host peers with the hubs only.
#pragma once

#include <expected>
#include <string>

#include "admin/cluster.h"
#include "admin/files.h"

namespace salvus::admin {

constexpr uint16_t kSalvusWgPort = 51820;
constexpr uint16_t kSageWgPort = 51821;

// Brings every interface up (idempotent: present ones are reconfigured).
std::expected<void, std::string> StartWireGuard(const Cluster& c, const StatePaths& p,
                                                std::ostream& out);

// The nftables ruleset of a host ("" when it gets none): a compute host
// accepts only WireGuard from the hubs and its compute port from the hubs'
// sage addresses, and opens nothing; a database or memcached host accepts
// only WireGuard from salvus peers and its ports over the salvus network.
std::string FirewallRules(const Cluster& c, const Host& h);

// Applies FirewallRules on every netns host (replacing its table).
std::expected<void, std::string> ApplyFirewall(const Cluster& c, const StatePaths& p,
                                               std::ostream& out);

// A WireGuard public key (base64) from a private one; "" if it is not one.
std::string WgPublicKey(const std::string& private_base64);

}  // namespace salvus::admin
