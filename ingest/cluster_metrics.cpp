#include "ingest/cluster_metrics.h"

#include <array>
#include <map>
#include <mutex>

#include "core/metrics.h"

namespace ktrail::ingest {
namespace {

enum Outcome : std::size_t { kReceived, kStored, kDuplicate, kRejected, kDropped, kOutcomes };
constexpr std::array<const char*, kOutcomes> kOutcomeNames = {"received", "stored", "duplicate",
                                                              "rejected", "dropped"};

using Series = std::array<Metric*, kOutcomes>;

// The series of `cluster`, made on first use; past the cap, those of "_other".
const Series& series_of(const std::string& cluster) {
  static std::mutex mutex;
  static std::map<std::string, Series> known;
  std::lock_guard lock(mutex);
  auto it = known.find(cluster);
  if (it != known.end()) {
    return it->second;
  }
  const std::string label = known.size() < kMaxClusterSeries ? cluster : "_other";
  if (auto other = known.find(label); other != known.end()) {
    return other->second;
  }
  Series series{};
  for (std::size_t i = 0; i < kOutcomes; ++i) {
    series[i] = &MetricsRegistry::global().get(
        "ktrail_cluster_items_total", MetricType::kCounter,
        "Ingested items by cluster and what became of them (at most 64 clusters, then "
        "cluster=\"_other\")",
        "cluster=\"" + label + "\",outcome=\"" + kOutcomeNames[i] + "\"");
  }
  return known.emplace(label, series).first->second;
}

}  // namespace

void count_cluster_received(const std::string& cluster, std::size_t received) {
  series_of(cluster)[kReceived]->add(static_cast<std::int64_t>(received));
}

void count_cluster_outcome(const std::string& cluster, const BatchOutcome& outcome) {
  const Series& s = series_of(cluster);
  s[kStored]->add(static_cast<std::int64_t>(outcome.stored));
  s[kDuplicate]->add(static_cast<std::int64_t>(outcome.duplicates));
  s[kRejected]->add(static_cast<std::int64_t>(outcome.rejected));
  s[kDropped]->add(static_cast<std::int64_t>(outcome.dropped_by_policy));
}

}  // namespace ktrail::ingest
