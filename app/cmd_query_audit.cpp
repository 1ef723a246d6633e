// `ktrail query audit`: audit search over the store's normalized columns.
#include <boost/program_options.hpp>
#include <cstdio>
#include <iostream>

#include "app/cli.h"
#include "app/commands.h"
#include "app/audit_stream.h"
#include "app/cluster_column.h"
#include "app/query_args.h"
#include "app/row_output.h"
#include "app/shards.h"
#include "query/audit_table.h"
#include "query/output.h"
#include "query/request_stages.h"
#include "query/row_writer.h"
#include "storage/store.h"

namespace ktrail::app {
namespace po = boost::program_options;

int cmd_query_audit(const Args& args) {
  std::vector<std::string> dbs;
  std::string output = "table";
  std::string since;
  std::string until;
  std::string resource;
  std::string stages = "last";
  std::int64_t limit = 100;
  std::vector<std::string> clusters;
  AuditFilter filter;
  po::options_description desc(
      "usage: ktrail query audit [options]\n\n"
      "Audit events matching every given filter, oldest first. --limit keeps the most recent.\n"
      "Each request is one row, its last stage (ResponseComplete, else the last stage seen),\n"
      "unless --stages all. Times are RFC 3339 or a duration back from now (90m, 2h, 7d).\n\n"
      "options");
  desc.add_options()("help,h", "show this help")(
      "db", po::value(&dbs)->composing(),
      "store file, or a directory of *.db shards; repeat for several (default ./ktrail.db)")(
      "output,o", po::value(&output), kOutputHelp)(
      "user", po::value<std::string>(),
      "acting user (exact): the user, or the user a request impersonated")(
      "authenticated-user", po::value<std::string>(),
      "authenticated user (exact), whoever it impersonated")(
      "verb", po::value<std::string>(), "verb, or several: get,list,watch")(
      "resource", po::value(&resource),
      "resource (with any subresource), or resource/subresource (pods/exec)")(
      "namespace,n", po::value<std::string>(), "namespace")(
      "name", po::value<std::string>(), "object name")(
      "code", po::value<std::string>(), "response code(s): 403, 401,403, 4xx or 400-499")(
      "stages", po::value(&stages), kStagesHelp)(
      "since", po::value(&since), "events at or after this time")("until", po::value(&until),
                                                                  "events at or before this time")(
      "limit", po::value(&limit),
      "at most this many rows (requests, or stages with --stages all), the most recent (default "
      "100, 0: all); what was left out is said on stderr")("full", "json/csv: add `event`, the full audit event");
  add_cluster_option(&desc, &clusters);
  po::variables_map vm;
  const po::positional_options_description no_positional;  // extra words are an error
  query::OutputFormat format{};
  if (auto exit = parse_query_args(args, {&desc, &desc, &no_positional}, output, &vm, &format)) {
    return *exit;
  }
  if (limit < 0) {
    std::fprintf(stderr, "ktrail: --limit must be 0 or more\n");
    return kExitUsage;
  }
  const auto all_stages = query::parse_stages(stages);
  if (!all_stages) {
    std::fprintf(stderr, "ktrail: %s\n", all_stages.status().message().c_str());
    return kExitUsage;
  }
  if (auto exit = parse_time_window(since, until, SystemClock().now(), &filter.since,
                                    &filter.until)) {
    return *exit;
  }
  if (vm.count("user") > 0) {
    filter.user_or_impersonated = vm["user"].as<std::string>();
  }
  if (vm.count("authenticated-user") > 0) {
    filter.user = vm["authenticated-user"].as<std::string>();
  }
  if (vm.count("verb") > 0) {
    filter.verbs = query::split_list(vm["verb"].as<std::string>());
    if (filter.verbs.empty()) {
      std::fprintf(stderr, "ktrail: --verb: no verb given\n");
      return kExitUsage;
    }
  }
  if (vm.count("resource") > 0) {
    const auto slash = resource.find('/');
    filter.resource = resource.substr(0, slash);
    if (slash != std::string::npos) {
      filter.subresource = resource.substr(slash + 1);
    }
  }
  if (vm.count("namespace") > 0) {
    filter.namespace_ = vm["namespace"].as<std::string>();
  }
  if (vm.count("name") > 0) {
    filter.name = vm["name"].as<std::string>();
  }
  if (vm.count("code") > 0) {
    auto codes = query::parse_code_list(vm["code"].as<std::string>());
    if (!codes) {
      std::fprintf(stderr, "ktrail: --code: %s\n", codes.status().message().c_str());
      return kExitUsage;
    }
    filter.code_ranges = std::move(*codes);
  }
  filter.limit = static_cast<std::size_t>(limit);
  filter.clusters = clusters;
  const bool full =
      vm.count("full") > 0 && query::table_shape(format) != query::OutputFormat::kTable;
  // The URI of a non-resource request (/healthz, /metrics) is only in its event: those events
  // are read, the others only with --full.
  filter.with_event = true;
  filter.events_of_non_resource_only = !full;

  StoreOptions options;
  options.read_only = true;
  options.cache_mib = 16;
  auto paths = expand_db_paths(dbs.empty() ? std::vector<std::string>{"./ktrail.db"} : dbs);
  if (!paths) {
    std::fprintf(stderr, "ktrail: %s\n", paths.status().message().c_str());
    return kExitFailure;
  }
  auto shards = ShardSet::open(*paths, options);
  if (!shards) {
    std::fprintf(stderr, "ktrail: %s\n", shards.status().message().c_str());
    return kExitFailure;
  }
  // Rows go out as they are read: memory stays bounded whatever --limit allows.
  const query::RowWriterOptions layout = output_options(output, format, {"audit", "", {"auditID"}});
  RowOutput out(format, query::audit_columns(format, full), show_cluster_column(*shards), layout);
  std::size_t matched = 0;
  std::size_t shown = 0;
  AuditStreamOptions stream;
  stream.last_stage_only = !*all_stages;
  std::vector<query::Value> row;  // refilled for every event
  Status s = stream_audit(*shards, filter, stream, &matched, [&](const StoredAudit& r) {
    ++shown;
    query::fill_audit_row(r, format, full, query::non_resource_uri(r), &row);
    return out.add(row, r.cluster);
  });
  if (const int exit = out.finish(s); exit != kExitOk) {
    return exit;
  }
  if (matched > shown && stream.last_stage_only) {
    std::fprintf(stderr,
                 "ktrail: showing the %zu most recent request%s; older ones were left out by "
                 "--limit (--limit 0 shows all; --stages all counts every matching event)\n",
                 shown, shown == 1 ? "" : "s");
  } else if (matched > shown) {
    std::fprintf(stderr,
                 "ktrail: showing the %zu most recent of %zu matching events (%zu left out by "
                 "--limit; --limit 0 shows all)\n",
                 shown, matched, matched - shown);
  }
  return kExitOk;
}

}  // namespace ktrail::app
