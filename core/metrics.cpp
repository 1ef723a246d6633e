#include "core/metrics.h"

#include <set>

namespace ktrail {

MetricsRegistry& MetricsRegistry::global() {
  static MetricsRegistry registry;
  return registry;
}

Metric& MetricsRegistry::get(const std::string& name, MetricType type, const std::string& help,
                             const std::string& labels) {
  std::lock_guard lock(mutex_);
  for (auto& s : series_) {
    if (s->name == name && s->labels == labels) {
      return s->metric;
    }
  }
  auto series = std::make_unique<Series>();
  series->name = name;
  series->labels = labels;
  series->help = help;
  series->type = type;
  series_.push_back(std::move(series));
  return series_.back()->metric;
}

std::string MetricsRegistry::render_prometheus() const {
  std::lock_guard lock(mutex_);
  std::string out;
  std::set<std::string> described;
  for (const auto& s : series_) {
    if (described.insert(s->name).second) {
      out += "# HELP " + s->name + " " + s->help + "\n";
      out += "# TYPE " + s->name + (s->type == MetricType::kCounter ? " counter\n" : " gauge\n");
    }
    out += s->name;
    if (!s->labels.empty()) {
      out += "{" + s->labels + "}";
    }
    out += " " + std::to_string(s->metric.value()) + "\n";
  }
  return out;
}

}  // namespace ktrail
