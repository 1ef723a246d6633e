// Read-only SQL on a store file, for `ktrail sql`.
//
// Three independent guards keep the file untouched, whatever the text: the connection is
// opened read-only; an authorizer allows only reading (SELECT, reading columns, functions,
// read-only table-valued functions such as json_each, json_tree and pragma_table_info(...), and
// a short list of pragmas that only report); and the prepared statement must be one that SQLite
// itself calls read-only. Exactly one statement is run; more is refused.
//
// Limits (SqlLimits), so that no statement can hold the machine: the time spent inside SQLite
// (a progress handler interrupts it), SQLite's heap (sqlite3_hard_heap_limit64, process-wide:
// this is for the short-lived `ktrail sql` process) and the largest value a statement may make
// (a quarter of the heap limit: printf('%.*c', 999999999, 'x') fails at once), and optionally
// the number of rows. Rows go to a SqlRowSink one at a time as SQLite produces them; nothing
// holds the whole result.
//
// Errors: kPermissionDenied for a refused write ("ktrail sql is read-only: ...") or a refused
// function ("... the function fts3_tokenizer is not allowed ..."), each naming what was
// refused; kResourceExhausted for a limit hit, naming the limit and its option; kDatabase with
// SQLite's own message for malformed SQL.
//
// The store's full events are packed in event_blocks; the SQL function
// block_event(format, data, index) returns one event's JSON, e.g.
//   SELECT block_event(b.format, b.data, a.block_index) FROM audit_events a
//   JOIN event_blocks b ON b.id = a.block_id LIMIT 1
#pragma once

#include <chrono>
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

struct SqlLimits {
  std::chrono::milliseconds timeout{30'000};  // time inside SQLite, not writing the output
  std::int64_t max_memory = std::int64_t{256} << 20;  // bytes of SQLite heap
  std::uint64_t max_rows = 0;                         // 0: no limit
  // Aggregations over audit_events of the shape storage/analytic_sql.h describes are answered
  // from the store's columns (storage/analytic.h), with the same result; false sends every
  // statement through SQLite row by row.
  bool columnar = true;
};

// Receives a result as it is produced: columns() once, then row() per row. A row() error
// stops the statement and is returned.
class SqlRowSink {
 public:
  virtual ~SqlRowSink() = default;
  virtual void columns(const std::vector<std::string>& names) = 0;
  virtual Status row(const std::vector<SqlValue>& values) = 0;
};

Status run_readonly_sql(const std::string& db_path, std::string_view sql, const SqlLimits& limits,
                        SqlRowSink& sink);

// The same, collecting the whole result (for small results: tests and callers that need it all).
Result<SqlResult> run_readonly_sql(const std::string& db_path, std::string_view sql,
                                   const SqlLimits& limits = {});

}  // namespace ktrail
