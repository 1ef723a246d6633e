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
  const CorrelatorStats& now = correlator_.stats();
  const auto late_new = now.late_items - counted_.late_items;
  const auto quarantined_new = now.quarantined - counted_.quarantined;
  outcome.late += late_new;
  outcome.quarantined += quarantined_new;
  late.add(static_cast<std::int64_t>(late_new));
  quarantined.add(static_cast<std::int64_t>(quarantined_new));
  jumps.add(static_cast<std::int64_t>(now.clock_jumps - counted_.clock_jumps));
  counted_ = now;
}

void CorrelateProcessor::process(Batch& batch, BatchOutcome& outcome) {
  for (const auto& event : batch.audit) {
    correlator_.add(event);
  }
  for (const auto& event : batch.events) {
    if (!event.carried) {  // read from the audit event that carries it
      correlator_.add(event);
    }
  }
  if (batch.end_of_input) {
    correlator_.flush();
  }
  count(outcome);
  auto updates = correlator_.take_updates();
  batch.incidents.insert(batch.incidents.end(), std::make_move_iterator(updates.begin()),
                         std::make_move_iterator(updates.end()));
}

void CorrelateProcessor::finish(Batch& batch) {
  correlator_.flush();
  take(batch);
}

void CorrelateProcessor::advance_to(Micros time, Batch& batch) {
  if (correlator_.advance_to(time)) {
    take(batch);
  }
}

void CorrelateProcessor::take(Batch& batch) {
  BatchOutcome ignored;
  count(ignored);
  auto updates = correlator_.take_updates();
  batch.incidents.insert(batch.incidents.end(), std::make_move_iterator(updates.begin()),
                         std::make_move_iterator(updates.end()));
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
