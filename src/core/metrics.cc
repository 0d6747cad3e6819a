#include "core/metrics.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace salvus::core::metrics {

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)), buckets_(new std::atomic<uint64_t>[bounds_.size() + 1]) {
  std::sort(bounds_.begin(), bounds_.end());
  for (size_t i = 0; i <= bounds_.size(); ++i) buckets_[i].store(0);
}

void Histogram::Observe(double v) {
  const size_t i =
      static_cast<size_t>(std::lower_bound(bounds_.begin(), bounds_.end(), v) - bounds_.begin());
  buckets_[i].fetch_add(1, std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
  if (v > 0 && std::isfinite(v)) {
    sum_micro_.fetch_add(static_cast<uint64_t>(v * 1e6), std::memory_order_relaxed);
  }
}

double Histogram::sum() const {
  return static_cast<double>(sum_micro_.load(std::memory_order_relaxed)) / 1e6;
}

std::vector<double> LatencyBuckets() {
  return {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};
}

Registry::Family& Registry::family(const std::string& name, Type type, const std::string& help) {
  auto [it, fresh] = families_.try_emplace(name, Family{type, help, {}, {}, {}, {}});
  if (!fresh && it->second.type != type) {
    throw std::logic_error("metric " + name + " registered with two types");
  }
  return it->second;
}

Counter& Registry::counter(const std::string& name, const std::string& help,
                           const std::string& labels) {
  std::lock_guard lock(mu_);
  Family& f = family(name, Type::kCounter, help);
  auto it = f.counters.find(labels);
  if (it != f.counters.end()) return *it->second;
  Counter& c = counters_.emplace_back();
  f.counters[labels] = &c;
  return c;
}

Gauge& Registry::gauge(const std::string& name, const std::string& help,
                       const std::string& labels) {
  std::lock_guard lock(mu_);
  Family& f = family(name, Type::kGauge, help);
  auto it = f.gauges.find(labels);
  if (it != f.gauges.end()) return *it->second;
  Gauge& g = gauges_.emplace_back();
  f.gauges[labels] = &g;
  return g;
}

Histogram& Registry::histogram(const std::string& name, const std::string& help,
                               std::vector<double> bounds, const std::string& labels) {
  std::lock_guard lock(mu_);
  Family& f = family(name, Type::kHistogram, help);
  auto it = f.histograms.find(labels);
  if (it != f.histograms.end()) return *it->second;
  Histogram& h = *histograms_.emplace_back(std::make_unique<Histogram>(std::move(bounds)));
  f.histograms[labels] = &h;
  return h;
}

void Registry::gauge_fn(const std::string& name, const std::string& help,
                        std::function<double()> read, const std::string& labels) {
  std::lock_guard lock(mu_);
  family(name, Type::kGauge, help).gauge_fns[labels] = std::move(read);
}

void Registry::remove_gauge_fn(const std::string& name, const std::string& labels) {
  std::lock_guard lock(mu_);
  auto it = families_.find(name);
  if (it != families_.end()) it->second.gauge_fns.erase(labels);
}

namespace {

std::string Braced(const std::string& labels, const std::string& more = "") {
  if (labels.empty() && more.empty()) return "";
  if (labels.empty()) return "{" + more + "}";
  if (more.empty()) return "{" + labels + "}";
  return "{" + labels + "," + more + "}";
}

std::string Number(double v) {
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  if (std::isnan(v)) return "NaN";
  return fmt::format("{}", v);
}

}  // namespace

std::string Registry::Text() const {
  std::lock_guard lock(mu_);
  std::string out;
  for (const auto& [name, f] : families_) {
    static const char* kType[] = {"counter", "gauge", "histogram"};
    out += "# HELP " + name + " " + f.help + "\n";
    out += "# TYPE " + name + " " + kType[static_cast<int>(f.type)] + "\n";
    for (const auto& [labels, c] : f.counters) {
      out += name + Braced(labels) + " " + std::to_string(c->value()) + "\n";
    }
    for (const auto& [labels, g] : f.gauges) {
      out += name + Braced(labels) + " " + std::to_string(g->value()) + "\n";
    }
    for (const auto& [labels, read] : f.gauge_fns) {
      out += name + Braced(labels) + " " + Number(read()) + "\n";
    }
    for (const auto& [labels, h] : f.histograms) {
      uint64_t cumulative = 0;
      for (size_t i = 0; i < h->bounds().size(); ++i) {
        cumulative += h->bucket(i);
        out += name + "_bucket" + Braced(labels, "le=\"" + Number(h->bounds()[i]) + "\"") + " " +
               std::to_string(cumulative) + "\n";
      }
      cumulative += h->bucket(h->bounds().size());
      out += name + "_bucket" + Braced(labels, "le=\"+Inf\"") + " " + std::to_string(cumulative) +
             "\n";
      out += name + "_sum" + Braced(labels) + " " + Number(h->sum()) + "\n";
      out += name + "_count" + Braced(labels) + " " + std::to_string(h->count()) + "\n";
    }
  }
  return out;
}

Registry& Default() {
  static Registry* r = new Registry();  // never destroyed: threads may count at exit
  return *r;
}

}  // namespace salvus::core::metrics
