#include "query/output.h"

#include <sys/ioctl.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>

#include "query/jsonpath.h"
#include "query/row_writer.h"

#include "core/json.h"

namespace ktrail::query {

Result<OutputFormat> parse_output_format(std::string_view text) {
  static const std::pair<std::string_view, OutputFormat> kNames[] = {
      {"table", OutputFormat::kTable}, {"wide", OutputFormat::kWide},
      {"json", OutputFormat::kJson},   {"jsonl", OutputFormat::kJsonl},
      {"yaml", OutputFormat::kYaml},   {"csv", OutputFormat::kCsv}};
  for (const auto& [name, format] : kNames) {
    if (text == name) {
      return format;
    }
  }
  if (text == "name") {
    return OutputFormat::kName;
  }
  if (text.starts_with("jsonpath=")) {
    auto compiled = JsonPath::compile(jsonpath_template(text));
    if (!compiled) {
      return compiled.status();
    }
    return OutputFormat::kJsonPath;
  }
  if (text == "jsonpath") {
    return invalid_argument(
        "-o jsonpath needs a template: -o jsonpath='{range .items[*]}{.id}{\"\\n\"}{end}'");
  }
  return invalid_argument("unknown output format '" + std::string(text) +
                          "' (use table, wide, json, jsonl, yaml, csv, name or "
                          "jsonpath=TEMPLATE)");
}

std::string_view jsonpath_template(std::string_view text) {
  constexpr std::string_view kPrefix = "jsonpath=";
  return text.starts_with(kPrefix) ? text.substr(kPrefix.size()) : std::string_view{};
}

OutputFormat table_shape(OutputFormat format) {
  switch (format) {
    case OutputFormat::kTable:
    case OutputFormat::kWide:
      return OutputFormat::kTable;
    case OutputFormat::kCsv:
      return OutputFormat::kCsv;
    case OutputFormat::kJson:
    case OutputFormat::kJsonl:
    case OutputFormat::kYaml:
    case OutputFormat::kName:
    case OutputFormat::kJsonPath:
      break;
  }
  return OutputFormat::kJson;
}

std::size_t terminal_width() {
  if (const char* columns = std::getenv("COLUMNS"); columns != nullptr && *columns != '\0') {
    char* end = nullptr;
    const long n = std::strtol(columns, &end, 10);
    if (*end == '\0' && n > 0) {
      return static_cast<std::size_t>(n);
    }
  }
  struct winsize ws {};
  if (isatty(STDOUT_FILENO) == 1 && ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) {
    return ws.ws_col;
  }
  return 0;
}

Value Value::integer(std::int64_t n) { return Value(Kind::kInt, std::to_string(n)); }

Value Value::real(double d) {
  if (!std::isfinite(d)) {
    return null();  // JSON has no NaN or infinity
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.17g", d);
  return Value(Kind::kReal, buf);
}

void render(const Table& table, OutputFormat format, std::ostream& out, std::size_t max_line) {
  RowWriterOptions options;
  options.max_line = max_line;
  render(table, format, out, std::move(options));
}

void render(const Table& table, OutputFormat format, std::ostream& out, RowWriterOptions options) {
  options.measure_rows = std::numeric_limits<std::size_t>::max();  // the whole table is here
  auto writer = RowWriter::make(format, table.columns, out, options);
  for (const auto& row : table.rows) {
    writer->add(row);
  }
  writer->finish();
}

}  // namespace ktrail::query
