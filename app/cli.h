// The command line: `ktrail <command> [<subcommand>] [options]`, in the style of kubectl.
// Exit codes: 0 success, 1 the command failed, 2 the command line was wrong.
#pragma once

#include <string>
#include <vector>

namespace ktrail::app {

constexpr int kExitOk = 0;
constexpr int kExitFailure = 1;
constexpr int kExitUsage = 2;

// One command: its words ("query audit"), a one-line summary, and its entry point, which gets
// the arguments after the words.
struct Command {
  const char* words;
  const char* summary;
  int (*run)(const std::vector<std::string>& args);
};

int run_cli(int argc, char** argv);

}  // namespace ktrail::app
