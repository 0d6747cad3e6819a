// The configurations admin renders from the cluster file: pure functions
// from the cluster to text (tested alone); admin writes them with
// WriteIfChanged so that an unchanged cluster rewrites nothing.
#pragma once

#include <string>

#include "admin/cluster.h"
#include "admin/files.h"

namespace salvus::admin {

// haproxy in master-worker mode: the site on the service's port, PROXY v2
// to every hub, /healthz checks, leastconn, WebSockets as tunnels; its stats
// socket passes the listeners on for seamless reloads (SIGUSR2).
std::string HaproxyConfig(const Cluster& c, const Service& haproxy, const StatePaths& p);

// haproxy's certificate and key in one file (what `crt` reads), 0600.
std::filesystem::path SiteBundle(const StatePaths& p, const Service& haproxy);

// PostgreSQL's own settings (included from postgresql.conf) and its
// pg_hba.conf: peer for the postgres user on the socket, passwords
// (scram-sha-256) from the cluster's network only.
std::string PostgresConfig(const Cluster& c, const Service& db, const std::string& socket_dir);
std::string PostgresHba(const Cluster& c, const Service& db);

// postgresql://postgres@HOST:PORT/salvus (the password comes from PGPASSFILE).
std::string DatabaseUrl(const Cluster& c);
// HOST:PORT,... of the memcached services ("" when none).
std::string MemcachedList(const Cluster& c);
// The address haproxy reaches the hubs from (their --proxy-from).
std::string ProxyAddress(const Cluster& c, const Service& haproxy);
// The address and port others reach a service at.
std::string Endpoint(const Cluster& c, const Service& s);

}  // namespace salvus::admin
