// What the router tells Prometheus (core/metrics.h): requests sent on to
// compute servers by kind and the time to their answer, and the errors the
// hub answers browsers with, by code.
#include "core/metrics.h"
#include "hub/router.h"

namespace salvus::hub {

// Every error the hub itself answers a browser with goes through ErrorJson,
// which counts it here: refusals by reason (rate limited, caps, malformed
// requests, ...).
void Router::CountError(proto::Error::Code code) {
  static const auto* counters = [] {
    auto* c = new std::vector<core::metrics::Counter*>();
    for (int i = proto::Error::Code_MIN; i <= proto::Error::Code_MAX; ++i) {
      c->push_back(&core::metrics::Default().counter(
          "salvus_hub_errors_total", "Errors the hub answered browsers with, by code.",
          "code=\"" + proto::Error::Code_Name(static_cast<proto::Error::Code>(i)) + "\""));
    }
    return c;
  }();
  if (code >= proto::Error::Code_MIN && code <= proto::Error::Code_MAX) {
    (*counters)[code - proto::Error::Code_MIN]->Add();
  }
}

// The figures of one kind of request (core/metrics.h), registered on first
// use: requests sent to compute servers, and the time to their answer (for
// an execute, to its done).
Router::KindMetrics& Router::RequestMetrics(proto::Message::BodyCase kind) {
  auto it = kind_metrics_.find(kind);
  if (it != kind_metrics_.end()) return it->second;
  const auto* field = proto::Message::descriptor()->FindFieldByNumber(kind);
  const std::string label = "kind=\"" + (field ? field->camelcase_name() : "other") + "\"";
  auto& r = core::metrics::Default();
  return kind_metrics_
      .emplace(kind, KindMetrics{r.counter("salvus_hub_requests_total",
                                           "Requests sent on to compute servers, by kind.", label),
                                 r.histogram("salvus_hub_request_seconds",
                                             "From a request to its answer (an execute: its done).",
                                             core::metrics::LatencyBuckets(), label)})
      .first->second;
}

}  // namespace salvus::hub
