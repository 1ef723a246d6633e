#include "processors/correlate/processor.h"

#include "core/metrics.h"

namespace ktrail::correlate {

void CorrelateProcessor::count(BatchOutcome& outcome) {
  static Metric& late = MetricsRegistry::global().get(
      "ktrail_correlation_items_total", MetricType::kCounter,
      "Items correlation read out of time order (late) or set aside for an implausible time "
      "(quarantined); they are stored all the same",
      "outcome=\"late\"");
  static Metric& quarantined = MetricsRegistry::global().get(
      "ktrail_correlation_items_total", MetricType::kCounter,
      "Items correlation read out of time order (late) or set aside for an implausible time "
      "(quarantined); they are stored all the same",
      "outcome=\"quarantined\"");
  static Metric& jumps = MetricsRegistry::global().get(
      "ktrail_correlation_clock_jumps_total", MetricType::kCounter,
      "Times the stream's event time moved further than maxTimeJump and correlation started over");
  CorrelatorStats now;
  for (const auto& [cluster, correlator] : correlators_) {
    now.late_items += correlator.stats().late_items;
    now.quarantined += correlator.stats().quarantined;
    now.clock_jumps += correlator.stats().clock_jumps;
  }
  const auto late_new = now.late_items - counted_.late_items;
  const auto quarantined_new = now.quarantined - counted_.quarantined;
  outcome.late += late_new;
  outcome.quarantined += quarantined_new;
  late.add(static_cast<std::int64_t>(late_new));
  quarantined.add(static_cast<std::int64_t>(quarantined_new));
  jumps.add(static_cast<std::int64_t>(now.clock_jumps - counted_.clock_jumps));
  counted_ = now;
}

Correlator& CorrelateProcessor::correlator(const std::string& cluster) {
  auto it = correlators_.find(cluster);
  if (it == correlators_.end()) {
    it = correlators_.try_emplace(cluster, rules_, cluster).first;
  }
  return it->second;
}

void CorrelateProcessor::take_from(Correlator& correlator, Batch& batch) {
  auto updates = correlator.take_updates();
  batch.incidents.insert(batch.incidents.end(), std::make_move_iterator(updates.begin()),
                         std::make_move_iterator(updates.end()));
}

void CorrelateProcessor::flush_all(Batch& batch) {
  for (auto& [cluster, correlator] : correlators_) {
    correlator.flush();
    take_from(correlator, batch);
  }
}

void CorrelateProcessor::process(Batch& batch, BatchOutcome& outcome) {
  Correlator& correlator = this->correlator(batch.cluster);
  for (const auto& event : batch.audit) {
    correlator.add(event);
  }
  for (const auto& event : batch.events) {
    if (!event.carried) {  // read from the audit event that carries it
      correlator.add(event);
    }
  }
  if (batch.end_of_input) {
    flush_all(batch);
  } else {
    take_from(correlator, batch);
  }
  count(outcome);
}

void CorrelateProcessor::finish(Batch& batch) {
  flush_all(batch);
  BatchOutcome ignored;
  count(ignored);
}

// Every cluster's correlator moves on: event time is the wall clock's, near enough, in all of
// them.
void CorrelateProcessor::advance_to(Micros time, Batch& batch) {
  bool moved = false;
  for (auto& [cluster, correlator] : correlators_) {
    if (correlator.advance_to(time)) {
      take_from(correlator, batch);
      moved = true;
    }
  }
  if (moved) {
    BatchOutcome ignored;
    count(ignored);
  }
}

CorrelateProcessor* correlation_stage(std::vector<std::unique_ptr<Processor>>& chain) {
  for (auto& stage : chain) {
    if (auto* c = dynamic_cast<CorrelateProcessor*>(stage.get())) {
      return c;
    }
  }
  return nullptr;
}

}  // namespace ktrail::correlate
