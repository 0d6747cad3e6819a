// netns hosts: a bridge in this namespace holding the cluster's network,
// and per host a network namespace joined to it by a veth pair (its end in
// the namespace is eth0, with the host's address), lo up. Everything is
// named after the cluster (Cluster::Bridge, Netns, Veth) and made only when
// missing, so `start` can run again; DestroyNetwork removes it all, killing
// whatever still runs in the namespaces first.
#pragma once

#include <expected>
#include <string>
#include <vector>

#include "admin/cluster.h"

namespace salvus::admin {

std::expected<void, std::string> CreateNetwork(const Cluster& c);

// What could not be removed ("" each when all went).
std::vector<std::string> DestroyNetwork(const Cluster& c);

bool NetnsExists(const std::string& name);
bool InterfaceExists(const std::string& name);

// The pids of the processes in a network namespace (`ip netns pids`).
std::vector<int> NetnsPids(const std::string& name);

}  // namespace salvus::admin
