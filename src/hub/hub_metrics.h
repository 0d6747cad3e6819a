// What the hub's connections tell Prometheus (core/metrics.h), beside the
// router's requests and errors (router_metrics.cc): connections refused by
// reason, HTTP requests refused unread, WebSocket messages and bytes each
// way. One set per process, counted from any shard's thread.
#pragma once

#include "core/metrics.h"

namespace salvus::hub {

struct HubMetrics {
  using R = core::metrics::Registry;
  explicit HubMetrics(R& r = core::metrics::Default())
      : refused_per_address(r.counter("salvus_hub_connections_refused_total",
                                      "Connections refused (429/503) at a cap, by reason.",
                                      "reason=\"per_address\"")),
        refused_full(r.counter("salvus_hub_connections_refused_total",
                               "Connections refused (429/503) at a cap, by reason.",
                               "reason=\"hub_full\"")),
        http_malformed(r.counter("salvus_hub_http_refused_total",
                                 "HTTP requests refused unread, by status.", "status=\"400\"")),
        http_body_too_large(r.counter("salvus_hub_http_refused_total",
                                      "HTTP requests refused unread, by status.",
                                      "status=\"413\"")),
        http_header_too_large(r.counter("salvus_hub_http_refused_total",
                                        "HTTP requests refused unread, by status.",
                                        "status=\"431\"")),
        ws_messages_in(r.counter("salvus_hub_websocket_messages_total",
                                 "WebSocket messages, by direction.", "direction=\"in\"")),
        ws_messages_out(r.counter("salvus_hub_websocket_messages_total",
                                  "WebSocket messages, by direction.", "direction=\"out\"")),
        ws_bytes_in(r.counter("salvus_hub_websocket_bytes_total",
                              "WebSocket message bytes (payload), by direction.",
                              "direction=\"in\"")),
        ws_bytes_out(r.counter("salvus_hub_websocket_bytes_total",
                               "WebSocket message bytes (payload), by direction.",
                               "direction=\"out\"")) {}

  core::metrics::Counter &refused_per_address, &refused_full;
  core::metrics::Counter &http_malformed, &http_body_too_large, &http_header_too_large;
  core::metrics::Counter &ws_messages_in, &ws_messages_out, &ws_bytes_in, &ws_bytes_out;
};

// The process's (registered in core::metrics::Default() on first use).
inline HubMetrics& Metrics() {
  static HubMetrics* m = new HubMetrics();
  return *m;
}

}  // namespace salvus::hub
