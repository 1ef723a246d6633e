// The result tables of `ktrail incidents list|show` and `ktrail query timeline`.
//
// Incident JSON keys (stable): id, kind, title, start, end (null while open), node, namespace,
// workload, workloadKind, actor, cause, objects (affected pods "namespace/name"), replacements
// (node-not-ready: "namespace/pod -> node"), count (member events). `show` adds members, each
// with time, source (audit or event), reason (the Event reason, or the audit verb), object,
// message and ref (auditID or Event uid).
//
// Timeline JSON keys (stable): time, source (audit, event or incident), what (verb, reason or
// incident kind), object, user, namespace, message, ref; then stage (audit: the stage shown),
// code (audit: the response code), change (audit: what the write changed, query/timeline_view.h)
// and type (event: Normal or Warning); each null where it does not apply. An audit row's message
// is its change and code ("cordoned (code 200)"), or the code alone; its object is
// resource/subresource/name, or the URI of a request for no resource (/healthz).
#pragma once

#include <vector>

#include "core/incident.h"
#include "core/kube_event.h"
#include "query/output.h"
#include "storage/store.h"

namespace ktrail::query {

Table incidents_table(const std::vector<Incident>& incidents, OutputFormat format);
// The columns of incidents_table, and one incident's row (to stream them).
std::vector<Column> incident_columns(OutputFormat format);
std::vector<Value> incident_row(const Incident& incident, OutputFormat format);
Table members_table(const Incident& incident);
// `incident` with its members as one JSON object (the document of `incidents show -o json`).
std::string incident_json(const Incident& incident);

struct TimelineRow {
  Micros time = 0;
  std::string source;
  std::string what;
  std::string object;
  std::string user;
  std::string namespace_;
  std::string message;
  std::string ref;
  // Added later: default-initialized, so rows built without them stay valid.
  std::string stage = {};
  int code = 0;
  std::string change = {};
  std::string type = {};
  std::string cluster = "default";  // core/cluster.h; the CLUSTER column when several
  // The id `-o name` shows when it is not the ref: an Event's namespace/name (as `query events`
  // names it), a finding's id (as `findings list` names it).
  std::string name = {};
};

// Merges audit events, Events and incidents into one time-ordered list (ties: audit, then
// event, then incident, then ref, then the order given), keeping the `limit` most recent when
// limit > 0. `changes`, when given, holds what each audit row changed (same order as `audit`).
std::vector<TimelineRow> merge_timeline(const std::vector<StoredAudit>& audit,
                                        const std::vector<KubeEvent>& events,
                                        const std::vector<Incident>& incidents, std::size_t limit,
                                        const std::vector<std::string>* changes = nullptr);
// The order of merge_timeline: (time, audit < event < incident, ref).
bool timeline_before(const TimelineRow& a, const TimelineRow& b);
// One row of each source, as merge_timeline makes them (`change`: what the write changed).
TimelineRow audit_timeline_row(const StoredAudit& audit, const std::string& change);
TimelineRow event_timeline_row(const KubeEvent& event);
TimelineRow incident_timeline_row(const Incident& incident);

Table timeline_table(const std::vector<TimelineRow>& rows, OutputFormat format);
// The columns of timeline_table, and one row's values (to stream them).
std::vector<Column> timeline_columns(OutputFormat format);
std::vector<Value> timeline_row(const TimelineRow& row, OutputFormat format);
// What `-o name` writes of a timeline row: `source/id`, the id as every command names its rows
// (audit/<auditID>, event/<namespace>/<name>, incident/<id>, finding/<id>): the columns source
// and id (RowNames {"", "source", {"id"}}), and one row's values.
std::vector<Column> timeline_name_columns();
std::vector<Value> timeline_name_row(const TimelineRow& row);

}  // namespace ktrail::query
