// `ktrail incidents list` and `ktrail incidents show ID`: the incidents correlation stored.
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <boost/program_options.hpp>
#include <cstdio>
#include <iostream>

#include "app/cli.h"
#include "app/cluster_column.h"
#include "app/commands.h"
#include "app/query_args.h"
#include "app/row_output.h"
#include "app/shards.h"
#include "query/incident_table.h"
#include "query/output.h"
#include "storage/store.h"

namespace ktrail::app {
namespace po = boost::program_options;
namespace {

constexpr const char* kDbHelp =
    "store file, or a directory of *.db shards; repeat for several (default ./ktrail.db)";

// The shards named by --db (all of them read-only), merged as app/shards.h says.
Result<ShardSet> open_readers(const std::vector<std::string>& dbs) {
  auto paths = expand_db_paths(dbs.empty() ? std::vector<std::string>{"./ktrail.db"} : dbs);
  if (!paths) {
    return paths.status();
  }
  StoreOptions options;
  options.read_only = true;
  options.cache_mib = 16;
  return ShardSet::open(*paths, options);
}

}  // namespace

int cmd_incidents_list(const Args& args) {
  std::vector<std::string> dbs;
  std::string output = "table";
  std::string kind;
  std::string since;
  std::string until;
  std::int64_t limit = 0;
  std::vector<std::string> clusters;
  po::options_description desc(
      "usage: ktrail incidents list [options]\n\n"
      "Incidents, oldest start first. Times are RFC 3339 or a duration back from now.\n\n"
      "options");
  desc.add_options()("help,h", "show this help")("db", po::value(&dbs)->composing(), kDbHelp)(
      "output,o", po::value(&output), kOutputHelp)(
      "kind", po::value(&kind),
      "node-not-ready, restart-storm, node-drain, image-pull-failure or scheduling-failure")(
      "open", "only incidents still open")("since", po::value(&since),
                                           "incidents going on at or after this time")(
      "until", po::value(&until), "incidents that started at or before this time")(
      "node", po::value<std::string>(), "incidents of this node")(
      "namespace,n", po::value<std::string>(), "incidents in or touching this namespace")(
      "limit", po::value(&limit), "at most this many, the most recent (default 0: all)");
  add_cluster_option(&desc, &clusters);
  po::variables_map vm;
  const po::positional_options_description no_positional;
  query::OutputFormat format{};
  if (auto exit = parse_query_args(args, {&desc, &desc, &no_positional}, output, &vm, &format)) {
    return *exit;
  }
  IncidentFilter filter;
  filter.clusters = clusters;
  if (!kind.empty()) {
    filter.kind = parse_incident_kind(kind);
    if (!filter.kind) {
      std::fprintf(stderr,
                   "ktrail: --kind: unknown kind '%s' (node-not-ready, restart-storm, "
                   "node-drain, image-pull-failure, scheduling-failure)\n",
                   kind.c_str());
      return kExitUsage;
    }
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
  filter.open_only = vm.count("open") > 0;
  if (vm.count("node") > 0) {
    filter.node = vm["node"].as<std::string>();
  }
  if (vm.count("namespace") > 0) {
    filter.namespace_ = vm["namespace"].as<std::string>();
  }
  auto shards = open_readers(dbs);
  if (!shards) {
    std::fprintf(stderr, "ktrail: %s\n", shards.status().message().c_str());
    return kExitFailure;
  }
  // Rows go out as they are read: with --limit 0, memory holds a page of each shard.
  const query::OutputFormat shape = query::table_shape(format);
  RowOutput out(format, query::incident_columns(shape), show_cluster_column(*shards),
                output_options(output, format, {"incident", "", {"id"}}));
  return out.finish(shards->each_incident(
      filter, [&](const Incident& i) { return out.add(query::incident_row(i, shape), i.cluster); }));
}

int cmd_incidents_show(const Args& args) {
  std::vector<std::string> dbs;
  std::string output = "table";
  std::string id;
  po::options_description desc(
      "usage: ktrail incidents show ID [options]\n\n"
      "One incident and its member events (audit events and Kubernetes Events), in time "
      "order.\n\noptions");
  desc.add_options()("help,h", "show this help")("db", po::value(&dbs)->composing(), kDbHelp)(
      "output,o", po::value(&output),
      "table (default), json, jsonl, yaml, csv (the members), name or jsonpath=TEMPLATE (on the "
      "incident's json object)")(
      "id", po::value(&id), "incident id (from incidents list)");
  po::variables_map vm;
  po::positional_options_description by_id;
  by_id.add("id", 1);
  query::OutputFormat format{};
  if (auto exit = parse_query_args(args, {&desc, &desc, &by_id}, output, &vm, &format)) {
    return *exit;
  }
  if (id.empty()) {
    std::fprintf(stderr, "ktrail: incidents show needs an incident ID\n");
    return kExitUsage;
  }
  auto shards = open_readers(dbs);
  if (!shards) {
    std::fprintf(stderr, "ktrail: %s\n", shards.status().message().c_str());
    return kExitFailure;
  }
  auto incident = shards->get_incident(id);
  if (!incident) {
    std::fprintf(stderr, "ktrail: %s\n", incident.status().message().c_str());
    return kExitFailure;
  }
  switch (format) {
    case query::OutputFormat::kName:
      std::cout << "incident/" << incident->id << "\n";
      break;
    case query::OutputFormat::kJsonPath: {
      rapidjson::Document d;
      const std::string json = query::incident_json(*incident);
      std::string text;
      if (d.Parse(json.c_str()).HasParseError()) {
        std::fprintf(stderr, "ktrail: the incident's JSON does not parse\n");
        return kExitFailure;
      }
      output_options(output, format, {}).jsonpath->execute(d, &text);
      std::cout << text;
      break;
    }
    case query::OutputFormat::kJson:
    case query::OutputFormat::kYaml:  // the JSON document is YAML (flow style) as it is
      std::cout << query::incident_json(*incident) << "\n";
      break;
    case query::OutputFormat::kJsonl: {
      std::string line = query::incident_json(*incident);
      rapidjson::Document d;
      if (!d.Parse(line.c_str()).HasParseError()) {
        rapidjson::StringBuffer b;
        rapidjson::Writer<rapidjson::StringBuffer> w(b);
        d.Accept(w);
        line.assign(b.GetString(), b.GetSize());
      }
      std::cout << line << "\n";
      break;
    }
    case query::OutputFormat::kCsv:
      query::render(query::members_table(*incident), format, std::cout);
      break;
    case query::OutputFormat::kTable:
    case query::OutputFormat::kWide: {
      const Incident& i = *incident;
      std::cout << "ID:       " << i.id << "\nKind:     " << to_string(i.kind)
                << "\nTitle:    " << i.title << "\nStart:    " << format_rfc3339(i.start)
                << "\nEnd:      " << (i.end ? format_rfc3339(*i.end) : "(open)") << "\n";
      auto line = [](const char* label, const std::string& value) {
        if (!value.empty()) {
          std::cout << label << value << "\n";
        }
      };
      line("Node:     ", i.node);
      line("Workload: ",
           i.workload.empty() ? "" : i.workload_kind + " " + i.namespace_ + "/" + i.workload);
      line("Actor:    ", i.actor);
      line("Cause:    ", i.cause);
      for (const auto& o : i.objects) {
        line("Object:   ", o);
      }
      for (const auto& r : i.replacements) {
        line("Replaced: ", r);
      }
      std::cout << "Members:  " << i.members.size() << "\n\n";
      query::render(query::members_table(i), format, std::cout,
                    format == query::OutputFormat::kTable ? query::terminal_width() : 0);
      break;
    }
  }
  return kExitOk;
}

}  // namespace ktrail::app
