// The result table of `ktrail query audit` and of `ktrail sql`, built from what the store
// returns, ready for query/output.h.
//
// Audit JSON keys (stable): time, requestReceivedTimestamp, auditID, stage, level, user, groups,
// impersonatedUser, verb, resource, subresource, namespace, name, code, sourceIPs, userAgent,
// and `event` (the full audit event object) when asked for. The table format shows a narrower
// set for people: TIME USER VERB RESOURCE NAMESPACE NAME CODE.
#pragma once

#include <vector>

#include "query/output.h"
#include "storage/readonly_sql.h"
#include "storage/store.h"

namespace ktrail::query {

Table audit_table(const std::vector<StoredAudit>& rows, OutputFormat format, bool with_event);

// Blobs print as lower-case hex; everything else keeps its SQLite type.
Table sql_table(const SqlResult& result);
Value sql_value(const SqlValue& value);

}  // namespace ktrail::query
