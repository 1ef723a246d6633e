// The correlation stage of the pipeline: feeds every audit event and Kubernetes Event of a
// batch to the correlator of the batch's cluster (processors/correlate/correlator.h: one per
// cluster, made on first use, so a node of one cluster never correlates with a namesake of
// another, and each cluster's event time moves on its own) and attaches the incidents the
// batch opened, changed or closed to `batch.incidents`, so the store writes them in the same
// transaction as the events that justify them. It drops nothing. Items read out of time order
// and items set aside for an implausible time are counted in the outcome and on /metrics
// (ktrail_correlation_items_total{outcome="late"|"quarantined"}).
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "processors/correlate/correlator.h"
#include "processors/processor.h"

namespace ktrail::correlate {

class CorrelateProcessor final : public Processor {
 public:
  explicit CorrelateProcessor(Rules rules = {}) : rules_(std::move(rules)) {}

  void process(Batch& batch, BatchOutcome& outcome) override;

  // End of the input (the last file of `ktrail ingest`): releases the signals still held in
  // the reorder window into `batch.incidents`.
  void finish(Batch& batch);
  // Event time moved on elsewhere (Correlator::advance_to): what that releases or closes goes
  // into `batch.incidents`.
  void advance_to(Micros time, Batch& batch);

  // The correlator of `cluster`, made on first use.
  Correlator& correlator(const std::string& cluster = "default");
  // Every correlator made so far, by cluster.
  const std::map<std::string, Correlator>& correlators() const { return correlators_; }

 private:
  void count(BatchOutcome& outcome);
  // Moves what every correlator holds (end of input) into `batch.incidents`.
  void flush_all(Batch& batch);
  void take_from(Correlator& correlator, Batch& batch);

  Rules rules_;
  std::map<std::string, Correlator> correlators_;
  CorrelatorStats counted_;  // what earlier outcomes reported, summed over the clusters
};

// The correlation stage of a processor chain, or null when it has none.
CorrelateProcessor* correlation_stage(std::vector<std::unique_ptr<Processor>>& chain);

}  // namespace ktrail::correlate
