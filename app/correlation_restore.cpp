#include "app/correlation_restore.h"

#include <algorithm>
#include <set>

#include "core/audit_json.h"

namespace ktrail::app {
namespace {

// At most this many recent items of each source (e.g. pod patches, Kubernetes Events) are
// replayed at start, which keeps start-up within seconds and tens of MB.
constexpr std::size_t kRestoreItemsPerSource = 1000;

}  // namespace

Micros restore_horizon(const correlate::Rules& r) {
  return r.reorder_window +
         std::max({r.restart_storm.window, r.restart_storm.quiet, r.image_pull_failure.window,
                   r.image_pull_failure.quiet, r.scheduling_failure.window,
                   r.scheduling_failure.quiet, r.node_not_ready.replacement_window});
}

Result<RestoreStats> restore_correlation(Store& store, correlate::Correlator& correlator,
                                         Micros horizon) {
  RestoreStats stats;
  IncidentFilter open;
  open.open_only = true;
  auto incidents = store.find_incidents(open);
  if (!incidents) {
    return incidents.status();
  }
  for (auto& i : *incidents) {
    correlator.restore(std::move(i));
    ++stats.open_incidents;
  }
  // The newest stored time: the end of what was correlated before.
  Micros latest = 0;
  AuditFilter newest;
  newest.limit = 1;
  auto last_audit = store.find_audit(newest);
  if (!last_audit) {
    return last_audit.status();
  }
  if (!last_audit->empty()) {
    latest = last_audit->back().time;
  }
  KubeEventFilter newest_event;
  newest_event.limit = 1;
  auto last_event = store.find_kube_events(newest_event);
  if (!last_event) {
    return last_event.status();
  }
  if (!last_event->empty()) {
    latest = std::max(latest, last_event->back().last_time);
  }
  if (latest == 0) {
    return stats;
  }
  const Micros since = latest - horizon;
  struct Item {
    Micros time;
    std::string ref;
    std::optional<AuditEvent> audit;
    std::optional<KubeEvent> event;
  };
  std::vector<Item> items;
  // Only writes can carry signals (SignalExtractor::may_signal): reading just those keeps the
  // restore small on a busy store, where reads of pods and nodes are most of the traffic. The
  // most recent kRestoreItemsPerSource of each kind are replayed, which bounds start-up time and
  // memory on a busy store; open incidents themselves always come back from the store above.
  struct Source {
    const char* resource;
    const char* verb;
  };
  static constexpr Source kSources[] = {
      {"nodes", "create"},  {"nodes", "update"}, {"nodes", "patch"}, {"pods", "create"},
      {"pods", "update"},   {"pods", "patch"},   {"pods", "delete"}, {"events", "create"},
      {"events", "update"}, {"events", "patch"}};
  for (const Source& source : kSources) {
    AuditFilter f;
    f.resource = source.resource;
    f.verb = source.verb;
    f.since = since;
    f.limit = kRestoreItemsPerSource;
    f.with_event = true;
    auto rows = store.find_audit(f);
    if (!rows) {
      return rows.status();
    }
    for (const auto& row : *rows) {
      auto decoded = decode_audit_document(row.event);
      if (!decoded) {
        continue;
      }
      for (auto& a : decoded->events) {
        items.push_back({a.request_received, a.audit_id, std::move(a), std::nullopt});
      }
    }
  }
  KubeEventFilter ef;
  ef.since = since;
  ef.limit = kRestoreItemsPerSource;
  auto events = store.find_kube_events(ef);
  if (!events) {
    return events.status();
  }
  for (auto& e : *events) {
    items.push_back({e.last_time, e.uid, std::nullopt, std::move(e)});
  }
  std::sort(items.begin(), items.end(), [](const Item& a, const Item& b) {
    return std::tie(a.time, a.ref) < std::tie(b.time, b.ref);
  });
  for (const auto& item : items) {
    if (item.audit) {
      correlator.add(*item.audit);
    } else {
      correlator.add(*item.event);
    }
  }
  stats.replayed = items.size();
  for (auto& update : correlator.take_updates()) {
    if (update.open()) {
      auto stored = store.get_incident(update.id);
      if (stored && !stored->open()) {
        continue;  // the store knows it ended; the replay saw only part of it
      }
    }
    stats.updates.push_back(std::move(update));
  }
  return stats;
}

}  // namespace ktrail::app
