// `ktrail query timeline`: audit events, Kubernetes Events and incidents merged in time order.
#include <boost/program_options.hpp>
#include <cstdio>
#include <functional>
#include <limits>
#include <iostream>
#include <set>

#include "app/cli.h"
#include "app/cluster_column.h"
#include "app/commands.h"
#include "app/audit_stream.h"
#include "app/finding_rows.h"
#include "app/query_args.h"
#include "app/row_output.h"
#include "app/shards.h"
#include "query/incident_table.h"
#include "query/output.h"
#include "query/request_stages.h"
#include "query/row_writer.h"
#include "query/timeline_stream.h"
#include "query/timeline_view.h"
#include "storage/store.h"

namespace ktrail::app {
namespace po = boost::program_options;
namespace {

// The row filters of the command line that the store does not apply itself.
struct RowFilters {
  std::optional<std::string> verb;
  std::set<std::string> excluded_users;
  bool events_only = false;  // --reason or --type: only Events have them
  bool audit_only = false;   // --verb or --user: only audit events have them
};

bool keep_audit(const StoredAudit& a, const RowFilters& f) {
  return !f.events_only && (!f.verb || a.verb == *f.verb) && f.excluded_users.count(a.user) == 0;
}

// The pods a node timeline follows: those of the node's Events (its kubelet reports on them)
// and of its incidents (evicted, drained), as "namespace/name".
std::set<std::string> pods_of_node(const std::vector<KubeEvent>& events,
                                   const std::vector<Incident>& incidents) {
  std::set<std::string> pods;
  for (const KubeEvent& e : events) {
    if (e.object.kind == "Pod" && !e.object.name.empty()) {
      pods.insert((e.object.namespace_.empty() ? e.namespace_ : e.object.namespace_) + "/" +
                  e.object.name);
    }
  }
  for (const Incident& i : incidents) {
    for (const std::string& o : i.objects) {
      if (o.find('/') != std::string::npos) {
        pods.insert(o);
      }
    }
  }
  return pods;
}

// Bindings, evictions and deletions of `pods` (bindings only when to `node`, as far as the
// audit event tells).
Result<std::vector<StoredAudit>> pod_lifecycle(ShardSet& shards, const std::set<std::string>& pods,
                                               const std::string& node, const AuditFilter& window) {
  std::vector<StoredAudit> out;
  if (pods.empty()) {
    return out;
  }
  AuditFilter f;
  f.clusters = window.clusters;
  f.since = window.since;
  f.until = window.until;
  f.resource = "pods";
  f.verbs = {"create", "delete"};  // bindings and evictions are creates
  for (const std::string& p : pods) {
    f.names.push_back(p.substr(p.find('/') + 1));
  }
  f.with_event = true;
  f.event_wanted = [](const StoredAudit& r) { return query::change_needs_event(r); };
  auto rows = shards.find_audit(f);
  if (!rows) {
    return rows.status();
  }
  // A binding to another node (a StatefulSet pod keeps its name) is left out at every stage.
  std::set<std::string> elsewhere;
  for (const StoredAudit& r : *rows) {
    if (r.subresource == "binding" && !r.event.empty()) {
      const std::string target = query::binding_target(r);
      if (!target.empty() && target != node) {
        elsewhere.insert(r.audit_id);
      }
    }
  }
  for (StoredAudit& r : *rows) {
    if (pods.count(r.namespace_ + "/" + r.name) == 0 || elsewhere.count(r.audit_id) > 0) {
      continue;
    }
    const bool binding = r.subresource == "binding" && r.verb == "create";
    const bool eviction = r.subresource == "eviction" && r.verb == "create";
    const bool deletion = r.subresource.empty() && r.verb == "delete";
    if (binding || eviction || deletion) {
      out.push_back(std::move(r));
    }
  }
  return out;
}

using Emit = std::function<Status(const query::TimelineRow&)>;
using Wanted = std::function<bool(const StoredAudit&)>;

// A timeline with a limit: every source's most recent `limit` rows are read, merged, and the
// most recent `limit` of them go out.
Status held_timeline(ShardSet& shards, const AuditFilter& audit, std::vector<StoredAudit> pods,
                     const Wanted& wanted, const std::vector<KubeEvent>& events,
                     const std::vector<Incident>& incidents, bool all_stages, bool events_only,
                     std::size_t limit, const std::vector<std::string>& paths, const Emit& emit) {
  std::vector<StoredAudit> a;
  if (!events_only) {
    auto found = shards.find_audit(audit);
    if (!found) {
      return found.status();
    }
    a = std::move(*found);
  }
  std::erase_if(a, [&](const StoredAudit& r) { return !wanted(r); });
  if (!pods.empty()) {
    a.insert(a.end(), std::make_move_iterator(pods.begin()), std::make_move_iterator(pods.end()));
    std::stable_sort(a.begin(), a.end(),
                     [](const StoredAudit& x, const StoredAudit& y) { return x.time < y.time; });
  }
  if (!all_stages) {
    a = query::one_row_per_request(std::move(a));
  }
  std::vector<std::string> changes;
  changes.reserve(a.size());
  query::ChangeDescriber describer;
  for (const StoredAudit& r : a) {
    changes.push_back(describer.describe(r));
  }
  auto rows = query::merge_timeline(a, events, incidents, limit, &changes);
  KTRAIL_RETURN_IF_ERROR(merge_findings_into_timeline(paths, audit, limit, &rows));
  for (const auto& r : rows) {
    KTRAIL_RETURN_IF_ERROR(emit(r));
  }
  return Status::ok();
}

// A whole timeline (--limit 0): the audit rows stream (app/audit_stream.h) and are merged with
// the others as they come (query/timeline_stream.h), so memory does not grow with them.
Status streamed_timeline(ShardSet& shards, const AuditFilter& audit, std::vector<StoredAudit> pods,
                         const Wanted& wanted, const std::vector<KubeEvent>& events,
                         const std::vector<Incident>& incidents, bool all_stages,
                         bool events_only, const std::vector<std::string>& paths,
                         const Emit& emit) {
  std::vector<query::TimelineRow> others = query::merge_timeline({}, events, incidents, 0);
  KTRAIL_RETURN_IF_ERROR(merge_findings_into_timeline(paths, audit, 0, &others));
  query::TimelineMerger merger(std::move(others), emit);
  if (!all_stages) {
    pods = query::one_row_per_request(std::move(pods));
  }
  // Rows of the node and of its pods go through the describer in time order (the node's
  // first at one time), as a held timeline sorts them.
  query::ChangeDescriber describer;
  std::size_t next_pod = 0;
  auto add = [&](const StoredAudit& r) {
    return merger.add_audit(query::audit_timeline_row(r, describer.describe(r)));
  };
  if (!events_only) {
    AuditStreamOptions options;
    options.last_stage_only = !all_stages;
    KTRAIL_RETURN_IF_ERROR(stream_audit(shards, audit, options, nullptr,
                                        [&](const StoredAudit& r) -> Status {
                                          if (!wanted(r)) {
                                            return Status::ok();
                                          }
                                          for (; next_pod < pods.size() &&
                                                 pods[next_pod].time < r.time;
                                               ++next_pod) {
                                            KTRAIL_RETURN_IF_ERROR(add(pods[next_pod]));
                                          }
                                          return add(r);
                                        }));
  }
  for (; next_pod < pods.size(); ++next_pod) {
    KTRAIL_RETURN_IF_ERROR(add(pods[next_pod]));
  }
  return merger.finish();
}

}  // namespace

int cmd_query_timeline(const Args& args) {
  std::vector<std::string> dbs;
  std::string output = "table";
  std::string since;
  std::string until;
  std::string stages = "last";
  std::vector<std::string> excluded_users;
  std::vector<std::string> clusters;
  std::int64_t limit = 200;
  po::options_description desc(
      "usage: ktrail query timeline [options]\n\n"
      "What happened, in time order: audit events, Kubernetes Events and incidents matching\n"
      "every given filter. --node: requests on the Node and its Lease, Events about it or from\n"
      "its kubelet, the bindings, evictions and deletions of its pods, its incidents; the\n"
      "kubelet's own heartbeats (Lease renewals, reads of its Node, nodes/status writes) are\n"
      "left out unless --all. --pod NAME or NAMESPACE/NAME. --user: that user's requests and the\n"
      "incidents they caused (Events name no user). Each request is one row (its last stage)\n"
      "unless --stages all; a write that changed a Node says what (taint added, cordoned,\n"
      "Ready=Unknown). Times are RFC 3339 or a duration back from now (90m, 2h, 7d).\n\noptions");
  desc.add_options()("help,h", "show this help")(
      "db", po::value(&dbs)->composing(),
      "store file, or a directory of *.db shards; repeat for several (default ./ktrail.db)")(
      "output,o", po::value(&output), kOutputHelp)(
      "node", po::value<std::string>(), "node name")("namespace,n", po::value<std::string>(),
                                                     "namespace")("pod", po::value<std::string>(),
                                                                  "pod name, or namespace/name")(
      "user", po::value<std::string>(), "user name (exact)")(
      "exclude-user", po::value(&excluded_users)->composing(),
      "leave out this user's requests (repeat for several)")(
      "verb", po::value<std::string>(), "only requests with this verb (get, patch, delete, ...)")(
      "reason", po::value<std::string>(), "only Events with this reason (NodeNotReady, ...)")(
      "type", po::value<std::string>(), "only Events of this type (Normal or Warning)")(
      "stages", po::value(&stages), kStagesHelp)(
      "all", "--node: also the kubelet's heartbeats")(
      "since", po::value(&since), "at or after this time")("until", po::value(&until),
                                                           "at or before this time")(
      "limit", po::value(&limit), "at most this many rows, the most recent (default 200, 0: all)");
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
  const auto all_stages_choice = query::parse_stages(stages);
  if (!all_stages_choice) {
    std::fprintf(stderr, "ktrail: %s\n", all_stages_choice.status().message().c_str());
    return kExitUsage;
  }
  const bool all_stages = *all_stages_choice;
  AuditFilter audit;
  KubeEventFilter events;
  IncidentFilter incidents;
  RowFilters rows_filter;
  rows_filter.excluded_users.insert(excluded_users.begin(), excluded_users.end());
  if (auto exit = parse_time_window(since, until, SystemClock().now(), &audit.since,
                                    &audit.until)) {
    return *exit;
  }
  audit.clusters = events.clusters = incidents.clusters = clusters;
  events.since = incidents.since = audit.since;
  events.until = incidents.until = audit.until;
  std::optional<std::string> ns;
  if (vm.count("namespace") > 0) {
    ns = vm["namespace"].as<std::string>();
  }
  std::optional<std::string> node;
  if (vm.count("node") > 0) {
    node = vm["node"].as<std::string>();
    audit.name = *node;  // the Node and its Lease; other resources are left out below
    events.node = *node;
    incidents.node = *node;
  }
  if (vm.count("pod") > 0) {
    std::string pod = vm["pod"].as<std::string>();
    const auto slash = pod.find('/');
    if (slash != std::string::npos) {
      ns = pod.substr(0, slash);
      pod = pod.substr(slash + 1);
    }
    if (pod.empty() || node) {
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
    rows_filter.audit_only = true;
  }
  if (vm.count("verb") > 0) {
    rows_filter.verb = vm["verb"].as<std::string>();
    rows_filter.audit_only = true;
  }
  if (vm.count("reason") > 0) {
    events.reason = vm["reason"].as<std::string>();
    rows_filter.events_only = true;
  }
  if (vm.count("type") > 0) {
    events.type = vm["type"].as<std::string>();
    rows_filter.events_only = true;
  }
  const bool with_events = !rows_filter.audit_only;
  const bool with_incidents = !rows_filter.events_only && !rows_filter.verb;
  const bool heartbeats = vm.count("all") > 0 || !node;
  events.limit = incidents.limit = static_cast<std::size_t>(limit);
  // Audit rows are thinned after the search (one per request, heartbeats, verbs): a node
  // timeline reads them all; others read enough for `limit` requests of up to four stages.
  audit.limit = node ? 0 : static_cast<std::size_t>(limit) * (all_stages ? 1 : 4);
  if (!node) {
    // The URI of a request for no resource (/healthz) is only in its event.
    audit.with_event = true;
    audit.events_of_non_resource_only = true;
  } else {
    audit.with_event = true;
    const std::string n = *node;
    audit.event_wanted = [n, heartbeats](const StoredAudit& r) {
      return query::change_needs_event(r) && (heartbeats || !query::is_kubelet_heartbeat(r, n));
    };
  }

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
  auto fail = [](const Status& s) {
    std::fprintf(stderr, "ktrail: %s\n", s.message().c_str());
    return kExitFailure;
  };
  std::vector<KubeEvent> e;
  if (with_events) {
    auto found = shards->find_kube_events(events);
    if (!found) {
      return fail(found.status());
    }
    e = std::move(*found);
  }
  std::vector<Incident> i;
  if (with_incidents || node) {
    auto found = shards->find_incidents(incidents);
    if (!found) {
      return fail(found.status());
    }
    i = std::move(*found);
  }
  // A node timeline also shows the bindings, evictions and deletions of its pods.
  std::vector<StoredAudit> pods;
  if (node && !rows_filter.events_only) {
    // The node's Events are read unfiltered for this, so that a --verb or --user timeline
    // still follows the same pods.
    const std::vector<KubeEvent>* node_events = &e;
    std::vector<KubeEvent> all_events;
    if (!with_events || events.reason || events.type) {
      KubeEventFilter all = events;
      all.reason.reset();
      all.type.reset();
      all.limit = 0;
      auto found = shards->find_kube_events(all);
      if (!found) {
        return fail(found.status());
      }
      all_events = std::move(*found);
      node_events = &all_events;
    }
    auto found = pod_lifecycle(*shards, pods_of_node(*node_events, i),
                               *node, audit);
    if (!found) {
      return fail(found.status());
    }
    pods = std::move(*found);
    std::erase_if(pods, [&](const StoredAudit& r) {
      return (audit.user && r.user != *audit.user) || !keep_audit(r, rows_filter);
    });
  }
  if (node && !with_incidents) {
    i.clear();
  }
  // The audit rows shown: a node timeline keeps the Node and its Lease (its pods come apart).
  auto wanted = [&](const StoredAudit& r) {
    if (node && ((r.resource != "nodes" && r.resource != "leases") ||
                 (!heartbeats && query::is_kubelet_heartbeat(r, *node)))) {
      return false;
    }
    return keep_audit(r, rows_filter);
  };

  const query::OutputFormat shape = query::table_shape(format);
  // -o name: each row named as the command that lists its kind names it.
  const bool names = format == query::OutputFormat::kName;
  query::RowWriterOptions layout = output_options(output, format, {"", "source", {"id"}});
  if (limit > 0) {
    // The answer is held (at most `limit` rows): every row measures the table.
    layout.measure_rows = std::numeric_limits<std::size_t>::max();
  }
  RowOutput out(format, names ? query::timeline_name_columns() : query::timeline_columns(shape),
                show_cluster_column(*shards), layout);
  auto emit = [&](const query::TimelineRow& r) {
    return out.add(names ? query::timeline_name_row(r) : query::timeline_row(r, shape), r.cluster);
  };
  return out.finish(limit > 0 ? held_timeline(*shards, audit, std::move(pods), wanted, e, i,
                                               all_stages, rows_filter.events_only,
                                               static_cast<std::size_t>(limit), *paths, emit)
                              : streamed_timeline(*shards, audit, std::move(pods), wanted, e, i,
                                                  all_stages, rows_filter.events_only, *paths,
                                                  emit));
}

}  // namespace ktrail::app
