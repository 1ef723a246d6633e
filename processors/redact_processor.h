// Secret redaction: a compliance store must never hold secret values, so the values of
// Secret objects in requestObject / responseObject are replaced by a marker that keeps what
// an investigator needs (which keys, how large) and nothing else:
//
//   "data": {"password": "<redacted: 12 bytes>"}
//
// The length is that of the value as it was in the event: for `data` the base64 text, for
// `stringData` the UTF-8 text. A non-string value becomes "<redacted>".
//
// What counts as a Secret object:
//  * an object whose `kind` is "Secret";
//  * an object without `kind` in an event whose objectRef is core `secrets` (merge and
//    strategic patches carry no kind);
//  * the items of a SecretList, and Secret items of any other list or of Table rows;
//  * in a `secrets` event, JSON-patch operations whose path is under /data or /stringData.
// The annotation kubectl.kubernetes.io/last-applied-configuration of a Secret holds the whole
// object including its values; it is redacted the same way.
//
// Events with no object, or none that can hold a Secret, are not parsed. An event whose JSON
// cannot be read is never stored unredacted: it moves to batch.rejected with only its auditID.
#pragma once

#include "core/metrics.h"
#include "processors/processor.h"

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
  Metric* rejected_;
};

// Redacts the Secret values of one event; returns whether anything was replaced.
Result<bool> redact_secrets(AuditEvent* event);

// The marker for a value of `bytes` bytes.
std::string redaction_marker(std::size_t bytes);

}  // namespace ktrail
