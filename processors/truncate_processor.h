// Size limit per event, as kube-apiserver's truncate backend applies it
// (k8s-audit-spec.md §3.6), with one difference: nothing is lost silently.
//
// An event's size is its length serialised alone as JSON, with kind/apiVersion and a
// trailing newline. An event larger than max_event_bytes:
//  * at level Request or above, with objects: requestObject and responseObject are removed,
//    the annotation audit.k8s.io/truncated: "true" is added, and it is counted in
//    BatchOutcome::truncated (it is still stored);
//  * if still too large (or a Metadata event that is too large): it moves to batch.rejected
//    (the dead-letter table) with the reason; the store counts it in BatchOutcome::rejected
//    when it writes it, and this stage in ktrail_processor_rejected_total{stage="truncate"}.
#pragma once

#include <cstddef>

#include "core/metrics.h"
#include "processors/processor.h"

namespace ktrail {

struct TruncateProcessorOptions {
  std::size_t max_event_bytes = 102400;  // kube-apiserver's default; must be > 0
  MetricsRegistry* metrics = &MetricsRegistry::global();
};

class TruncateProcessor : public Processor {
 public:
  explicit TruncateProcessor(TruncateProcessorOptions options);
  void process(Batch& batch, BatchOutcome& outcome) override;

 private:
  std::size_t max_;
  Metric* truncated_;
  Metric* rejected_;
};

// The size kube-apiserver measures for `event` (see above).
std::size_t serialized_event_size(const AuditEvent& event);

}  // namespace ktrail
