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

// Rebuilds the state of stateful stages from the store at start (correlation: open incidents
// and the recent events, app/correlation_restore.h), writing what that re-derives.
Status restore_processor_state(std::vector<std::unique_ptr<Processor>>& chain, Store& store,
                               const ServeOptions& options);

}  // namespace ktrail::app
