#include "app/query_args.h"

#include <cstdio>
#include <iostream>

#include "app/cli.h"

namespace ktrail::app {

namespace po = boost::program_options;

std::optional<int> parse_query_args(const Args& args, const QueryArgs& spec,
                                    const std::string& output, po::variables_map* vm,
                                    query::OutputFormat* format) {
  try {
    po::store(
        po::command_line_parser(args).options(*spec.options).positional(*spec.positional).run(),
        *vm);
    po::notify(*vm);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "ktrail: %s\n", e.what());
    return kExitUsage;
  }
  if (vm->count("help") > 0) {
    std::cout << *spec.help << "\n";
    return kExitOk;
  }
  auto parsed = query::parse_output_format(output);
  if (!parsed) {
    std::fprintf(stderr, "ktrail: %s\n", parsed.status().message().c_str());
    return kExitUsage;
  }
  *format = *parsed;
  return std::nullopt;
}

}  // namespace ktrail::app
