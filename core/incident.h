// An incident: what correlation makes of many raw signals (audit events and Kubernetes Events)
// about one node or one workload. It has a kind, a key (the node or namespace/workload it is
// about), a start and, once it is over, an end; the objects it affected; and the member events
// that justify it, each pointing back at a stored audit event (audit ID) or Event (uid).
//
// Incident IDs are derived from kind, key and start, so correlating the same input again (a
// replay, or a rebuild after a restart) yields the same IDs and the store upserts in place.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/time.h"

namespace ktrail {

enum class IncidentKind : std::uint8_t {
  kNodeNotReady,
  kRestartStorm,
  kNodeDrain,
  kImagePullFailure,
  kSchedulingFailure,
};

// "node-not-ready", "restart-storm", "node-drain", "image-pull-failure", "scheduling-failure".
const char* to_string(IncidentKind kind);
std::optional<IncidentKind> parse_incident_kind(std::string_view text);

enum class MemberSource : std::uint8_t { kAudit, kEvent };
const char* to_string(MemberSource source);

struct IncidentMember {
  Micros time = 0;
  MemberSource source = MemberSource::kEvent;
  std::string ref;     // audit ID (source audit) or Event uid (source event)
  std::string reason;  // the Event reason, or the audit verb (with subresource: "create eviction")
  std::string object;  // "Node/worker-3", "Pod/shop/checkout-7d9f8b6c5-x2x9z"
  std::string message;
};

struct Incident {
  std::string id;
  std::string cluster = "default";  // core/cluster.h: correlation never crosses clusters
  IncidentKind kind = IncidentKind::kNodeNotReady;
  std::string key;  // "node/<name>" or "<namespace>/<workload>"
  std::string title;
  Micros start = 0;
  std::optional<Micros> end;  // absent while open
  std::string node;
  std::string namespace_;
  std::string workload;       // e.g. "checkout"
  std::string workload_kind;  // e.g. "Deployment"
  std::string actor;          // the user who caused it (drains)
  std::string cause;          // restart-storm: liveness-probe, oom-killed, non-zero-exit, ...
  std::vector<std::string> objects;       // affected pods, "namespace/name", sorted
  std::vector<std::string> replacements;  // node-not-ready: "ns/new-pod -> node" for evictions
  std::vector<IncidentMember> members;    // time-ordered
  std::int64_t count = 0;                 // member events

  bool open() const { return !end.has_value(); }
};

// A stable ID: "<kind>-<16 hex digits of a hash of kind, key and start>", and of the cluster
// when it is not the default one (so the IDs of a store older than clusters stay the same).
std::string make_incident_id(IncidentKind kind, const std::string& key, Micros start,
                             std::string_view cluster = "default");

}  // namespace ktrail
