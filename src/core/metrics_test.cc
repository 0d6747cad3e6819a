#include "core/metrics.h"

#include <gtest/gtest.h>

#include <thread>

namespace salvus::core::metrics {
namespace {

TEST(Metrics, TextFormatOfEachKind) {
  Registry r;
  r.counter("salvus_x_requests_total", "Requests.", "kind=\"execute\"").Add(3);
  r.counter("salvus_x_requests_total", "Requests.", "kind=\"interrupt\"").Add();
  r.gauge("salvus_x_connections", "Open connections.").Set(7);
  r.gauge_fn("salvus_x_ready", "Ready workers.", [] { return 2.0; });
  Histogram& h = r.histogram("salvus_x_seconds", "Latency.", {0.01, 0.1});
  h.Observe(0.005);
  h.Observe(0.05);
  h.Observe(3);
  EXPECT_EQ(r.Text(),
            "# HELP salvus_x_connections Open connections.\n"
            "# TYPE salvus_x_connections gauge\n"
            "salvus_x_connections 7\n"
            "# HELP salvus_x_ready Ready workers.\n"
            "# TYPE salvus_x_ready gauge\n"
            "salvus_x_ready 2\n"
            "# HELP salvus_x_requests_total Requests.\n"
            "# TYPE salvus_x_requests_total counter\n"
            "salvus_x_requests_total{kind=\"execute\"} 3\n"
            "salvus_x_requests_total{kind=\"interrupt\"} 1\n"
            "# HELP salvus_x_seconds Latency.\n"
            "# TYPE salvus_x_seconds histogram\n"
            "salvus_x_seconds_bucket{le=\"0.01\"} 1\n"
            "salvus_x_seconds_bucket{le=\"0.1\"} 2\n"
            "salvus_x_seconds_bucket{le=\"+Inf\"} 3\n"
            "salvus_x_seconds_sum 3.055\n"
            "salvus_x_seconds_count 3\n");
}

TEST(Metrics, TheSameNameAndLabelsAreTheSameInstance) {
  Registry r;
  Counter& a = r.counter("c_total", "C.");
  Counter& b = r.counter("c_total", "C.");
  EXPECT_EQ(&a, &b);
  EXPECT_THROW(r.gauge("c_total", "C."), std::logic_error);
}

TEST(Metrics, CountsFromManyThreads) {
  Registry r;
  Counter& c = r.counter("c_total", "C.");
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 10000; ++i) c.Add();
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(c.value(), 40000u);
}

TEST(Metrics, ARemovedGaugeFunctionIsNotReadAgain) {
  Registry r;
  r.gauge_fn(
      "g", "G.", [] { return 1.0; }, "server=\"a\"");
  r.remove_gauge_fn("g", "server=\"a\"");
  EXPECT_EQ(r.Text(), "# HELP g G.\n# TYPE g gauge\n");
}

}  // namespace
}  // namespace salvus::core::metrics
