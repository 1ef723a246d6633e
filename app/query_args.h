// The command-line steps every query command shares (query audit, query timeline, incidents,
// sql): parse the options, answer --help, read -o. One place for their messages and exit codes.
#pragma once

#include <boost/program_options.hpp>
#include <optional>
#include <string>

#include "app/commands.h"
#include "query/output.h"

namespace ktrail::app {

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

}  // namespace ktrail::app
