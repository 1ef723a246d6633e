// Output of every query command: one result table rendered as
// `-o table|wide|json|jsonl|yaml|csv|name|jsonpath=TEMPLATE`.
//
// A command fills a Table (columns with stable keys, rows of typed values) and calls render(),
// or streams rows through query/row_writer.h (the same bytes).
// - table: aligned columns under upper-case headers, for people; nulls print as <none>; lines
//   fit the terminal when given its width (long cells end in "…"). wide: never cut, and some
//   commands add columns.
// - json: ONE document, an array of objects whose keys are the column keys, in column order,
//   with typed values (numbers, strings, null, nested JSON). Scripts rely on it: keys are part
//   of the interface and only ever added to. jsonl: the same objects, one per line (NDJSON).
//   yaml: the same, as a YAML sequence of mappings.
// - csv: RFC 4180 (header row of keys, CRLF line ends, fields quoted when they hold a comma, a
//   quote, CR or LF; quotes doubled). Nested JSON values are written as their JSON text.
// - name: one line per row, `kind/id` as kubectl prints (audit/<auditID>, incident/<id>, ...);
//   each command says how its rows are named (RowNames, query/row_writer.h).
// - jsonpath=TEMPLATE: the template (query/jsonpath.h) run on {"kind":"List","items":[the rows
//   as json writes them]}; rows stream when the template only walks the items.
#pragma once

#include <cstdint>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace ktrail::query {

enum class OutputFormat { kTable, kJson, kCsv, kWide, kJsonl, kYaml, kName, kJsonPath };

// "table", "wide", "json", "jsonl", "yaml", "csv", "name" or "jsonpath=TEMPLATE" (the template
// is compiled here, so that a bad one is refused before any work); anything else is an
// invalid-argument error naming the choices.
Result<OutputFormat> parse_output_format(std::string_view text);

// The template of `-o jsonpath=TEMPLATE` ("" for other texts).
std::string_view jsonpath_template(std::string_view text);

// The shape of the table a command builds for `format`: kTable (the narrow columns for people)
// for table and wide, kJson (typed, nested values) for json, jsonl, yaml, name and jsonpath,
// kCsv for csv.
OutputFormat table_shape(OutputFormat format);

// The width lines of a table should fit: $COLUMNS when set to a number, else the width of the
// terminal on stdout, else 0 (not a terminal: no limit).
std::size_t terminal_width();

class Value {
 public:
  enum class Kind { kNull, kString, kInt, kReal, kJson };

  Value() = default;
  static Value null() { return {}; }
  static Value string(std::string s) { return Value(Kind::kString, std::move(s)); }
  static Value integer(std::int64_t n);
  static Value real(double d);
  // `json` must be valid JSON text (an array or object from the store); it is embedded as is.
  static Value json(std::string json) { return Value(Kind::kJson, std::move(json)); }

  Kind kind() const { return kind_; }
  // Makes this a value of `kind` with empty text and returns the text to fill: a row refilled
  // for every result reuses its strings instead of allocating new ones.
  std::string& reset(Kind kind) {
    kind_ = kind;
    text_.clear();
    return text_;
  }
  // The value as text: the string, the number, the JSON text; empty for null.
  const std::string& text() const { return text_; }

 private:
  Value(Kind kind, std::string text) : kind_(kind), text_(std::move(text)) {}
  Kind kind_ = Kind::kNull;
  std::string text_;
};

struct Column {
  std::string key;     // JSON key and CSV header
  std::string header;  // table header; empty means the key in upper case
};

struct Table {
  std::vector<Column> columns;
  std::vector<std::vector<Value>> rows;  // each row has one value per column
};

// `max_line`: fit table lines to this width (0: no limit; ignored by the other formats).
void render(const Table& table, OutputFormat format, std::ostream& out, std::size_t max_line = 0);

}  // namespace ktrail::query
