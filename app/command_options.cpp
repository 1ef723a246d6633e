#include "app/command_options.h"

#include <cstdio>
#include <iostream>

#include "app/cli.h"

namespace ktrail::app {
namespace po = boost::program_options;

int fail_command(const Status& status, int code) {
  std::fprintf(stderr, "ktrail: %s\n", status.message().c_str());
  return code;
}

std::optional<int> parse_command(const Args& args, const po::options_description& desc,
                                 po::variables_map* vm) {
  try {
    po::store(po::command_line_parser(args).options(desc).run(), *vm);
    if (vm->count("help") != 0u) {
      std::cout << desc << "\n";
      return kExitOk;
    }
    po::notify(*vm);
  } catch (const po::error& e) {
    return fail_command(invalid_argument(e.what()), kExitUsage);
  }
  return std::nullopt;
}

}  // namespace ktrail::app
