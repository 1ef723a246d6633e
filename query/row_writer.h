// Streaming output of a result whose size is not known in advance (`ktrail sql`): rows are
// written as they come, in the same formats as query/output.h, so that memory does not grow
// with the result.
//
// - json and csv are written row by row, byte for byte as render() writes them.
// - table needs column widths: the first kWidthRows rows are held to measure them, then every
//   row is printed as it comes; a later, wider cell pushes its row's columns right.
// finish() ends the output (the closing bracket of json); a writer destroyed without finish()
// leaves what it wrote, unterminated, so that a stopped result is never mistaken for a whole one.
#pragma once

#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "query/output.h"

namespace ktrail::query {

class RowWriter {
 public:
  static constexpr std::size_t kWidthRows = 1000;

  static std::unique_ptr<RowWriter> make(OutputFormat format, std::vector<Column> columns,
                                         std::ostream& out);
  virtual ~RowWriter() = default;
  // One value per column.
  virtual void add(const std::vector<Value>& row) = 0;
  // Writes what is held (the table's first rows) without ending the output.
  virtual void flush() = 0;
  virtual void finish() = 0;
};

}  // namespace ktrail::query
