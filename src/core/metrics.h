// Figures a process exposes for Prometheus (/metrics, text format 0.0.4):
// counters, gauges (set, or read when scraped) and histograms, each a
// family by name with its help text, instances told apart by a fixed label
// set. Values are atomics: any thread may count; registering takes a lock
// (do it once, keep the reference: it stays valid for the registry's life).
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace salvus::core::metrics {

class Counter {
 public:
  void Add(uint64_t n = 1) { v_.fetch_add(n, std::memory_order_relaxed); }
  uint64_t value() const { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> v_{0};
};

class Gauge {
 public:
  void Set(int64_t v) { v_.store(v, std::memory_order_relaxed); }
  void Add(int64_t n) { v_.fetch_add(n, std::memory_order_relaxed); }
  int64_t value() const { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<int64_t> v_{0};
};

// Observations in cumulative buckets (upper bounds, ascending; +Inf added).
class Histogram {
 public:
  explicit Histogram(std::vector<double> bounds);
  void Observe(double v);
  const std::vector<double>& bounds() const { return bounds_; }
  uint64_t bucket(size_t i) const { return buckets_[i].load(std::memory_order_relaxed); }
  uint64_t count() const { return count_.load(std::memory_order_relaxed); }
  double sum() const;

 private:
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> buckets_;  // per bound, not cumulative
  std::atomic<uint64_t> count_{0};
  std::atomic<uint64_t> sum_micro_{0};  // the sum in millionths (observations >= 0)
};

// Seconds from 1 ms to 60 s, for latencies.
std::vector<double> LatencyBuckets();

class Registry {
 public:
  // `labels`: "" or a Prometheus label set without braces, e.g.
  // `kind="execute"`. The same name and labels give the same instance.
  Counter& counter(const std::string& name, const std::string& help,
                   const std::string& labels = "");
  Gauge& gauge(const std::string& name, const std::string& help, const std::string& labels = "");
  Histogram& histogram(const std::string& name, const std::string& help, std::vector<double> bounds,
                       const std::string& labels = "");
  // A gauge whose value `read` gives at each scrape (called under the
  // registry's lock, from the scraping thread: it must be thread-safe).
  void gauge_fn(const std::string& name, const std::string& help, std::function<double()> read,
                const std::string& labels = "");
  // Removes what gauge_fn registered under `name` and `labels` (before what
  // `read` reads goes away).
  void remove_gauge_fn(const std::string& name, const std::string& labels = "");

  // Every family, in the text exposition format.
  std::string Text() const;

 private:
  enum class Type { kCounter, kGauge, kHistogram };
  struct Family {
    Type type;
    std::string help;
    std::map<std::string, Counter*> counters;  // by labels
    std::map<std::string, Gauge*> gauges;
    std::map<std::string, Histogram*> histograms;
    std::map<std::string, std::function<double()>> gauge_fns;
  };
  Family& family(const std::string& name, Type type, const std::string& help);

  mutable std::mutex mu_;
  std::map<std::string, Family> families_;  // GUARDED_BY(mu_)
  std::deque<Counter> counters_;            // stable addresses
  std::deque<Gauge> gauges_;
  std::deque<std::unique_ptr<Histogram>> histograms_;
};

// The process's registry (what /metrics shows).
Registry& Default();

}  // namespace salvus::core::metrics
