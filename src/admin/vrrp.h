// The floating address (cluster.floating_address): a keepalived beside each
// haproxy, in its namespace, VRRP on eth0. The instance whose haproxy
// answers its own /healthz (a track_script) with the highest priority holds
// the address; when that haproxy dies the address moves to another within
// a few seconds (advert_int 1).
#pragma once

#include <expected>
#include <string>

#include "admin/cluster.h"
#include "admin/services.h"

namespace salvus::admin {

// keepalived.conf for the haproxy `s`, the `index`-th of the cluster's
// haproxies (which sets its priority).
std::string KeepalivedConfig(const Cluster& c, const Service& s, size_t index);

// Starts (if not running) the keepalived of haproxy `s`.
std::expected<void, std::string> StartKeepalived(const Context& ctx, const Service& s);
std::expected<void, std::string> StopKeepalived(const Context& ctx, const Service& s);

// The haproxy service whose host holds the floating address now; nullptr
// when none does.
const Service* FloatingHolder(const Context& ctx);

// Waits until some host holds the floating address and the site answers
// /healthz on it.
std::expected<void, std::string> WaitForFloating(const Context& ctx);

std::filesystem::path KeepalivedPidfile(const Context& ctx, const Service& s);

}  // namespace salvus::admin
