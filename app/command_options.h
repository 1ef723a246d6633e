// What the store commands (prune, verify) share on their command line.
//
// Contract:
// - fail_command() prints "ktrail: MESSAGE" on stderr and returns `code`.
// - parse_command() fills `vm` from `args` by `desc`. It returns nullopt when the command should
//   go on, or the exit code to return at once: kExitOk after printing the help for --help,
//   kExitUsage after saying on stderr what is wrong with the command line.
#pragma once

#include <boost/program_options.hpp>
#include <optional>

#include "app/commands.h"
#include "core/status.h"

namespace ktrail::app {

int fail_command(const Status& status, int code);
std::optional<int> parse_command(const Args& args,
                                 const boost::program_options::options_description& desc,
                                 boost::program_options::variables_map* vm);

}  // namespace ktrail::app
