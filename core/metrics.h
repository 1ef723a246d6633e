// Process-wide counters, gauges and histograms, rendered in the Prometheus text format for
// GET /metrics.
//
// Metrics are created once (at start-up, by the module that owns them) and then updated
// lock-free from any thread. Names follow Prometheus conventions (ktrail_<what>_total for
// counters, ktrail_<what>_seconds for histograms of durations); a label set is part of the
// series, e.g. {"reason","level_none"}. Rendering writes each family as one block (HELP and
// TYPE once, then every series of that name), as the exposition format requires, in the order
// the families were first registered, followed by the standard process_* metrics of this process.
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

// A cumulative histogram with fixed upper bounds (the +Inf bucket is implied).
class Histogram {
 public:
  explicit Histogram(std::vector<double> upper_bounds);
  void observe(double value);

  const std::vector<double>& upper_bounds() const { return bounds_; }
  // Observations <= upper_bounds()[i] (cumulative); index upper_bounds().size() is +Inf.
  std::uint64_t cumulative_count(std::size_t i) const;
  double sum() const { return sum_.load(std::memory_order_relaxed); }

 private:
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<std::uint64_t>[]> buckets_;  // not cumulative; size bounds+1
  std::atomic<double> sum_{0.0};
};

enum class MetricType { kCounter, kGauge, kHistogram };

// Bucket bounds in seconds for latencies from 100 µs to 30 s.
const std::vector<double>& latency_buckets_seconds();

class MetricsRegistry {
 public:
  // The registry of the process.
  static MetricsRegistry& global();

  // Returns the series `name{labels}`, creating it on first use. The reference stays valid
  // for the life of the registry. `labels` is the inside of the braces, e.g. `reason="x"`.
  Metric& get(const std::string& name, MetricType type, const std::string& help,
              const std::string& labels = "");

  // The histogram `name{labels}`, created with `upper_bounds` on first use.
  Histogram& histogram(const std::string& name, const std::string& help,
                       const std::string& labels = "",
                       const std::vector<double>& upper_bounds = latency_buckets_seconds());

  std::string render_prometheus() const;

 private:
  struct Series {
    std::string labels;
    Metric metric;
    std::unique_ptr<Histogram> histogram;
  };
  struct Family {
    std::string name;
    std::string help;
    MetricType type;
    std::vector<std::unique_ptr<Series>> series;
  };
  Series& series_locked(const std::string& name, MetricType type, const std::string& help,
                        const std::string& labels);

  mutable std::mutex mutex_;
  std::vector<std::unique_ptr<Family>> families_;
};

}  // namespace ktrail
