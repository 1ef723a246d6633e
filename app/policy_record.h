// Records in the store the audit processing a writer runs with (policy file text, size limit,
// redaction), so that a compliance report can name the policy in force (docs/compliance.md).
#pragma once

#include <string>

#include "core/status.h"
#include "processors/audit_processors.h"
#include "storage/store.h"

namespace ktrail::app {

// `source` names the writer ("ktrail serve", "ktrail ingest"). Reads the policy file again (it
// was just loaded by the chain); a new row is written only when its digest changed.
Status record_processing_policy(Store& store, const AuditProcessingOptions& options,
                                const std::string& source);

}  // namespace ktrail::app
