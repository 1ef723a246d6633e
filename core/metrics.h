// Process-wide counters and gauges, rendered in the Prometheus text format for GET /metrics.
//
// Metrics are created once (at start-up, by the module that owns them) and then updated
// lock-free from any thread. Names follow Prometheus conventions (ktrail_<what>_total for
// counters); a label set is part of the series, e.g. {"reason","level_none"}.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace ktrail {

class Metric {
 public:
  void add(std::int64_t n = 1) { value_.fetch_add(n, std::memory_order_relaxed); }
  void set(std::int64_t v) { value_.store(v, std::memory_order_relaxed); }
  std::int64_t value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::int64_t> value_{0};
};

enum class MetricType { kCounter, kGauge };

class MetricsRegistry {
 public:
  // The registry of the process.
  static MetricsRegistry& global();

  // Returns the series `name{labels}`, creating it on first use. The reference stays valid
  // for the life of the registry. `labels` is the inside of the braces, e.g. `reason="x"`.
  Metric& get(const std::string& name, MetricType type, const std::string& help,
              const std::string& labels = "");

  std::string render_prometheus() const;

 private:
  struct Series {
    std::string name;
    std::string labels;
    std::string help;
    MetricType type;
    Metric metric;
  };
  mutable std::mutex mutex_;
  std::vector<std::unique_ptr<Series>> series_;
};

}  // namespace ktrail
