// Streaming output of query results: rows are written as they come, so memory does not grow
// with the result (`ktrail sql`, `ktrail query audit --limit 0`). render() (query/output.h) is
// this writer fed a whole table, so both write the same bytes.
//
// - json: one array, written element by element (the closing bracket at finish()).
// - jsonl: one compact JSON object per line (NDJSON), same keys and values as json.
// - csv: RFC 4180, row by row.
// - yaml: a sequence of mappings, one per row (strings double-quoted, nested JSON in flow style,
//   so the text is both valid YAML and stable).
// - table/wide: column widths come from the header and the first `measure_rows` rows (held until
//   then); a later, wider cell pushes its row's columns right. With `max_line` set (table only:
//   the terminal's width), columns are narrowed, widest first, so that lines fit, and cells
//   that no longer fit end in "…"; wide never cuts.
// - name: `kind/id` a line, as RowNames say.
// - jsonpath: see query/jsonpath.h; without a template streaming over the items, the rows are
//   held until finish().
// finish() ends the output; a writer destroyed without finish() leaves what it wrote,
// unterminated, so that a stopped result is never mistaken for a whole one.
#pragma once

#include <memory>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "query/jsonpath.h"
#include "query/output.h"

namespace ktrail::query {

// How `-o name` names a row: `kind/id`, the kind fixed or read from a column (a timeline row's
// source), the id the values of `id_keys` joined by '/' (empty values left out).
struct RowNames {
  std::string kind;
  std::string kind_key;  // when set, the kind is this column's value
  std::vector<std::string> id_keys;
  bool empty() const { return id_keys.empty(); }
};

struct RowWriterOptions {
  std::size_t measure_rows = 1000;  // rows held to measure table widths
  std::size_t max_line = 0;         // table: fit lines to this many columns; 0 = no limit
  RowNames names;                   // name
  std::shared_ptr<const JsonPath> jsonpath;  // jsonpath: the compiled template
};

class RowWriter {
 public:
  static constexpr std::size_t kWidthRows = 1000;

  static std::unique_ptr<RowWriter> make(OutputFormat format, std::vector<Column> columns,
                                         std::ostream& out, RowWriterOptions options = {});
  virtual ~RowWriter() = default;
  // One value per column.
  virtual void add(const std::vector<Value>& row) = 0;
  // Writes what is held (the table's first rows) without ending the output.
  virtual void flush() = 0;
  virtual void finish() = 0;
};

// render() (query/output.h) with every option.
void render(const Table& table, OutputFormat format, std::ostream& out, RowWriterOptions options);

// Helpers shared by every writer (and their tests).
// A table cell on one line: control characters become spaces; null is <none>.
std::string cell_text(const Value& v);
// Display width in columns: UTF-8 code points.
std::size_t display_width(std::string_view s);
// `s` cut to at most `width` columns, ending in "…" when cut.
std::string cut_to_width(const std::string& s, std::size_t width);
// The header of a column: its header, or its key in upper case.
std::string header_of(const Column& c);
// Column widths fitted into `max_line` (3 spaces between columns): the widest are narrowed
// first, none below its floor.
std::vector<std::size_t> fit_widths(std::vector<std::size_t> widths,
                                    const std::vector<std::size_t>& floors, std::size_t max_line);

}  // namespace ktrail::query
