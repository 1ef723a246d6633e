// The processor chain every batch runs through before it is stored, in `serve` and `ingest`
// alike (so replays and live ingest agree). Policy, redaction and correlation stages are added
// here, in order, from the options that configure them.
#pragma once

#include <memory>
#include <vector>

#include "app/serve_options.h"
#include "core/status.h"
#include "processors/processor.h"

namespace ktrail::app {

Result<std::vector<std::unique_ptr<Processor>>> make_processor_chain(const ServeOptions& options);

}  // namespace ktrail::app
