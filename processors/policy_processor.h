// Applies an audit policy to received events, as kube-apiserver would have applied it
// (k8s-audit-spec.md §1.4, §2.1):
//  * level None, or an event of an omitted stage: the event is dropped and counted in
//    BatchOutcome::dropped_by_policy and ktrail_policy_dropped_total{reason=...}
//    (reason "level_none" or "omitted_stage");
//  * otherwise the level applied is min(policy level, level received): a policy never adds
//    what the sender did not record. Metadata drops requestObject and responseObject,
//    Request drops responseObject; the event's "level" field says the level applied, and
//    AuditEvent::level_received keeps the level it arrived with;
//  * omitManagedFields removes metadata.managedFields from the request and response objects
//    (single objects, list items, Table rows).
// An event that cannot be rewritten (its JSON does not parse: a bug upstream) moves to
// batch.rejected with the reason, for the store to dead-letter and count.
// An event the policy leaves as it is (the common Metadata case) is not parsed or
// re-serialised.
#pragma once

#include <memory>

#include "core/metrics.h"
#include "processors/policy/checker.h"
#include "processors/processor.h"

namespace ktrail {

struct PolicyProcessorOptions {
  std::shared_ptr<const policy::CompiledPolicy> policy;  // required
  MetricsRegistry* metrics = &MetricsRegistry::global();
};

class PolicyProcessor : public Processor {
 public:
  explicit PolicyProcessor(PolicyProcessorOptions options);
  void process(Batch& batch, BatchOutcome& outcome) override;

 private:
  enum class Verdict { kKeep, kDrop, kReject };
  Verdict apply(AuditEvent* event, std::string* why);

  std::shared_ptr<const policy::CompiledPolicy> policy_;
  Metric* dropped_level_none_;
  Metric* dropped_omitted_stage_;
  Metric* rewritten_;
  Metric* rejected_;
};

// Rewrites `event` to `level` (never above its current level) and, if asked, without
// managedFields. Parses the JSON only when something changes. Exposed for tests and benches.
Status apply_level(AuditEvent* event, Level level, bool omit_managed_fields);

}  // namespace ktrail
