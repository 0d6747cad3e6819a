// What the vault tells Prometheus (core/metrics.h, `--metrics-listen`):
// hubs connected, connections refused by reason, requests by operation and
// outcome with their latency, mails by outcome. Counts only: nothing about
// an address or an account.
#pragma once

#include <string>

#include "core/metrics.h"

namespace salvus::vault {

struct VaultMetrics {
  using R = core::metrics::Registry;
  using Counter = core::metrics::Counter;

  explicit VaultMetrics(R& r = core::metrics::Default())
      : hubs(r.gauge("salvus_vault_hubs", "Hub connections open (authenticated or not).")),
        refused_full(Refused(r, "full")),
        refused_token(Refused(r, "token")),
        refused_malformed(Refused(r, "malformed")),
        refused_too_big(Refused(r, "too_big")),
        refused_no_hello(Refused(r, "no_hello")),
        register_ok(Request(r, "register", "ok")),
        register_error(Request(r, "register", "error")),
        lookup_ok(Request(r, "lookup", "ok")),
        lookup_error(Request(r, "lookup", "error")),
        send_mail_ok(Request(r, "send_mail", "ok")),
        send_mail_error(Request(r, "send_mail", "error")),
        public_key(Request(r, "public_key", "ok")),
        other_error(Request(r, "other", "error")),
        seconds(r.histogram("salvus_vault_request_seconds",
                            "Time the vault took to answer a request (its SQLite work included; "
                            "mail delivery excluded).",
                            {0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1})),
        mails_sent(Mails(r, "sent")),
        mails_failed(Mails(r, "failed")),
        mails_queue_full(Mails(r, "queue_full")) {}

  core::metrics::Gauge& hubs;
  Counter &refused_full, &refused_token, &refused_malformed, &refused_too_big, &refused_no_hello;
  Counter &register_ok, &register_error, &lookup_ok, &lookup_error, &send_mail_ok, &send_mail_error,
      &public_key, &other_error;
  core::metrics::Histogram& seconds;
  Counter &mails_sent, &mails_failed, &mails_queue_full;

 private:
  static Counter& Refused(R& r, const std::string& reason) {
    return r.counter("salvus_vault_connections_refused_total",
                     "Hub connections refused or closed before or at hello, by reason.",
                     "reason=\"" + reason + "\"");
  }
  static Counter& Request(R& r, const std::string& op, const std::string& outcome) {
    return r.counter("salvus_vault_requests_total", "Requests from hubs, by operation and outcome.",
                     "op=\"" + op + "\",outcome=\"" + outcome + "\"");
  }
  static Counter& Mails(R& r, const std::string& outcome) {
    return r.counter("salvus_vault_mails_total",
                     "Mails handed to the relay (or written), by outcome.",
                     "outcome=\"" + outcome + "\"");
  }
};

// The process's (registered in core::metrics::Default() on first use).
inline VaultMetrics& Metrics() {
  static VaultMetrics* m = new VaultMetrics();
  return *m;
}

}  // namespace salvus::vault
