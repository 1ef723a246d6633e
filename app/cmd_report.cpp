// `ktrail report compliance`: the compliance report (report/compliance.h) over one store or
// several shards, rendered as report/render.h says.
#include <boost/program_options.hpp>
#include <cstdio>
#include <fstream>
#include <iostream>

#include "app/cli.h"
#include "app/commands.h"
#include "app/query_args.h"
#include "app/shards.h"
#include "report/compliance.h"
#include "report/render.h"

namespace ktrail::app {
namespace po = boost::program_options;

int cmd_report_compliance(const Args& args) {
  std::vector<std::string> dbs;
  std::string output = "table";
  std::string since = "30d";
  std::string until;
  std::string framework = "none";
  std::string out_file;
  std::string gap = "5m";
  std::vector<std::string> clusters;
  po::options_description desc(
      "usage: ktrail report compliance [options]\n\n"
      "Secret access, exec/attach/port-forward, RBAC changes, privilege escalation, privileged\n"
      "pods, anonymous and denied requests, impersonation, node maintenance, findings, and the\n"
      "coverage of the record (gaps, drops), over whole UTC days (docs/compliance.md).\n"
      "Times are RFC 3339 or a duration back from now (90m, 2h, 7d).\n\noptions");
  desc.add_options()("help,h", "show this help")(
      "db", po::value(&dbs)->composing(),
      "store file, or a directory of *.db shards; repeat for several (default ./ktrail.db)")(
      "output,o", po::value(&output), "table (default), json, csv, md or html")(
      "out", po::value(&out_file), "write to this file instead of stdout")(
      "since", po::value(&since), "from this time's day on (default 30d)")(
      "until", po::value(&until), "to this time's day (default now)")(
      "framework", po::value(&framework),
      "pci-dss, soc2 or none (default): name the controls each section evidences")(
      "details", "list the audit IDs behind each row (reads the events: slower)")(
      "gap", po::value(&gap), "a source silent for longer than this has a gap (default 5m)");
  desc.add_options()("cluster", po::value(&clusters)->composing(),
                     "only this cluster; repeat for several (coverage stays of every cluster; "
                     "docs/clusters.md)");
  po::variables_map vm;
  const po::positional_options_description no_positional;
  query::OutputFormat unused{};
  if (auto exit = parse_query_args(args, {&desc, &desc, &no_positional}, "table", &vm, &unused)) {
    return *exit;
  }
  auto format = report::parse_report_format(output);
  if (!format) {
    std::fprintf(stderr, "ktrail: %s\n", format.status().message().c_str());
    return kExitUsage;
  }
  report::ReportOptions options;
  auto fw = report::parse_framework(framework);
  if (!fw) {
    std::fprintf(stderr, "ktrail: --framework: %s\n", fw.status().message().c_str());
    return kExitUsage;
  }
  options.framework = *fw;
  options.details = vm.count("details") > 0;
  options.clusters = clusters;
  options.now = SystemClock().now();
  options.until = options.now;
  {
    std::optional<Micros> from;
    std::optional<Micros> to;
    if (auto exit = parse_time_window(since, until, options.now, &from, &to)) {
      return *exit;
    }
    options.since = from.value_or(options.since);
    options.until = to.value_or(options.until);
  }
  auto threshold = parse_duration(gap);
  if (!threshold || *threshold <= 0) {
    std::fprintf(stderr, "ktrail: --gap: %s\n",
                 threshold ? "must be more than 0" : threshold.status().message().c_str());
    return kExitUsage;
  }
  options.gap_threshold = *threshold;

  auto paths = expand_db_paths(dbs.empty() ? std::vector<std::string>{"./ktrail.db"} : dbs);
  if (!paths) {
    std::fprintf(stderr, "ktrail: %s\n", paths.status().message().c_str());
    return kExitFailure;
  }
  StoreOptions store_options;
  store_options.read_only = true;
  store_options.cache_mib = 16;
  std::vector<std::unique_ptr<Store>> stores;
  std::vector<Store*> readers;
  for (const std::string& path : *paths) {
    auto store = Store::open(path, store_options);
    if (!store) {
      std::fprintf(stderr, "ktrail: %s: %s\n", path.c_str(), store.status().message().c_str());
      return kExitFailure;
    }
    readers.push_back(store->get());
    stores.push_back(std::move(*store));
  }
  auto report = report::build_compliance_report(readers, options);
  if (!report) {
    std::fprintf(stderr, "ktrail: %s\n", report.status().message().c_str());
    return report.status().code() == ErrorCode::kInvalidArgument ? kExitUsage : kExitFailure;
  }
  if (out_file.empty()) {
    report::render_report(*report, *format, std::cout);
    return kExitOk;
  }
  std::ofstream file(out_file, std::ios::binary | std::ios::trunc);
  if (!file) {
    std::fprintf(stderr, "ktrail: --out: cannot write '%s'\n", out_file.c_str());
    return kExitFailure;
  }
  report::render_report(*report, *format, file);
  file.close();
  if (!file) {
    std::fprintf(stderr, "ktrail: --out: writing '%s' failed\n", out_file.c_str());
    return kExitFailure;
  }
  return kExitOk;
}

}  // namespace ktrail::app
