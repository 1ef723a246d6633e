// Kubernetes Events in the store: the reads behind timelines and the correlation restore.
//
// An Event belongs to a time window when it overlaps it (last_time >= since, first_time <=
// until), and results are ordered by last_time. Each search is a set of index ranges bounded by
// time at both ends: one per driving lookup (a node has two: Events its kubelet reported, and
// Events about the Node object) and per span class (storage/span_class.h). With a limit, each
// range yields only its own most recent `limit` rows, and the merge keeps the most recent overall.
#include <algorithm>
#include <limits>
#include <unordered_set>

#include "storage/span_class.h"
#include "storage/clusters.h"
#include "storage/store_impl.h"

namespace ktrail {
namespace {

// How one range is found: the index, and the condition on its leading column (parameter ?1).
struct Lookup {
  const char* index;
  const char* condition;  // empty: no leading column (the span_class, last_time index)
  std::string value;
};

std::vector<Lookup> lookups_for(const KubeEventFilter& f) {
  if (f.node) {
    // Kubelet Events name the node only in source.host; Events about the Node name it as the
    // involved object (reported by the node controller, or by the kubelet itself: both ranges
    // can hold the same row, which the merge keeps once).
    return {{"kube_events_by_host_time", "source_host = ?1", *f.node},
            {"kube_events_by_object_time", "object_name = ?1 AND object_kind = 'Node'", *f.node}};
  }
  if (f.object_name) {
    return {{"kube_events_by_object_time", "object_name = ?1", *f.object_name}};
  }
  if (f.namespace_) {
    return {{"kube_events_by_namespace_time", "object_namespace = ?1", *f.namespace_}};
  }
  return {{"kube_events_by_span_time", "", ""}};
}

// The filters that are checked on each row of a range rather than driving it: a condition on
// parameter ?6 onwards, and the value it takes.
struct Residual {
  const char* condition;  // "{}" stands for the parameter
  std::string value;
};

std::vector<Residual> residuals_for(const KubeEventFilter& f) {
  std::vector<Residual> out;
  if (f.namespace_ && (f.node || f.object_name)) {
    out.push_back({"object_namespace = {}", *f.namespace_});
  }
  if (f.object_name && f.node) {
    out.push_back({"object_name = {}", *f.object_name});
  }
  if (f.object_kind) {
    out.push_back({"object_kind = {} COLLATE NOCASE", *f.object_kind});
  }
  if (f.reason) {
    out.push_back({"reason = {}", *f.reason});
  }
  if (f.type) {
    out.push_back({"type = {} COLLATE NOCASE", *f.type});
  }
  return out;
}

// One statement per lookup, run once per span class:
// ?1 the lookup value, ?2 the class, ?3 since, ?4 the class's bound on last_time, ?5 until,
// ?6 onwards the residual filters in order.
std::string lookup_sql(const Lookup& lookup, const KubeEventFilter& f,
                       const std::vector<Residual>& residuals,
                       const std::vector<std::int64_t>& clusters) {
  std::string sql =
      "SELECT id, uid, namespace, name, object_kind, object_namespace, object_name, object_uid, "
      "reason, message, type, source_component, source_host, first_time, last_time, count, "
      "received, cluster FROM kube_events INDEXED BY ";
  sql += lookup.index;
  sql += " WHERE ";
  if (*lookup.condition != '\0') {
    sql += std::string(lookup.condition) + " AND ";
  }
  sql += "span_class = ?2 AND last_time >= ?3 AND last_time <= ?4 AND first_time <= ?5";
  for (std::size_t i = 0; i < residuals.size(); ++i) {
    std::string condition = residuals[i].condition;
    condition.replace(condition.find("{}"), 2, "?" + std::to_string(6 + i));
    sql += " AND " + condition;
  }
  if (f.received_only) {
    sql += " AND received = 1";
  }
  if (!clusters.empty()) {
    sql += " AND " + storage::cluster_condition(clusters, "");
  }
  if (f.limit > 0) {
    sql += " ORDER BY last_time DESC, uid DESC LIMIT " + std::to_string(f.limit);
  }
  return sql;
}

struct Found {
  std::int64_t id;
  KubeEvent event;
};

KubeEvent read_event(const sqlite::Stmt& stmt) {
  KubeEvent e;
  e.uid = stmt.column_text(1);
  e.namespace_ = stmt.column_text(2);
  e.name = stmt.column_text(3);
  e.object.kind = stmt.column_text(4);
  e.object.namespace_ = stmt.column_text(5);
  e.object.name = stmt.column_text(6);
  e.object.uid = stmt.column_text(7);
  e.reason = stmt.column_text(8);
  e.message = stmt.column_text(9);
  e.type = stmt.column_text(10);
  e.source_component = stmt.column_text(11);
  e.source_host = stmt.column_text(12);
  e.first_time = stmt.column_int(13);
  e.last_time = stmt.column_int(14);
  e.count = stmt.column_int(15);
  e.carried = stmt.column_int(16) == 0;
  return e;
}

}  // namespace

Result<std::vector<KubeEvent>> Store::find_kube_events(const KubeEventFilter& f) {
  Impl& s = *impl_;
  constexpr Micros kMin = std::numeric_limits<Micros>::min();
  constexpr Micros kMax = std::numeric_limits<Micros>::max();
  const Micros since = f.since.value_or(kMin);
  const Micros until = f.until.value_or(kMax);
  const std::vector<Lookup> lookups = lookups_for(f);
  const std::vector<Residual> residuals = residuals_for(f);
  auto names = storage::cluster_names(s.db);
  if (!names) {
    return names.status();
  }
  std::vector<std::int64_t> clusters;
  if (!f.clusters.empty()) {
    auto ids = storage::cluster_ids(s.db, f.clusters);
    if (!ids) {
      return ids.status();
    }
    if (ids->empty()) {
      return std::vector<KubeEvent>{};
    }
    clusters = std::move(*ids);
  }
  std::vector<Found> found;
  for (const Lookup& lookup : lookups) {
    auto stmt = sqlite::Stmt::prepare(s.db, lookup_sql(lookup, f, residuals, clusters));
    if (!stmt) {
      return stmt.status();
    }
    for (int c = 0; c < storage::kSpanClasses; ++c) {
      if (*lookup.condition != '\0') {
        stmt->bind(1, std::string_view(lookup.value));
      }
      stmt->bind(2, std::int64_t{c});
      stmt->bind(3, since);
      stmt->bind(4, storage::span_class_last_bound(c, until));
      stmt->bind(5, until);
      for (std::size_t i = 0; i < residuals.size(); ++i) {
        stmt->bind(static_cast<int>(6 + i), std::string_view(residuals[i].value));
      }
      int rc;
      while ((rc = stmt->step()) == SQLITE_ROW) {
        found.push_back({stmt->column_int(0), read_event(*stmt)});
        found.back().event.cluster = storage::cluster_name_of(*names, stmt->column_int(17));
      }
      stmt->reset();
      if (rc != SQLITE_DONE) {
        return s.db.error("event search");
      }
    }
  }
  if (lookups.size() > 1) {
    std::unordered_set<std::int64_t> seen;
    std::erase_if(found, [&](const Found& x) { return !seen.insert(x.id).second; });
  }
  // Oldest first: ascending (last_time, uid, cluster), keeping the `limit` most recent.
  std::sort(found.begin(), found.end(), [](const Found& a, const Found& b) {
    return std::tie(a.event.last_time, a.event.uid, a.event.cluster) <
           std::tie(b.event.last_time, b.event.uid, b.event.cluster);
  });
  const std::size_t skip =
      f.limit > 0 && found.size() > f.limit ? found.size() - f.limit : std::size_t{0};
  std::vector<KubeEvent> out;
  out.reserve(found.size() - skip);
  for (std::size_t i = skip; i < found.size(); ++i) {
    out.push_back(std::move(found[i].event));
  }
  return out;
}

}  // namespace ktrail
