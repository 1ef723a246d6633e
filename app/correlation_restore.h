// Rebuilding the correlator's state from the store when ktrail starts (embedded mode), or when
// a Kafka partition is assigned to this member (app/partition_restore.h), so correlation
// continues the incidents already open instead of forgetting them.
//
// Open incidents are re-seeded (with their members, combined across the stores read, as
// app/incident_merge.h says), then the audit events (nodes, pods, events writes) and Kubernetes
// Events of the last `horizon` of event time before the newest stored one are replayed (Events
// known only from audit events that carried them are replayed through those, not twice), which
// restores what the correlator knows about pods and the signals still inside its windows.
// Incident IDs are deterministic, so what the replay re-derives upserts in place; updates that
// would reopen an incident the stores have closed are dropped.
//
// Bounded: at most kRestoreItemsPerSource of the most recent items of each source (a resource
// and verb, or the Events) are read, across all the stores read, whatever their size.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "core/status.h"
#include "processors/carried_events.h"
#include "processors/correlate/correlator.h"
#include "processors/correlate/processor.h"
#include "storage/store.h"

namespace ktrail::app {

inline constexpr std::size_t kRestoreItemsPerSource = 1000;

struct RestoreStats {
  std::size_t open_incidents = 0;
  std::size_t replayed = 0;
  std::vector<Incident> updates;  // to write (an empty Batch with these incidents)
};

// One stored item that can carry a signal, as the correlator takes it.
struct RestoreItem {
  Micros time = 0;
  std::string ref;  // audit ID or Event uid: the tie-break of equal times
  std::optional<AuditEvent> audit;
  std::optional<KubeEvent> event;
  std::string cluster = "default";  // core/cluster.h: replayed into that cluster's correlator
};

// What the stores hold that correlation needs back, read once and replayable into several
// correlators (one per partition).
struct RestoreInput {
  std::vector<Incident> open;      // open incidents with their members
  std::vector<RestoreItem> items;  // oldest first
};

// Which part of the input a correlator takes; an empty function keeps everything.
struct RestoreScope {
  std::function<bool(const AuditEvent&)> audit;
  std::function<bool(const KubeEvent&)> event;
  std::function<bool(const Incident&)> incident;
};

// Reads from `stores` (this process's store first, then any others to read, e.g. the peer
// shards of Kafka mode). Items stored in two of them are read once.
Result<RestoreInput> read_restore_input(const std::vector<Store*>& stores, Micros horizon);

// Replays what `scope` keeps of `input` of the correlator's cluster into `correlator` (fresh).
// `stores` are asked whether an incident the replay leaves open has been closed.
Result<RestoreStats> replay_restore_input(const RestoreInput& input, const RestoreScope& scope,
                                          const std::vector<Store*>& stores,
                                          correlate::Correlator& correlator);
// The same for every cluster of `input`, each into its own correlator of `correlation`.
Result<RestoreStats> replay_restore_input(const RestoreInput& input, const RestoreScope& scope,
                                          const std::vector<Store*>& stores,
                                          correlate::CorrelateProcessor& correlation);

// Replays the audit events `scope` keeps of `input` into the stage that stores carried Events
// (processors/carried_events.h), so that a body-less patch of an Event it had seen before the
// restart is still stored as that Event. Returns how many were read.
std::size_t replay_carried_events(const RestoreInput& input, const RestoreScope& scope,
                                  CarriedEventsProcessor& stage);

// Embedded mode: read and replay everything of one store (into every cluster's correlator; or
// only what is of `correlator`'s cluster).
Result<RestoreStats> restore_correlation(Store& store, correlate::CorrelateProcessor& correlation,
                                         Micros horizon);
Result<RestoreStats> restore_correlation(Store& store, correlate::Correlator& correlator,
                                         Micros horizon);

// The horizon the rules need: the longest window plus the reorder window.
Micros restore_horizon(const correlate::Rules& rules);

}  // namespace ktrail::app
