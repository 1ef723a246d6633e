// The command-line steps every query command shares (query audit, query timeline, incidents,
// sql): parse the options, answer --help, read -o, read a --since/--until window. One place for
// their messages and exit codes.
#pragma once

#include <boost/program_options.hpp>
#include <exception>
#include <optional>
#include <string>

#include "app/commands.h"
#include "core/time.h"
#include "query/output.h"
#include "query/row_writer.h"

namespace ktrail::app {

// The help of -o on every query command.
constexpr const char* kOutputHelp =
    "table (default; fits the terminal), wide, json, jsonl, yaml, csv, name (kind/id a line) or "
    "jsonpath=TEMPLATE (kubectl's: {.items[*].FIELD}, {range .items[*]}...{end}; see README)";

// The help of --stages (query audit, query timeline).
constexpr const char* kStagesHelp =
    "last (default: one row per request, its last stage: ResponseComplete, else the last seen) "
    "or all (every stage; a cut answer then says how many events matched in all)";

struct QueryArgs {
  const boost::program_options::options_description* options;  // what is parsed
  const boost::program_options::options_description* help;     // what --help shows
  const boost::program_options::positional_options_description* positional;
};

// Parses `args` into `vm` and the -o text into `format`. Returns std::nullopt when the command
// should run, or the exit code to return at once: kExitOk after printing the help, kExitUsage
// after printing what was wrong.
std::optional<int> parse_query_args(const Args& args, const QueryArgs& spec,
                                    const std::string& output,
                                    boost::program_options::variables_map* vm,
                                    query::OutputFormat* format);

// The message for a command-line error of boost::program_options: for an unknown option, the
// nearest option of `options` ("unknown option '--usr'; did you mean '--user'?").
std::string explain_option_error(const std::exception& error,
                                 const boost::program_options::options_description& options);

// The writer options for -o `output` (parsed into `format`): the terminal's width for table,
// the compiled template for jsonpath, `names` for name.
query::RowWriterOptions output_options(const std::string& output, query::OutputFormat format,
                                       query::RowNames names);

// Reads --since/--until texts (empty: not given) against `now` into `since`/`until`. Returns
// std::nullopt, or kExitUsage after printing what was wrong: a bad time, or a window whose
// start is after its end (it could only ever be empty).
std::optional<int> parse_time_window(const std::string& since_text, const std::string& until_text,
                                     Micros now, std::optional<Micros>* since,
                                     std::optional<Micros>* until);

}  // namespace ktrail::app
