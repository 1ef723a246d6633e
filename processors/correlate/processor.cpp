#include "processors/correlate/processor.h"

namespace ktrail::correlate {

void CorrelateProcessor::process(Batch& batch, BatchOutcome& /*outcome*/) {
  for (const auto& event : batch.audit) {
    correlator_.add(event);
  }
  for (const auto& event : batch.events) {
    correlator_.add(event);
  }
  if (batch.end_of_input) {
    correlator_.flush();
  }
  auto updates = correlator_.take_updates();
  batch.incidents.insert(batch.incidents.end(), std::make_move_iterator(updates.begin()),
                         std::make_move_iterator(updates.end()));
}

void CorrelateProcessor::finish(Batch& batch) {
  correlator_.flush();
  auto updates = correlator_.take_updates();
  batch.incidents.insert(batch.incidents.end(), std::make_move_iterator(updates.begin()),
                         std::make_move_iterator(updates.end()));
}

}  // namespace ktrail::correlate
