// Findings in `ktrail query timeline`: the findings of the stores that match the timeline's
// filters (time window, user or impersonated user, namespace, object), as rows with source
// "finding", merged into the timeline's time order (after the audit event they are about) and
// cut to the timeline's limit (the most recent rows).
#pragma once

#include <string>
#include <vector>

#include "core/status.h"
#include "query/incident_table.h"
#include "storage/store.h"

namespace ktrail::app {

Status merge_findings_into_timeline(const std::vector<std::string>& paths,
                                    const AuditFilter& filter, std::size_t limit,
                                    std::vector<query::TimelineRow>* rows);

}  // namespace ktrail::app
