// `ktrail query events`: stored Kubernetes Events, like `kubectl get events` over history.
#include <boost/program_options.hpp>
#include <cstdio>
#include <iostream>

#include "app/cli.h"
#include "app/cluster_column.h"
#include "app/commands.h"
#include "app/query_args.h"
#include "app/shards.h"
#include "query/event_table.h"
#include "query/output.h"
#include "storage/store.h"

namespace ktrail::app {
namespace po = boost::program_options;

int cmd_query_events(const Args& args) {
  std::vector<std::string> dbs;
  std::string output = "table";
  std::string since;
  std::string until;
  std::string object;
  std::int64_t limit = 500;
  KubeEventFilter filter;
  std::vector<std::string> clusters;
  po::options_description desc(
      "usage: ktrail query events [options]\n\n"
      "Kubernetes Events matching every given filter, oldest last observation first; --limit\n"
      "keeps the most recent. An Event belongs to a time range when it was seen in it (from\n"
      "its first to its last observation). Times are RFC 3339 or a duration back from now\n"
      "(90m, 2h, 7d).\n\noptions");
  desc.add_options()("help,h", "show this help")(
      "db", po::value(&dbs)->composing(),
      "store file, or a directory of *.db shards; repeat for several (default ./ktrail.db)")(
      "output,o", po::value(&output), kOutputHelp)(
      "namespace,n", po::value<std::string>(), "namespace of the involved object")(
      "object", po::value(&object),
      "involved object: KIND/NAME (node/worker-3, Pod/web-0; kind in any case) or NAME")(
      "reason", po::value<std::string>(), "reason (exact: NodeNotReady, BackOff, ...)")(
      "type", po::value<std::string>(), "Normal or Warning")(
      "since", po::value(&since), "seen at or after this time")("until", po::value(&until),
                                                                "seen at or before this time")(
      "limit", po::value(&limit),
      "at most this many Events, the most recent (default 500, 0: all)");
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
  if (auto exit = parse_time_window(since, until, SystemClock().now(), &filter.since,
                                    &filter.until)) {
    return *exit;
  }
  if (vm.count("object") > 0) {
    const auto slash = object.find('/');
    const std::string name = slash == std::string::npos ? object : object.substr(slash + 1);
    if (name.empty() || name.find('/') != std::string::npos || slash == 0) {
      std::fprintf(stderr,
                   "ktrail: --object: expected KIND/NAME or NAME, got '%s' (the namespace goes in "
                   "--namespace)\n",
                   object.c_str());
      return kExitUsage;
    }
    filter.object_name = name;
    if (slash != std::string::npos) {
      filter.object_kind = object.substr(0, slash);
    }
  }
  if (vm.count("namespace") > 0) {
    filter.namespace_ = vm["namespace"].as<std::string>();
  }
  if (vm.count("reason") > 0) {
    filter.reason = vm["reason"].as<std::string>();
  }
  if (vm.count("type") > 0) {
    filter.type = vm["type"].as<std::string>();
  }
  filter.limit = static_cast<std::size_t>(limit);
  filter.clusters = clusters;

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
  auto events = shards->find_kube_events(filter);
  if (!events) {
    std::fprintf(stderr, "ktrail: %s\n", events.status().message().c_str());
    return kExitFailure;
  }
  query::Table table = query::events_table(*events, query::table_shape(format));
  if (show_cluster_column(*shards)) {
    std::vector<std::string> of;
    for (const auto& e : *events) {
      of.push_back(e.cluster);
    }
    insert_cluster_column(&table, of);
  }
  query::render(table, format, std::cout,
                output_options(output, format, {"event", "", {"namespace", "name"}}));
  return kExitOk;
}

}  // namespace ktrail::app
