// The correlation stage of the pipeline: feeds every audit event and Kubernetes Event of a
// batch to the correlator (processors/correlate/correlator.h) and attaches the incidents the
// batch opened, changed or closed to `batch.incidents`, so the store writes them in the same
// transaction as the events that justify them. It drops nothing. Items read out of time order
// and items set aside for an implausible time are counted in the outcome and on /metrics
// (ktrail_correlation_items_total{outcome="late"|"quarantined"}).
#pragma once

#include <memory>
#include <vector>

#include "processors/correlate/correlator.h"
#include "processors/processor.h"

namespace ktrail::correlate {

class CorrelateProcessor final : public Processor {
 public:
  explicit CorrelateProcessor(Rules rules = {}) : correlator_(std::move(rules)) {}

  void process(Batch& batch, BatchOutcome& outcome) override;

  // End of the input (the last file of `ktrail ingest`): releases the signals still held in
  // the reorder window into `batch.incidents`.
  void finish(Batch& batch);
  // Event time moved on elsewhere (Correlator::advance_to): what that releases or closes goes
  // into `batch.incidents`.
  void advance_to(Micros time, Batch& batch);

  Correlator& correlator() { return correlator_; }

 private:
  void count(BatchOutcome& outcome);
  // Moves the correlator's updates into `batch.incidents`; late and quarantined items counted
  // meanwhile go to /metrics only.
  void take(Batch& batch);

  Correlator correlator_;
  CorrelatorStats counted_;  // what earlier outcomes reported
};

// The correlation stage of a processor chain, or null when it has none.
CorrelateProcessor* correlation_stage(std::vector<std::unique_ptr<Processor>>& chain);

}  // namespace ktrail::correlate
