#include "app/query_args.h"

#include <cstdio>
#include <iostream>

#include "app/cli.h"
#include "app/suggest.h"

namespace ktrail::app {

namespace po = boost::program_options;

std::string explain_option_error(const std::exception& error, const po::options_description& options) {
  const auto* unknown = dynamic_cast<const po::unknown_option*>(&error);
  if (unknown == nullptr) {
    return error.what();
  }
  std::string name = unknown->get_option_name();
  std::string message = "unknown option '" + name + "'";
  std::string bare = name;
  while (!bare.empty() && bare.front() == '-') {
    bare.erase(0, 1);
  }
  const auto eq = bare.find('=');
  if (eq != std::string::npos) {
    bare.resize(eq);
  }
  std::vector<std::string> names;
  for (const auto& o : options.options()) {
    if (!o->long_name().empty()) {
      names.push_back(o->long_name());
    }
  }
  const std::string near = nearest_word(bare, names);
  if (!near.empty()) {
    message += "; did you mean '--" + near + "'?";
  }
  return message + " (--help lists the options)";
}

std::optional<int> parse_query_args(const Args& args, const QueryArgs& spec,
                                    const std::string& output, po::variables_map* vm,
                                    query::OutputFormat* format) {
  try {
    po::store(
        po::command_line_parser(args).options(*spec.options).positional(*spec.positional).run(),
        *vm);
    po::notify(*vm);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "ktrail: %s\n", explain_option_error(e, *spec.options).c_str());
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

query::RowWriterOptions output_options(const std::string& output, query::OutputFormat format,
                                       query::RowNames names) {
  query::RowWriterOptions options;
  options.max_line = format == query::OutputFormat::kTable ? query::terminal_width() : 0;
  options.names = std::move(names);
  if (format == query::OutputFormat::kJsonPath) {
    auto compiled = query::JsonPath::compile(query::jsonpath_template(output));
    if (compiled) {  // parse_query_args refused a bad template already
      options.jsonpath = std::make_shared<const query::JsonPath>(std::move(*compiled));
    }
  }
  return options;
}

std::optional<int> parse_time_window(const std::string& since_text, const std::string& until_text,
                                     Micros now, std::optional<Micros>* since,
                                     std::optional<Micros>* until) {
  for (auto [text, out, flag] : {std::tuple{&since_text, since, "--since"},
                                 std::tuple{&until_text, until, "--until"}}) {
    if (text->empty()) {
      continue;
    }
    auto t = parse_time_arg(*text, now);
    if (!t) {
      std::fprintf(stderr, "ktrail: %s: %s\n", flag, t.status().message().c_str());
      return kExitUsage;
    }
    *out = *t;
  }
  if (*since && *until && **since > **until) {
    std::fprintf(stderr,
                 "ktrail: --since %s (%s) is after --until %s (%s): the window is empty. "
                 "--since is the earlier end (durations count back from now: --since 2h "
                 "--until 1h)\n",
                 since_text.c_str(), format_rfc3339(**since).c_str(), until_text.c_str(),
                 format_rfc3339(**until).c_str());
    return kExitUsage;
  }
  return std::nullopt;
}

}  // namespace ktrail::app
