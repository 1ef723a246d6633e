// The columnar path for aggregations over audit_events (storage/analytic_sql.h says which).
//
// Contract: run_analytic() answers a recognized query from the store's columns instead of through
// SQLite's row-by-row view: the hot rows' ids are read from the audit table as integers, each
// sealed segment's column block is decompressed and only the columns the query needs are decoded
// (storage/segment_codec.h), conditions are tested and groups counted in C++ loops over those
// arrays, and only the groups' dictionary ids are turned into strings at the end. Hot rows and
// segments are read in one read transaction, so a seal committed meanwhile is seen whole or not
// at all. A segment whose filter or time range excludes the conditions is not decompressed.
//
// The answer is the one SQLite gives for the same statement on the same file (rows, values,
// types, column names; rows SQLite leaves in an unspecified order come in the groups' key order,
// which is the order SQLite's sorter gives them). It returns nullopt, having sent nothing, when the
// store is not one it can read this way (no audit table) or when the query would make more groups
// than `max_groups`; the caller then runs the statement through SQLite. `check` is called between
// blocks of rows; an error it returns stops the query and is returned (time limits).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>

#include "core/status.h"
#include "storage/analytic_sql.h"
#include "storage/readonly_sql.h"
#include "storage/sqlite_util.h"

namespace ktrail::storage {

struct AnalyticOptions {
  std::size_t max_groups = 1 << 20;
  std::function<Status()> check;  // may be empty
};

Result<std::optional<SqlResult>> run_analytic(sqlite::Db& db, const AnalyticQuery& query,
                                              const AnalyticOptions& options);

}  // namespace ktrail::storage
