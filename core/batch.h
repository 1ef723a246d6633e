// A batch: what one webhook request, one Kafka poll or one slice of a replayed file
// carries through the pipeline. It is the unit of durability: the store writes a batch in one
// transaction, and the request that brought it is acknowledged only after that commit.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <vector>

#include "core/audit_event.h"
#include "core/audit_json.h"
#include "core/cluster.h"
#include "core/finding.h"
#include "core/incident.h"
#include "core/kube_event.h"
#include "core/status.h"

namespace ktrail {

struct Batch {
  std::vector<AuditEvent> audit;
  std::vector<KubeEvent> events;
  std::vector<RejectedItem> rejected;  // kept aside in the dead-letter table, never dropped
  std::string origin;                  // "webhook 127.0.0.1:51234", "file audit.log", ...
  // The cluster every item of the batch came from (core/cluster.h): named by the source's
  // credential, its request path or `ktrail ingest --cluster`.
  std::string cluster = std::string(kDefaultCluster);
  // Incidents opened, changed or closed by this batch (correlation). Each carries its whole
  // header and only the members new or updated since the last time it was written.
  std::vector<Incident> incidents = {};
  // Set on the empty batch that closes a replay: stages release what they hold back.
  bool end_of_input = false;
  // Detection findings on this batch's audit events (detect/), stored with the batch; a finding
  // already stored (same rule, auditID and stage) is kept once.
  std::vector<Finding> findings = {};
  // What the stages removed or reduced before the store (dropped by policy, truncated), one
  // entry per event with its stageTimestamp and a static description, so that the store records
  // them per day in the batch's transaction (coverage evidence, storage/rollups.h).
  struct Tally {
    Micros time;
    const char* what;
  };
  std::vector<Tally> tallies = {};
};

// What became of a batch. Every received item is counted in exactly one bucket.
struct BatchOutcome {
  std::size_t stored = 0;             // new rows written
  std::size_t duplicates = 0;         // already in the store (retries, replays)
  std::size_t rejected = 0;           // dead-lettered, with a reason
  std::size_t dropped_by_policy = 0;  // level None or an omitted stage
  std::size_t truncated = 0;          // objects removed to fit --max-event-bytes (still stored)
  // Correlation (stored all the same): items read out of time order, past the reorder window,
  // and items whose time was implausibly far from the stream's (not correlated).
  std::size_t late = 0;
  std::size_t quarantined = 0;

  BatchOutcome& operator+=(const BatchOutcome& other) {
    stored += other.stored;
    duplicates += other.duplicates;
    rejected += other.rejected;
    dropped_by_policy += other.dropped_by_policy;
    truncated += other.truncated;
    late += other.late;
    quarantined += other.quarantined;
    return *this;
  }
};

// Called exactly once per accepted batch, from a pipeline thread, once the batch is durable
// (Status ok) or has failed for good.
using BatchDone = std::function<void(const Status&, const BatchOutcome&)>;

}  // namespace ktrail
