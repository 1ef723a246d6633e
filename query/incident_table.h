// The result tables of `ktrail incidents list|show` and `ktrail query timeline`.
//
// Incident JSON keys (stable): id, kind, title, start, end (null while open), node, namespace,
// workload, workloadKind, actor, cause, objects (affected pods "namespace/name"), replacements
// (node-not-ready: "namespace/pod -> node"), count (member events). `show` adds members, each
// with time, source (audit or event), reason (the Event reason, or the audit verb), object,
// message and ref (auditID or Event uid).
//
// Timeline JSON keys (stable): time, source (audit, event or incident), what (verb, reason or
// incident kind), object, user, namespace, message, ref.
#pragma once

#include <vector>

#include "core/incident.h"
#include "core/kube_event.h"
#include "query/output.h"
#include "storage/store.h"

namespace ktrail::query {

Table incidents_table(const std::vector<Incident>& incidents, OutputFormat format);
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
};

// Merges audit events, Events and incidents into one time-ordered list (ties: audit, then
// event, then incident, then ref), keeping the `limit` most recent when limit > 0.
std::vector<TimelineRow> merge_timeline(const std::vector<StoredAudit>& audit,
                                        const std::vector<KubeEvent>& events,
                                        const std::vector<Incident>& incidents, std::size_t limit);
Table timeline_table(const std::vector<TimelineRow>& rows, OutputFormat format);

}  // namespace ktrail::query
