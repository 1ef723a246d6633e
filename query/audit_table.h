// The result table of `ktrail query audit` and of `ktrail sql`, built from what the store
// returns, ready for query/output.h.
//
// Audit JSON keys (stable): time, requestReceivedTimestamp, auditID, stage, level, user, groups,
// impersonatedUser, verb, resource, subresource, namespace, name, code, sourceIPs, userAgent,
// nonResourceURI (the requestURI of a request for no resource, such as /healthz or /metrics?x=1;
// null for resource requests), and `event` (the full audit event object) when asked for. The
// table format shows a narrower set for people: TIME STAGE USER VERB RESOURCE NAMESPACE NAME
// CODE, where USER names the acting identity as `user (as impersonatedUser)` when the request
// impersonated someone, and RESOURCE the URI of a non-resource request.
//
// Also the parsing of the multi-valued filters of `query audit` and `report`.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "query/output.h"
#include "storage/readonly_sql.h"
#include "storage/store.h"

namespace ktrail::query {

// "get,list,watch" -> {"get","list","watch"}; empty items are skipped.
std::vector<std::string> split_list(std::string_view text);

// "401,403", "4xx", "400-499" or a mix -> inclusive ranges. Anything else (a code outside
// 100..599, "4x", "abc") is an invalid-argument error naming the item.
Result<std::vector<std::pair<int, int>>> parse_code_list(std::string_view text);

// "alice (as bob)" when `impersonated` is set, else `user`.
std::string acting_identity(const std::string& user, const std::string& impersonated);

// The columns and one row of the audit table in `format`'s shape (table_shape()): rows can then
// be streamed (query/row_writer.h) as they are read. audit_table() is both for a whole result.
std::vector<Column> audit_columns(OutputFormat format, bool with_event);
// `non_resource_uri`: see non_resource_uri().
// fill_audit_row() is audit_row() into `row`, reusing its values' storage (a stream of rows
// refills one row).
void fill_audit_row(const StoredAudit& r, OutputFormat format, bool with_event,
                    std::string_view non_resource_uri, std::vector<Value>* row);
std::vector<Value> audit_row(const StoredAudit& r, OutputFormat format, bool with_event,
                             std::string_view non_resource_uri = {});

// The requestURI of a non-resource request, read from its event JSON (`r.event`, read for such
// rows only: AuditFilter::events_of_non_resource_only); "" for a resource request or when the
// event is not there or holds none.
std::string non_resource_uri(const StoredAudit& r);
Table audit_table(const std::vector<StoredAudit>& rows, OutputFormat format, bool with_event);

// Blobs print as lower-case hex; everything else keeps its SQLite type.
Table sql_table(const SqlResult& result);
Value sql_value(const SqlValue& value);

}  // namespace ktrail::query
