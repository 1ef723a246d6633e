// `ktrail sql "SELECT ..."`: read-only SQL on the store (see storage/readonly_sql.h), with a
// time and a memory limit; rows are printed as they come.
#include <boost/program_options.hpp>
#include <cstdio>
#include <iostream>

#include "app/cli.h"
#include "app/commands.h"
#include "app/query_args.h"
#include "core/time.h"
#include "query/audit_table.h"
#include "query/row_writer.h"
#include "storage/readonly_sql.h"

namespace ktrail::app {
namespace po = boost::program_options;
namespace {

// Rows from SQLite straight to the output.
class PrintingSink : public SqlRowSink {
 public:
  PrintingSink(query::OutputFormat format, query::RowWriterOptions layout, std::ostream& out)
      : format_(format), layout_(std::move(layout)), out_(out) {}
  void columns(const std::vector<std::string>& names) override {
    std::vector<query::Column> columns;
    for (const auto& name : names) {
      columns.push_back({name, name});
    }
    writer_ = query::RowWriter::make(format_, std::move(columns), out_, layout_);
  }
  Status row(const std::vector<SqlValue>& values) override {
    values_.clear();
    for (const auto& v : values) {
      values_.push_back(query::sql_value(v));
    }
    writer_->add(values_);
    return out_ ? Status::ok() : io_error("cannot write the output");
  }
  query::RowWriter* writer() { return writer_.get(); }

 private:
  query::OutputFormat format_;
  query::RowWriterOptions layout_;
  std::ostream& out_;
  std::unique_ptr<query::RowWriter> writer_;
  std::vector<query::Value> values_;
};

// "256MiB", "1GiB", "512M", or bytes.
Result<std::int64_t> parse_size(const std::string& text) {
  std::size_t used = 0;
  std::int64_t n = 0;
  try {
    n = std::stoll(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  const std::string unit = text.substr(used);
  int shift = -1;
  if (unit.empty() || unit == "B") {
    shift = 0;
  } else if (unit == "K" || unit == "KiB") {
    shift = 10;
  } else if (unit == "M" || unit == "MiB") {
    shift = 20;
  } else if (unit == "G" || unit == "GiB") {
    shift = 30;
  }
  if (used == 0 || shift < 0 || n <= 0 || n > (std::int64_t{1} << (62 - shift))) {
    return invalid_argument("--max-memory '" + text + "' is not a size (e.g. 256MiB)");
  }
  return n << shift;
}

}  // namespace

int cmd_sql(const Args& args) {
  std::string db = "./ktrail.db";
  std::string output = "table";
  std::string timeout = "30s";
  std::string max_memory = "256MiB";
  std::uint64_t max_rows = 0;
  bool row_path = false;
  std::vector<std::string> statements;
  po::options_description desc(
      "usage: ktrail sql [options] \"SELECT ...\"\n\n"
      "Runs one read-only SQL statement on the store. Tables: audit (with the view audit_events\n"
      "naming interned values), event_blocks (full events: block_event(format, data, index)),\n"
      "kube_events, dead_letters, dict. Read-only table-valued functions (json_each, json_tree,\n"
      "pragma_table_info(...)) work. Rows are printed as they come.\n\noptions");
  // clang-format off
  desc.add_options()
    ("help,h", "show this help")
    ("db", po::value(&db), "store file (default ./ktrail.db)")
    ("output,o", po::value(&output), kOutputHelp)
    ("timeout", po::value(&timeout)->default_value(timeout),
     "stop a statement that has run this long (time in SQLite, not printing)")
    ("max-memory", po::value(&max_memory)->default_value(max_memory),
     "stop a statement that needs more memory than this (a single value: a quarter of it)")
    ("max-rows", po::value(&max_rows)->default_value(max_rows),
     "stop after this many rows (0: no limit)")
    ("row-path", po::bool_switch(&row_path),
     "answer aggregations through SQLite row by row, not from the store's columns (the answer "
     "is the same; for comparison)");
  // clang-format on
  po::options_description hidden;
  hidden.add_options()("statement", po::value(&statements));
  po::options_description all;
  all.add(desc).add(hidden);
  po::positional_options_description positional;
  positional.add("statement", -1);
  po::variables_map vm;
  query::OutputFormat format{};
  if (auto exit = parse_query_args(args, {&all, &desc, &positional}, output, &vm, &format)) {
    return *exit;
  }
  if (format == query::OutputFormat::kName) {
    std::fprintf(stderr,
                 "ktrail: -o name: rows of SQL have no kind/id names; use -o "
                 "jsonpath='{range .items[*]}{.COLUMN}{\"\\n\"}{end}'\n");
    return kExitUsage;
  }
  if (statements.size() != 1) {
    std::fprintf(stderr, "ktrail: give exactly one SQL statement, quoted\n");
    return kExitUsage;
  }
  SqlLimits limits;
  limits.max_rows = max_rows;
  limits.columnar = !row_path;
  auto duration = parse_duration(timeout);
  if (!duration || *duration <= 0) {
    std::fprintf(stderr, "ktrail: --timeout '%s' is not a positive duration (e.g. 30s)\n",
                 timeout.c_str());
    return kExitUsage;
  }
  limits.timeout = std::chrono::milliseconds(std::max<Micros>(1, *duration / 1000));
  auto memory = parse_size(max_memory);
  if (!memory || *memory < (std::int64_t{4} << 20)) {
    std::fprintf(stderr, "ktrail: %s\n",
                 memory ? "--max-memory must be at least 4MiB" : memory.status().message().c_str());
    return kExitUsage;
  }
  limits.max_memory = *memory;
  PrintingSink sink(format, output_options(output, format, {}), std::cout);
  const Status status = run_readonly_sql(db, statements[0], limits, sink);
  if (!status.is_ok()) {
    if (sink.writer() != nullptr) {
      sink.writer()->flush();  // what was produced stays visible, unterminated
    }
    std::fprintf(stderr, "ktrail: %s\n", status.message().c_str());
    return kExitFailure;
  }
  sink.writer()->finish();
  return kExitOk;
}

}  // namespace ktrail::app
