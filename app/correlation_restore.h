// Rebuilding the correlator's state from the store when ktrail starts, so a restart continues
// the incidents it had open instead of forgetting them.
//
// Open incidents are re-seeded, then the audit events (nodes, pods, events) and Kubernetes
// Events of the last `horizon` of event time before the newest stored one are replayed, which
// restores what the correlator knows about pods and the signals still inside its windows.
// Incident IDs are deterministic, so what the replay re-derives upserts in place; updates that
// would reopen an incident the store has closed are dropped.
#pragma once

#include "core/status.h"
#include "processors/correlate/correlator.h"
#include "storage/store.h"

namespace ktrail::app {

struct RestoreStats {
  std::size_t open_incidents = 0;
  std::size_t replayed = 0;
  std::vector<Incident> updates;  // to write (an empty Batch with these incidents)
};

// Replays into `correlator` (fresh).
Result<RestoreStats> restore_correlation(Store& store, correlate::Correlator& correlator,
                                         Micros horizon);

// The horizon the rules need: the longest window plus the reorder window.
Micros restore_horizon(const correlate::Rules& rules);

}  // namespace ktrail::app
