// The rows of a query command written to stdout as they are read (query/row_writer.h), with the
// CLUSTER column first when the stores hold several clusters (app/cluster_column.h).
//
// Contract: add() writes one row; it fails once stdout cannot be written, so that the read
// feeding it stops. finish() ends the output and returns the exit code: kExitOk, or, for a
// read that failed, kExitFailure after printing its error (the rows written so far stay, and
// the output is left unterminated, never mistaken for a whole answer).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "core/status.h"
#include "query/output.h"
#include "query/row_writer.h"

namespace ktrail::app {

class RowOutput {
 public:
  RowOutput(query::OutputFormat format, std::vector<query::Column> columns, bool cluster_column,
            query::RowWriterOptions options);
  Status add(const std::vector<query::Value>& row, const std::string& cluster);
  int finish(const Status& read);

 private:
  bool cluster_column_;
  std::vector<query::Value> with_cluster_;  // the row with its cluster first, reused
  std::unique_ptr<query::RowWriter> writer_;
};

}  // namespace ktrail::app
