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

#include <atomic>
#include <memory>

#include "core/metrics.h"
#include "processors/policy/checker.h"
#include "processors/processor.h"

namespace ktrail {

// The policy in force, shared by every PolicyProcessor of a process (one per Kafka partition,
// for instance). replace() swaps it atomically: a batch is decided by the policy that was in
// force when its processing started, never by a mix of two (SIGHUP reloads the --policy file).
class PolicySource {
 public:
  explicit PolicySource(std::shared_ptr<const policy::CompiledPolicy> policy)
      : policy_(std::move(policy)) {}
  std::shared_ptr<const policy::CompiledPolicy> current() const { return policy_.load(); }
  void replace(std::shared_ptr<const policy::CompiledPolicy> policy) {
    policy_.store(std::move(policy));
  }

 private:
  std::atomic<std::shared_ptr<const policy::CompiledPolicy>> policy_;
};

struct PolicyProcessorOptions {
  std::shared_ptr<const policy::CompiledPolicy> policy;  // required unless `source` is given
  MetricsRegistry* metrics = &MetricsRegistry::global();
  std::shared_ptr<const PolicySource> source;  // the policy in force, if it can be replaced
};

class PolicyProcessor : public Processor {
 public:
  explicit PolicyProcessor(PolicyProcessorOptions options);
  void process(Batch& batch, BatchOutcome& outcome) override;

 private:
  enum class Verdict { kKeep, kDrop, kReject };
  Verdict apply(const policy::CompiledPolicy& policy, AuditEvent* event, std::string* why);

  std::shared_ptr<const PolicySource> source_;
  Metric* dropped_level_none_;
  Metric* dropped_omitted_stage_;
  Metric* rewritten_;
  Metric* rejected_;
};

// Rewrites `event` to `level` (never above its current level) and, if asked, without
// managedFields. Parses the JSON only when something changes. Exposed for tests and benches.
Status apply_level(AuditEvent* event, Level level, bool omit_managed_fields);

}  // namespace ktrail
