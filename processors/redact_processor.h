// The redaction stage: a compliance store must never hold secret values. Every audit event of
// a batch, and every item the batch dead-letters (decoder rejects, policy and truncation
// rejects, which may be whole Secret events), goes through the one walk of
// processors/secret_redaction.h before it is stored.
//
// Events that cannot hold a Secret (may_hold_secret) are not parsed. An event whose JSON
// cannot be read is never stored unredacted: it moves to batch.rejected with only its
// auditID. A dead letter that is not JSON keeps only its size and SHA-256.
//
// The stage must run after every stage that adds to batch.rejected (policy, and truncation,
// which only sees events already redacted), so that nothing reaches the store unredacted.
#pragma once

#include "core/metrics.h"
#include "processors/processor.h"
#include "processors/secret_redaction.h"

namespace ktrail {

struct RedactProcessorOptions {
  MetricsRegistry* metrics = &MetricsRegistry::global();
};

class RedactProcessor : public Processor {
 public:
  explicit RedactProcessor(RedactProcessorOptions options = {});
  void process(Batch& batch, BatchOutcome& outcome) override;

 private:
  Metric* redacted_;
  Metric* redacted_dead_letters_;
  Metric* rejected_;
};

// Redacts the Secret values of one event; returns whether anything was replaced.
Result<bool> redact_secrets(AuditEvent* event);

}  // namespace ktrail
