// The processor chain every batch runs through before it is stored, in `serve` and `ingest`
// alike (so replays and live ingest agree). Policy, redaction and correlation stages are added
// here, in order, from the options that configure them.
#pragma once

#include <memory>
#include <vector>

#include "app/serve_options.h"
#include "core/status.h"
#include "processors/processor.h"
#include "storage/store.h"

namespace ktrail::app {

// Usage errors (a bad --rules file) are kInvalidArgument or kParseError, naming file and line.
Result<std::vector<std::unique_ptr<Processor>>> make_processor_chain(const ServeOptions& options);

// What a restore brought back, for the start-up log.
struct RestoreSummary {
  std::size_t open_incidents = 0;  // open incidents re-seeded into correlation
  std::size_t replayed = 0;        // recent stored items replayed into its windows
  std::size_t updated = 0;         // incidents the replay changed, written back
};

// Rebuilds the state of stateful stages from the store at start (correlation: open incidents
// and the recent events, app/correlation_restore.h), writing what that re-derives.
Status restore_processor_state(std::vector<std::unique_ptr<Processor>>& chain, Store& store,
                               const ServeOptions& options, RestoreSummary* summary = nullptr);

}  // namespace ktrail::app
