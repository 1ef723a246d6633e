// Read-only SQL on a store file, for `ktrail sql`.
//
// Three independent guards keep the file untouched, whatever the text: the connection is
// opened read-only; an authorizer allows only reading (SELECT, reading columns, functions,
// and a short list of pragmas that only report); and the prepared statement must be one
// that SQLite itself calls read-only. Exactly one statement is run; more is refused.
// Errors are kPermissionDenied for a refused write ("ktrail sql is read-only: ...") and
// kDatabase with SQLite's own message for malformed SQL.
//
// The store's full events are packed in event_blocks; the SQL function
// block_event(format, data, index) returns one event's JSON, e.g.
//   SELECT block_event(b.format, b.data, a.block_index) FROM audit_events a
//   JOIN event_blocks b ON b.id = a.block_id LIMIT 1
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace ktrail {

struct SqlValue {
  enum class Kind { kNull, kInt, kReal, kText, kBlob };
  Kind kind = Kind::kNull;
  std::int64_t integer = 0;
  double real = 0;
  std::string text;  // text, or the bytes of a blob
};

struct SqlResult {
  std::vector<std::string> columns;
  std::vector<std::vector<SqlValue>> rows;
};

Result<SqlResult> run_readonly_sql(const std::string& db_path, std::string_view sql);

}  // namespace ktrail
