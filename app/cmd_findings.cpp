// `ktrail findings list` and `ktrail findings show ID`: the findings serve and ingest stored.
#include <rapidjson/document.h>

#include <boost/program_options.hpp>
#include <cstdio>
#include <iostream>

#include "app/cli.h"
#include "app/cluster_column.h"
#include "app/commands.h"
#include "app/query_args.h"
#include "app/row_output.h"
#include "core/json.h"
#include "query/output.h"
#include "query/row_writer.h"
#include "storage/store.h"

namespace ktrail::app {
namespace po = boost::program_options;
namespace {

constexpr const char* kDbHelp = "store file (default ./ktrail.db)";

Result<std::unique_ptr<Store>> open_reader(const std::vector<std::string>& dbs) {
  if (dbs.size() > 1) {
    return invalid_argument("findings read one store; give one --db");
  }
  StoreOptions options;
  options.read_only = true;
  options.cache_mib = 16;
  return Store::open(dbs.empty() ? "./ktrail.db" : dbs[0], options);
}

std::string tags_json(const std::vector<std::string>& tags) {
  std::string s = "[";
  for (std::size_t i = 0; i < tags.size(); ++i) {
    rapidjson::Value v(rapidjson::StringRef(tags[i].data(), tags[i].size()));
    s += (i ? "," : "") + json::to_compact(v);
  }
  return s + "]";
}

std::vector<query::Column> finding_columns() {
  return {{"id", ""},       {"time", ""},     {"priority", ""},
          {"rule", ""},     {"user", ""},     {"impersonatedUser", "AS"},
          {"namespace", ""}, {"resource", ""}, {"name", ""},
          {"auditID", "AUDIT ID"}, {"stage", ""}, {"output", ""},
          {"tags", ""}};
}

std::vector<query::Value> finding_row(const Finding& f) {
  auto text = [](const std::string& s) {
    return s.empty() ? query::Value::null() : query::Value::string(s);
  };
  return {query::Value::integer(f.id), query::Value::string(format_rfc3339(f.time)),
          query::Value::string(f.priority), query::Value::string(f.rule),
          text(f.user), text(f.impersonated_user), text(f.namespace_),
          text(f.resource), text(f.name), query::Value::string(f.audit_id),
          query::Value::string(to_string(f.stage)), query::Value::string(f.output),
          query::Value::json(tags_json(f.tags))};
}

}  // namespace

int cmd_findings_list(const Args& args) {
  std::vector<std::string> dbs;
  std::string output = "table";
  std::string since;
  std::string until;
  std::string priority;
  std::int64_t limit = 0;
  std::vector<std::string> clusters;
  po::options_description desc(
      "usage: ktrail findings list [options]\n\n"
      "Findings of the detection rules (docs/detect.md), oldest first. Times are RFC 3339 or a\n"
      "duration back from now.\n\noptions");
  desc.add_options()("help,h", "show this help")("db", po::value(&dbs)->composing(), kDbHelp)(
      "output,o", po::value(&output), kOutputHelp)(
      "rule", po::value<std::string>(), "findings of this rule")(
      "priority", po::value(&priority),
      "this priority or more severe (EMERGENCY ALERT CRITICAL ERROR WARNING NOTICE "
      "INFORMATIONAL DEBUG)")("since", po::value(&since), "findings at or after this time")(
      "until", po::value(&until), "findings at or before this time")(
      "user", po::value<std::string>(), "findings of this user (or impersonated user)")(
      "namespace,n", po::value<std::string>(), "findings in this namespace")(
      "limit", po::value(&limit), "at most this many, the most recent (default 0: all)");
  add_cluster_option(&desc, &clusters);
  po::variables_map vm;
  const po::positional_options_description no_positional;
  query::OutputFormat format{};
  if (auto exit = parse_query_args(args, {&desc, &desc, &no_positional}, output, &vm, &format)) {
    return *exit;
  }
  FindingFilter filter;
  filter.clusters = clusters;
  if (vm.count("rule")) {
    filter.rule = vm["rule"].as<std::string>();
  }
  if (vm.count("user")) {
    filter.user = vm["user"].as<std::string>();
  }
  if (vm.count("namespace")) {
    filter.namespace_ = vm["namespace"].as<std::string>();
  }
  if (!priority.empty()) {
    const int rank = priority_rank(priority);
    if (rank < 0) {
      std::fprintf(stderr, "ktrail: --priority: unknown priority '%s'\n", priority.c_str());
      return kExitUsage;
    }
    filter.max_severity = rank;
  }
  if (auto exit = parse_time_window(since, until, SystemClock().now(), &filter.since,
                                    &filter.until)) {
    return *exit;
  }
  if (limit < 0) {
    std::fprintf(stderr, "ktrail: --limit must be 0 or more\n");
    return kExitUsage;
  }
  filter.limit = static_cast<std::size_t>(limit);
  auto store = open_reader(dbs);
  if (!store) {
    std::fprintf(stderr, "ktrail: %s\n", store.status().message().c_str());
    return kExitFailure;
  }
  // Rows go out as they are read: memory stays bounded whatever --limit allows.
  RowOutput out(format, finding_columns(), show_cluster_column({store->get()}),
                output_options(output, format, {"finding", "", {"id"}}));
  return out.finish((*store)->each_finding(
      filter, [&](const Finding& f) { return out.add(finding_row(f), f.cluster); }));
}

int cmd_findings_show(const Args& args) {
  std::vector<std::string> dbs;
  std::string output = "table";
  std::int64_t id = 0;
  po::options_description desc(
      "usage: ktrail findings show ID [options]\n\nOne finding.\n\noptions");
  desc.add_options()("help,h", "show this help")("db", po::value(&dbs)->composing(), kDbHelp)(
      "output,o", po::value(&output), kOutputHelp)(
      "id", po::value(&id), "finding id (from findings list)");
  po::variables_map vm;
  po::positional_options_description by_id;
  by_id.add("id", 1);
  query::OutputFormat format{};
  if (auto exit = parse_query_args(args, {&desc, &desc, &by_id}, output, &vm, &format)) {
    return *exit;
  }
  if (!vm.count("id")) {
    std::fprintf(stderr, "ktrail: findings show needs an ID\n");
    return kExitUsage;
  }
  auto store = open_reader(dbs);
  if (!store) {
    std::fprintf(stderr, "ktrail: %s\n", store.status().message().c_str());
    return kExitFailure;
  }
  auto finding = (*store)->get_finding(id);
  if (!finding) {
    std::fprintf(stderr, "ktrail: %s\n", finding.status().message().c_str());
    return kExitFailure;
  }
  query::Table table;
  table.columns = finding_columns();
  table.rows.push_back(finding_row(*finding));
  query::render(table, format, std::cout, output_options(output, format, {"finding", "", {"id"}}));
  return kExitOk;
}

}  // namespace ktrail::app
