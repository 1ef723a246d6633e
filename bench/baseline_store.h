// The straightforward store the benchmark compares ktrail against: parse each event, insert
// it into one table with a unique index on the identity and three secondary indexes, in
// transactions of `batch_rows` rows. Same durability settings as ktrail (WAL, synchronous
// NORMAL), so the comparison is about the design, not the flags.
#pragma once

#include <sqlite3.h>

#include <string>
#include <vector>

#include "core/status.h"

namespace ktrail::bench {

class BaselineStore {
 public:
  ~BaselineStore();
  static Result<BaselineStore*> open(const std::string& path);
  // Parses and inserts `lines`, committing every `batch_rows` rows. Returns rows inserted.
  Result<std::size_t> insert(const std::vector<std::string>& lines, std::size_t batch_rows);

 private:
  BaselineStore() = default;
  sqlite3* db_ = nullptr;
  sqlite3_stmt* insert_ = nullptr;
};

}  // namespace ktrail::bench
