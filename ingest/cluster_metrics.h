// Per-cluster ingest counters on /metrics (core/cluster.h):
//   ktrail_cluster_items_total{cluster="...",outcome="received|stored|duplicate|rejected|dropped"}
// Label cardinality is bounded: the first kMaxClusterSeries clusters seen get their own series;
// items of any later cluster are counted under cluster="_other" (not a valid cluster name, so
// it never collides with one). Thread-safe.
#pragma once

#include <cstddef>
#include <string>

#include "core/batch.h"

namespace ktrail::ingest {

inline constexpr std::size_t kMaxClusterSeries = 64;

// `received` items arrived for `cluster`.
void count_cluster_received(const std::string& cluster, std::size_t received);
// What became of a batch of `cluster`.
void count_cluster_outcome(const std::string& cluster, const BatchOutcome& outcome);

}  // namespace ktrail::ingest
