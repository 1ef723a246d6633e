// `ktrail sql "SELECT ..."`: read-only SQL on the store (see storage/readonly_sql.h).
#include <boost/program_options.hpp>
#include <cstdio>
#include <iostream>

#include "app/cli.h"
#include "app/commands.h"
#include "app/query_args.h"
#include "query/audit_table.h"
#include "query/output.h"
#include "storage/readonly_sql.h"

namespace ktrail::app {
namespace po = boost::program_options;

int cmd_sql(const Args& args) {
  std::string db = "./ktrail.db";
  std::string output = "table";
  std::vector<std::string> statements;
  po::options_description desc(
      "usage: ktrail sql [options] \"SELECT ...\"\n\n"
      "Runs one read-only SQL statement on the store. Tables: audit (with the view audit_events\n"
      "naming interned values), event_blocks (full events: block_event(format, data, index)),\n"
      "kube_events, dead_letters, dict.\n\noptions");
  desc.add_options()("help,h", "show this help")(
      "db", po::value(&db), "store file (default ./ktrail.db)")("output,o", po::value(&output),
                                                                "table (default), json or csv");
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
  if (statements.size() != 1) {
    std::fprintf(stderr, "ktrail: give exactly one SQL statement, quoted\n");
    return kExitUsage;
  }
  auto result = run_readonly_sql(db, statements[0]);
  if (!result) {
    std::fprintf(stderr, "ktrail: %s\n", result.status().message().c_str());
    return kExitFailure;
  }
  query::render(query::sql_table(*result), format, std::cout);
  return kExitOk;
}

}  // namespace ktrail::app
