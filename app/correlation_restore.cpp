#include "app/correlation_restore.h"

#include <algorithm>
#include <iterator>
#include <set>
#include <tuple>

#include "app/shards.h"
#include "core/audit_json.h"

namespace ktrail::app {

Micros restore_horizon(const correlate::Rules& r) {
  return r.reorder_window +
         std::max({r.restart_storm.window, r.restart_storm.quiet, r.image_pull_failure.window,
                   r.image_pull_failure.quiet, r.scheduling_failure.window,
                   r.scheduling_failure.quiet, r.node_not_ready.replacement_window});
}

Result<RestoreInput> read_restore_input(const std::vector<Store*>& stores, Micros horizon) {
  RestoreInput input;
  ShardSet shards = ShardSet::of(stores);
  IncidentFilter open;
  open.open_only = true;
  open.with_members = true;  // the correlator then knows which members it has written
  auto incidents = shards.find_incidents(open);
  if (!incidents) {
    return incidents.status();
  }
  input.open = std::move(*incidents);
  // The newest stored time: the end of what was correlated before. A few stored items may have
  // an implausible time (correlation quarantined them): those far ahead of the rest are skipped.
  std::vector<Micros> newest;
  AuditFilter newest_audit;
  newest_audit.limit = correlate::kClockJumpItems;
  auto last_audit = shards.find_audit(newest_audit);
  if (!last_audit) {
    return last_audit.status();
  }
  for (const auto& row : *last_audit) {
    newest.push_back(row.time);
  }
  // Events known only from the audit events that carried them are read from those, as the
  // correlator read them: once, at the audit event's time, not again at the Event's own.
  KubeEventFilter newest_event;
  newest_event.received_only = true;
  newest_event.limit = correlate::kClockJumpItems;
  auto last_event = shards.find_kube_events(newest_event);
  if (!last_event) {
    return last_event.status();
  }
  for (const auto& e : *last_event) {
    newest.push_back(e.last_time);
  }
  if (newest.empty()) {
    return input;
  }
  std::sort(newest.rbegin(), newest.rend());
  // Newest first: a few items far ahead of all the others are strays, not the stream's time.
  std::size_t first = 0;
  while (first + 1 < newest.size() &&
         newest[first] - newest[first + 1] > correlate::Rules{}.max_time_jump) {
    ++first;
  }
  const Micros latest = newest[first];
  const Micros since = latest - horizon;
  // Only writes can carry signals (SignalExtractor::may_signal): reading just those keeps the
  // restore small on a busy store, where reads of pods and nodes are most of the traffic. The
  // most recent kRestoreItemsPerSource of each kind are replayed (the limit applies to the
  // merge of all stores), which bounds the time and memory of a restore.
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
    auto rows = shards.find_audit(f);
    if (!rows) {
      return rows.status();
    }
    for (const auto& row : *rows) {
      auto decoded = decode_audit_document(row.event);
      if (!decoded) {
        continue;
      }
      for (auto& a : decoded->events) {
        input.items.push_back(
            {a.request_received, a.audit_id, std::move(a), std::nullopt, row.cluster});
      }
    }
  }
  KubeEventFilter ef;
  ef.received_only = true;
  ef.since = since;
  ef.limit = kRestoreItemsPerSource;
  auto events = shards.find_kube_events(ef);
  if (!events) {
    return events.status();
  }
  for (auto& e : *events) {
    std::string cluster = e.cluster;
    input.items.push_back({e.last_time, e.uid, std::nullopt, std::move(e), std::move(cluster)});
  }
  std::sort(input.items.begin(), input.items.end(), [](const RestoreItem& a, const RestoreItem& b) {
    return std::tie(a.time, a.ref) < std::tie(b.time, b.ref);
  });
  return input;
}

Result<RestoreStats> replay_restore_input(const RestoreInput& input, const RestoreScope& scope,
                                          const std::vector<Store*>& stores,
                                          correlate::Correlator& correlator) {
  RestoreStats stats;
  for (const Incident& i : input.open) {
    if (i.cluster != correlator.cluster()) {
      continue;
    }
    if (!scope.incident || scope.incident(i)) {
      correlator.restore(i);
      ++stats.open_incidents;
    }
  }
  for (const RestoreItem& item : input.items) {
    if (item.cluster != correlator.cluster()) {
      continue;
    }
    if (item.audit) {
      if (scope.audit && !scope.audit(*item.audit)) {
        continue;
      }
      correlator.add(*item.audit);
    } else {
      if (scope.event && !scope.event(*item.event)) {
        continue;
      }
      correlator.add(*item.event);
    }
    ++stats.replayed;
  }
  ShardSet shards = ShardSet::of(stores);
  for (auto& update : correlator.take_updates()) {
    if (update.open()) {
      auto stored = shards.get_incident(update.id);
      if (stored && !stored->open()) {
        continue;  // the stores know it ended; the replay saw only part of it
      }
      if (!stored && stored.status().code() != ErrorCode::kNotFound) {
        return stored.status();
      }
    }
    stats.updates.push_back(std::move(update));
  }
  return stats;
}

std::size_t replay_carried_events(const RestoreInput& input, const RestoreScope& scope,
                                  CarriedEventsProcessor& stage) {
  std::size_t read = 0;
  for (const RestoreItem& item : input.items) {
    if (item.audit && CarriedEvents::may_carry(*item.audit) &&
        (!scope.audit || scope.audit(*item.audit))) {
      stage.remember(*item.audit, item.cluster);
      ++read;
    }
  }
  return read;
}

Result<RestoreStats> replay_restore_input(const RestoreInput& input, const RestoreScope& scope,
                                          const std::vector<Store*>& stores,
                                          correlate::CorrelateProcessor& correlation) {
  std::set<std::string> clusters;
  for (const Incident& i : input.open) {
    clusters.insert(i.cluster);
  }
  for (const RestoreItem& item : input.items) {
    clusters.insert(item.cluster);
  }
  RestoreStats all;
  for (const std::string& cluster : clusters) {
    auto stats = replay_restore_input(input, scope, stores, correlation.correlator(cluster));
    if (!stats) {
      return stats.status();
    }
    all.open_incidents += stats->open_incidents;
    all.replayed += stats->replayed;
    std::move(stats->updates.begin(), stats->updates.end(), std::back_inserter(all.updates));
  }
  return all;
}

Result<RestoreStats> restore_correlation(Store& store, correlate::CorrelateProcessor& correlation,
                                         Micros horizon) {
  const std::vector<Store*> stores = {&store};
  auto input = read_restore_input(stores, horizon);
  if (!input) {
    return input.status();
  }
  return replay_restore_input(*input, RestoreScope{}, stores, correlation);
}

Result<RestoreStats> restore_correlation(Store& store, correlate::Correlator& correlator,
                                         Micros horizon) {
  const std::vector<Store*> stores = {&store};
  auto input = read_restore_input(stores, horizon);
  if (!input) {
    return input.status();
  }
  return replay_restore_input(*input, RestoreScope{}, stores, correlator);
}

}  // namespace ktrail::app
