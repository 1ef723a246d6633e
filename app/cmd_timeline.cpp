// `ktrail query timeline`: audit events, Kubernetes Events and incidents merged in time order.
#include <boost/program_options.hpp>
#include <cstdio>
#include <iostream>

#include "app/cli.h"
#include "app/commands.h"
#include "app/finding_rows.h"
#include "app/query_args.h"
#include "app/shards.h"
#include "query/incident_table.h"
#include "query/output.h"
#include "storage/store.h"

namespace ktrail::app {
namespace po = boost::program_options;

int cmd_query_timeline(const Args& args) {
  std::vector<std::string> dbs;
  std::string output = "table";
  std::string since;
  std::string until;
  std::int64_t limit = 200;
  po::options_description desc(
      "usage: ktrail query timeline [options]\n\n"
      "What happened, in time order: audit events, Kubernetes Events and incidents matching\n"
      "every given filter. --node: requests on the Node, Events about it or from its kubelet,\n"
      "its incidents. --pod NAME or NAMESPACE/NAME. --user: that user's requests and the\n"
      "incidents they caused (Events name no user). Times are RFC 3339 or a duration back\n"
      "from now (90m, 2h, 7d).\n\noptions");
  desc.add_options()("help,h", "show this help")(
      "db", po::value(&dbs)->composing(),
      "store file, or a directory of *.db shards; repeat for several (default ./ktrail.db)")(
      "output,o", po::value(&output), "table (default), json or csv")(
      "node", po::value<std::string>(), "node name")("namespace,n", po::value<std::string>(),
                                                     "namespace")("pod", po::value<std::string>(),
                                                                  "pod name, or namespace/name")(
      "user", po::value<std::string>(), "user name (exact)")(
      "since", po::value(&since), "at or after this time")("until", po::value(&until),
                                                           "at or before this time")(
      "limit", po::value(&limit), "at most this many rows, the most recent (default 200, 0: all)");
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
  AuditFilter audit;
  KubeEventFilter events;
  IncidentFilter incidents;
  if (auto exit = parse_time_window(since, until, SystemClock().now(), &audit.since,
                                    &audit.until)) {
    return *exit;
  }
  events.since = incidents.since = audit.since;
  events.until = incidents.until = audit.until;
  std::optional<std::string> ns;
  if (vm.count("namespace") > 0) {
    ns = vm["namespace"].as<std::string>();
  }
  bool with_events = true;
  if (vm.count("node") > 0) {
    const std::string node = vm["node"].as<std::string>();
    audit.resource = "nodes";
    audit.name = node;
    events.node = node;
    incidents.node = node;
  }
  if (vm.count("pod") > 0) {
    std::string pod = vm["pod"].as<std::string>();
    const auto slash = pod.find('/');
    if (slash != std::string::npos) {
      ns = pod.substr(0, slash);
      pod = pod.substr(slash + 1);
    }
    if (pod.empty() || audit.resource) {
      std::fprintf(stderr, "ktrail: --pod needs a pod name, and does not combine with --node\n");
      return kExitUsage;
    }
    audit.resource = "pods";
    audit.name = pod;
    events.object_name = pod;
    incidents.pod = ns ? *ns + "/" + pod : pod;
  }
  if (ns) {
    audit.namespace_ = *ns;
    events.namespace_ = *ns;
    if (!incidents.pod) {
      incidents.namespace_ = *ns;
    }
  }
  if (vm.count("user") > 0) {
    audit.user = vm["user"].as<std::string>();
    incidents.actor = audit.user;
    with_events = false;
  }
  audit.limit = events.limit = incidents.limit = static_cast<std::size_t>(limit);

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
  auto a = shards->find_audit(audit);
  if (!a) {
    std::fprintf(stderr, "ktrail: %s\n", a.status().message().c_str());
    return kExitFailure;
  }
  std::vector<KubeEvent> e;
  if (with_events) {
    auto found = shards->find_kube_events(events);
    if (!found) {
      std::fprintf(stderr, "ktrail: %s\n", found.status().message().c_str());
      return kExitFailure;
    }
    e = std::move(*found);
  }
  auto i = shards->find_incidents(incidents);
  if (!i) {
    std::fprintf(stderr, "ktrail: %s\n", i.status().message().c_str());
    return kExitFailure;
  }
  auto rows = query::merge_timeline(*a, e, *i, static_cast<std::size_t>(limit));
  if (Status s = merge_findings_into_timeline(*paths, audit, static_cast<std::size_t>(limit), &rows);
      !s.is_ok()) {
    std::fprintf(stderr, "ktrail: %s\n", s.message().c_str());
    return kExitFailure;
  }
  query::render(query::timeline_table(rows, format), format, std::cout);
  return kExitOk;
}

}  // namespace ktrail::app
