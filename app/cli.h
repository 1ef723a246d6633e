// The command line: `ktrail <command> [<subcommand>] [options]`, in the style of kubectl.
// Exit codes (also in `ktrail --help` and the README): 0 success; 1 the command failed (an
// input, the store, the network); 2 the command line was wrong; 3 `ktrail ingest` rejected
// items and accepted none (or rejected any, with --fail-on-reject).
#pragma once

#include <string>
#include <vector>

namespace ktrail::app {

constexpr int kExitOk = 0;
constexpr int kExitFailure = 1;
constexpr int kExitUsage = 2;
constexpr int kExitRejected = 3;

// The exit codes, as `ktrail --help` prints them.
extern const char* const kExitCodesHelp;

// One command: its words ("query audit"), a one-line summary, and its entry point, which gets
// the arguments after the words.
struct Command {
  const char* words;
  const char* summary;
  int (*run)(const std::vector<std::string>& args);
};

int run_cli(int argc, char** argv);
// The words of every command ("query audit", ...), for completion.
std::vector<std::string> command_list();

}  // namespace ktrail::app
