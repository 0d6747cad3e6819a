// `salvus admin`: the commands over a cluster. Start order is the cluster's
// service order (database, memcached, compute, hubs, haproxy), each healthy
// before the next; stop is the reverse. Progress goes to `out`; a failure
// is returned as one message.
#pragma once

#include <expected>
#include <iosfwd>
#include <string>
#include <vector>

#include "admin/cluster.h"

namespace salvus::admin {

struct AdminOptions {
  std::string salvus;  // the salvus binary services run
  std::chrono::seconds start_timeout{180};
};

// Starts the named services (all when `names` is empty) and, for netns
// hosts, the network first.
std::expected<void, std::string> StartCluster(const Cluster& c,
                                              const std::vector<std::string>& names,
                                              const AdminOptions& o, std::ostream& out);
std::expected<void, std::string> StopCluster(const Cluster& c,
                                             const std::vector<std::string>& names,
                                             const AdminOptions& o, std::ostream& out);
std::expected<void, std::string> RestartService(const Cluster& c, const std::string& name,
                                                const AdminOptions& o, std::ostream& out);

// Restarts the hubs one at a time: each is taken out of every haproxy
// (`set server hubs/NAME state maint`), restarted, waited for until healthy
// and put back (`state ready`) before the next one goes.
std::expected<void, std::string> RollingRestartHubs(const Cluster& c, const AdminOptions& o,
                                                    std::ostream& out);

// One line per service: name, type, host, address, pid, state (running,
// stopped, or gone: a pidfile whose process died — the pidfile is removed),
// health; then what the monitors last wrote (`salvus status`). Returns
// whether every service runs and is healthy.
bool ClusterStatus(const Cluster& c, const AdminOptions& o, std::ostream& out);

// Stops everything, kills what is left in the namespaces, removes them, the
// veths and the bridge. With `purge`, the state folder too (secrets, data).
std::expected<void, std::string> DestroyCluster(const Cluster& c, bool purge, const AdminOptions& o,
                                                std::ostream& out);

}  // namespace salvus::admin
