#include "core/metrics.h"

#include <dirent.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>

namespace ktrail {

Histogram::Histogram(std::vector<double> upper_bounds)
    : bounds_(std::move(upper_bounds)),
      buckets_(std::make_unique<std::atomic<std::uint64_t>[]>(bounds_.size() + 1)) {}

void Histogram::observe(double value) {
  std::size_t i = 0;
  while (i < bounds_.size() && value > bounds_[i]) {
    ++i;
  }
  buckets_[i].fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(value, std::memory_order_relaxed);
}

std::uint64_t Histogram::cumulative_count(std::size_t i) const {
  std::uint64_t n = 0;
  for (std::size_t b = 0; b <= i && b <= bounds_.size(); ++b) {
    n += buckets_[b].load(std::memory_order_relaxed);
  }
  return n;
}

const std::vector<double>& latency_buckets_seconds() {
  static const std::vector<double> bounds = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
                                             0.01,   0.025,   0.05,   0.1,   0.25,   0.5,
                                             1,      2.5,     5,      10,    30};
  return bounds;
}

MetricsRegistry& MetricsRegistry::global() {
  static MetricsRegistry registry;
  return registry;
}

MetricsRegistry::Series& MetricsRegistry::series_locked(const std::string& name, MetricType type,
                                                        const std::string& help,
                                                        const std::string& labels) {
  Family* family = nullptr;
  for (auto& f : families_) {
    if (f->name == name) {
      family = f.get();
      break;
    }
  }
  if (family == nullptr) {
    families_.push_back(std::make_unique<Family>(Family{name, help, type, {}}));
    family = families_.back().get();
  }
  for (auto& s : family->series) {
    if (s->labels == labels) {
      return *s;
    }
  }
  family->series.push_back(std::make_unique<Series>());
  family->series.back()->labels = labels;
  return *family->series.back();
}

Metric& MetricsRegistry::get(const std::string& name, MetricType type, const std::string& help,
                             const std::string& labels) {
  std::lock_guard lock(mutex_);
  return series_locked(name, type, help, labels).metric;
}

Histogram& MetricsRegistry::histogram(const std::string& name, const std::string& help,
                                      const std::string& labels,
                                      const std::vector<double>& upper_bounds) {
  std::lock_guard lock(mutex_);
  Series& s = series_locked(name, MetricType::kHistogram, help, labels);
  if (!s.histogram) {
    s.histogram = std::make_unique<Histogram>(upper_bounds);
  }
  return *s.histogram;
}

namespace {

const char* type_name(MetricType type) {
  switch (type) {
    case MetricType::kCounter:
      return "counter";
    case MetricType::kGauge:
      return "gauge";
    case MetricType::kHistogram:
      return "histogram";
  }
  return "untyped";
}

std::string number(double v) {
  std::ostringstream out;
  out.precision(17);
  out << v;
  return out.str();
}

// `name{labels,extra}`; either part may be empty.
std::string series_name(const std::string& name, const std::string& labels,
                        const std::string& extra = "") {
  std::string inside = labels;
  if (!extra.empty()) {
    inside += (inside.empty() ? "" : ",") + extra;
  }
  return inside.empty() ? name : name + "{" + inside + "}";
}

void render_histogram(const std::string& name, const std::string& labels, const Histogram& h,
                      std::string& out) {
  const auto& bounds = h.upper_bounds();
  for (std::size_t i = 0; i < bounds.size(); ++i) {
    out += series_name(name + "_bucket", labels, "le=\"" + number(bounds[i]) + "\"") + " " +
           std::to_string(h.cumulative_count(i)) + "\n";
  }
  const auto count = h.cumulative_count(bounds.size());
  out += series_name(name + "_bucket", labels, "le=\"+Inf\"") + " " + std::to_string(count) + "\n";
  out += series_name(name + "_sum", labels) + " " + number(h.sum()) + "\n";
  out += series_name(name + "_count", labels) + " " + std::to_string(count) + "\n";
}

void family_header(const std::string& name, const std::string& help, const char* type,
                   std::string& out) {
  out += "# HELP " + name + " " + help + "\n";
  out += "# TYPE " + name + " " + type + "\n";
}

// The standard process metrics, read from /proc/self at each scrape.
void render_process(std::string& out) {
  const long ticks = sysconf(_SC_CLK_TCK);
  const long page = sysconf(_SC_PAGESIZE);
  std::ifstream stat_file("/proc/self/stat");
  std::string stat((std::istreambuf_iterator<char>(stat_file)), std::istreambuf_iterator<char>());
  const auto close = stat.rfind(')');
  if (close == std::string::npos || ticks <= 0) {
    return;
  }
  // Fields after the command name, numbered from 3 (state) as in proc(5).
  std::istringstream rest(stat.substr(close + 2));
  std::vector<std::string> f(3);
  for (std::string field; rest >> field;) {
    f.push_back(field);
  }
  if (f.size() <= 24) {
    return;
  }
  const double cpu = (std::stod(f[14]) + std::stod(f[15])) / static_cast<double>(ticks);
  const double vsize = std::stod(f[23]);
  const double rss = std::stod(f[24]) * static_cast<double>(page);
  double boot_time = 0;
  std::ifstream kstat("/proc/stat");
  for (std::string line; std::getline(kstat, line);) {
    if (line.rfind("btime ", 0) == 0) {
      boot_time = std::stod(line.substr(6));
    }
  }
  const double start = boot_time + std::stod(f[22]) / static_cast<double>(ticks);
  long fds = 0;
  if (DIR* dir = opendir("/proc/self/fd")) {
    while (readdir(dir) != nullptr) {
      ++fds;
    }
    closedir(dir);
    fds -= 3;  // ".", ".." and the directory's own descriptor
  }
  long max_fds = sysconf(_SC_OPEN_MAX);

  family_header("process_cpu_seconds_total", "User and system CPU time spent, in seconds.",
                "counter", out);
  out += "process_cpu_seconds_total " + number(cpu) + "\n";
  family_header("process_resident_memory_bytes", "Resident memory size in bytes.", "gauge", out);
  out += "process_resident_memory_bytes " + number(rss) + "\n";
  family_header("process_virtual_memory_bytes", "Virtual memory size in bytes.", "gauge", out);
  out += "process_virtual_memory_bytes " + number(vsize) + "\n";
  family_header("process_open_fds", "Open file descriptors.", "gauge", out);
  out += "process_open_fds " + std::to_string(fds) + "\n";
  family_header("process_max_fds", "Limit of open file descriptors.", "gauge", out);
  out += "process_max_fds " + std::to_string(max_fds) + "\n";
  family_header("process_start_time_seconds", "Start time of the process, in seconds since the epoch.",
                "gauge", out);
  out += "process_start_time_seconds " + number(start) + "\n";
}

}  // namespace

std::string MetricsRegistry::render_prometheus() const {
  std::string out;
  {
    std::lock_guard lock(mutex_);
    for (const auto& f : families_) {
      family_header(f->name, f->help, type_name(f->type), out);
      for (const auto& s : f->series) {
        if (f->type == MetricType::kHistogram) {
          if (s->histogram) {
            render_histogram(f->name, s->labels, *s->histogram, out);
          }
          continue;
        }
        out += series_name(f->name, s->labels) + " " + std::to_string(s->metric.value()) + "\n";
      }
    }
  }
  render_process(out);
  return out;
}

}  // namespace ktrail
