// What `salvus hub` is told: where to listen and which compute servers to
// use, and its limits. Every default here is the value the hub runs with
// when nothing else is said.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "core/address.h"
#include "core/session_limits.h"

namespace salvus::hub {

struct HubOptions {
  core::HostPort listen{"127.0.0.1", 8080};
  // HOST:PORT answering GET /metrics (Prometheus); empty: none.
  std::string metrics_listen;
  std::vector<core::HostPort> compute;
  std::string token;
  std::string web_root;           // built web client (index.html, assets/)
  unsigned threads = 0;           // 0: one per core
  std::string tls_cert, tls_key;  // both set: serve https and wss
  // Compute servers over TLS: their certificates must chain to
  // compute_tls_ca (PEM; "": the system's trusted store) and name the host
  // dialled, or the hub sends them nothing. compute_tls_insecure checks
  // nothing (the cluster token goes to whoever answers).
  bool compute_tls = false;
  std::string compute_tls_ca;
  bool compute_tls_insecure = false;
  size_t max_code = 1 << 20;  // largest cell accepted
  // A WebSocket message above this closes the socket (1009, with a reason)
  // and ends the connection's sessions.
  size_t max_message = 4 << 20;
  size_t max_share = 64 << 10;  // largest code + interact state a permalink may hold
  std::string port_file;
  std::string db;                       // Store URL (sqlite:PATH, postgresql://...); empty: none
  size_t blob_cache_bytes = 256 << 20;  // blobs kept in memory
  // Origins (scheme://host[:port]) whose pages may open /ws besides the hub's
  // own, e.g. sites embedding cells with /embed.js; "*" allows any.
  std::vector<std::string> allow_origins;
  // The site's address as browsers see it behind a proxy
  // (scheme://host[:port]): its pages are the hub's own for the Origin
  // check (origin.h), instead of the address a connection reached. "":
  // none.
  std::string public_origin;
  // Proxies (haproxy) in front of the hub: addresses or CIDR networks
  // (proxy_from.h). A connection from one must open with a PROXY header
  // (v1 or v2, within proxy_header_timeout) and counts as the client it
  // names; from anyone else a PROXY header is refused.
  std::vector<std::string> proxy_from;
  std::chrono::milliseconds proxy_header_timeout = std::chrono::seconds(5);
  // How long the sessions of a page whose connection dropped wait for it to
  // reconnect and resume them (0: they end with the connection).
  std::chrono::milliseconds reconnect_grace = std::chrono::seconds(120);
  // How often the sessions whose grace period passed are ended.
  std::chrono::milliseconds expire_tick = std::chrono::milliseconds(250);
  // Output of a detached session kept for its resume; past it a notice
  // stands for what was dropped.
  size_t max_detached_output = 1 << 20;
  // A compute server that refused a start as full gets no new start for this
  // long (unless a newer report of its load comes first).
  std::chrono::milliseconds compute_full_for = std::chrono::seconds(5);
  // Messages per second one WebSocket may send on average (bursts of one
  // second's worth pass at once); faster senders are slowed, not cut. A
  // request that goes to a compute server while the connection has none
  // in flight is not counted (a client that waits for each answer is
  // never slowed). 0: no limit.
  double max_message_rate = 200;
  // A connection over that rate is told (RATE_LIMITED) at most this often.
  std::chrono::milliseconds rate_notice_interval = std::chrono::seconds(10);
  // Each limit a page's startSession asks for is lowered to this (a zero
  // field: no ceiling at the hub); compute servers apply their own again.
  proto::Limits max_session_limits = core::DefaultSessionLimits();
  // Sessions (started or starting) one WebSocket may hold, and one client
  // address across all its connections (detached ones included); past
  // either a startSession gets RESOURCE_EXHAUSTED. 0: no limit.
  size_t max_sessions_per_connection = 8;
  size_t max_sessions_per_address = 64;
  // Open TCP connections (browsers, pages loading) the hub holds at once;
  // past it a new connection gets 503 and is closed.
  size_t max_connections = 20000;
  // Open connections one client address (client_address.h: an IPv6 client
  // by its /64) may hold; past it a new one gets 429 and is closed. A
  // classroom behind one NAT: 64 pages (a WebSocket each, and up to 6
  // connections while one loads) fit. 0: no limit.
  size_t max_connections_per_address = 512;
  // A connection refused for either limit still has its request read (for
  // at most refused_read_timeout) and answered, so /healthz answers
  // whatever the load: at most refused_slots at once per shard, and
  // refused_slots_per_address per address; past those it is closed at once.
  size_t refused_slots = 64;
  size_t refused_slots_per_address = 4;
  std::chrono::milliseconds refused_read_timeout = std::chrono::seconds(2);
  // Memory freed by closed connections is handed back to the system (a
  // check every trim_interval) once this many closed since the last peak
  // (0: never).
  size_t trim_after_closed = 256;
  std::chrono::milliseconds trim_interval = std::chrono::seconds(5);
  // Bytes waiting to be sent to one WebSocket past which it is backed up:
  // the hub stops reading it and pauses its sessions at their compute
  // servers (their output waits in the workers: proto Flow) until the
  // bytes waiting are down to half. 0: no limit.
  size_t max_send_queue = 1 << 20;
  // A WebSocket backed up this long is closed (close code 1008, "too
  // slow: ..."); its sessions detach as with any lost connection. The
  // close itself may take close_timeout more before the socket is cut.
  std::chrono::milliseconds slow_reader_timeout = std::chrono::seconds(30);
  std::chrono::milliseconds slow_close_timeout = std::chrono::seconds(5);
  // File descriptors kept free of connections (for the database, compute
  // links, files) when the open-files limit caps max_connections.
  size_t reserved_descriptors = 256;
  // "Connection limit reached" is logged at most this often.
  std::chrono::milliseconds full_warning_interval = std::chrono::seconds(1);
  // HTTP: the largest request body read; how long a connection may take to
  // send a request (an idle keep-alive connection closes after it); how long
  // a TLS handshake may take.
  size_t max_http_body = 64 << 10;
  std::chrono::milliseconds http_read_timeout = std::chrono::seconds(30);
  std::chrono::milliseconds tls_handshake_timeout = std::chrono::seconds(30);
  // With `db`: how often one shard prunes the Store's capped tables, and
  // deletes the blobs last produced longer than blob_max_age ago that no
  // permalink refers to (0: blobs are kept for ever).
  std::chrono::seconds store_prune_interval = std::chrono::seconds(60);
  std::chrono::seconds blob_max_age = std::chrono::days(7);
  // With `db`: learn compute servers from the Store too (services of type
  // compute that run, with their monitors' reports), every
  // `discover_interval`, read through memcached when given. A server whose
  // newest report is older than `stale_after` gets no new sessions.
  std::string memcached;  // HOST:PORT[,...]; empty: none
  std::chrono::milliseconds discover_interval = std::chrono::seconds(2);
  std::chrono::milliseconds stale_after = std::chrono::seconds(20);
  // Accounts (account_api.h), with `db`: the vault's address (no host: no
  // accounts; their endpoints answer 503). With vault_tls_ca its
  // certificate must chain to that CA; without, the vault must be on a
  // loopback address (plain TCP). The hub presents `token`.
  core::HostPort vault;
  std::string vault_tls_ca;
  // Argon2id cost (accounts::PasswordParamsNamed): interactive, moderate,
  // sensitive, or min (tests only); the threads hashing and the calls that
  // may wait for them (more are told "busy").
  std::string password_cost = "interactive";
  unsigned password_threads = 2;
  size_t password_queue = 64;
  // A browser's sign-in lasts this long (then it signs in again).
  std::chrono::seconds account_session_max_age = std::chrono::days(30);
  // Failed sign-ins per account and per address before the back-off
  // (1 s, doubling, at most sign_in_max_wait) starts.
  int sign_in_free_failures = 5;
  std::chrono::milliseconds sign_in_max_wait = std::chrono::minutes(15);
  // For tests only: called with every WebSocket message before it is routed.
  // A throw from it ends that connection as a bug in the hub would (the
  // exception is logged and the connection's sessions are cleaned up).
  std::function<void(std::string_view text)> on_ws_message;
};

}  // namespace salvus::hub
