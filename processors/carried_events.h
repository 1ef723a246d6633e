// Kubernetes Events carried inside audit events. When a kubelet or a controller records an Event,
// the apiserver audits the create, update or patch of `events` (core/v1 or events.k8s.io/v1),
// and at level Request or RequestResponse the audit event holds the Event itself: the whole
// object (the request of a create or update, the response of any write), or for a
// Request-level patch only what changed (count, lastTimestamp, series, message).
//
// CarriedEvents is the one place that reads them, for correlation (processors/correlate) and for
// the store (CarriedEventsProcessor below), so both see the same Event.
//
// Contract:
// - extract() decodes the Event an audit event carries. A body-less patch is applied to the Event
//   as last seen by this instance (by namespace/name); without one it yields nothing. The Event
//   is marked `carried` and keeps the uid it had in the body, which a create's request lacks (the
//   store then identifies it by namespace/name, storage/store.h).
// - Memory is bounded: past `max_bodies` remembered Events, all are forgotten.
#pragma once

#include <rapidjson/document.h>

#include <cstddef>
#include <map>
#include <string>
#include <unordered_map>

#include "core/audit_event.h"
#include "core/kube_event.h"
#include "processors/processor.h"

namespace ktrail {

class CarriedEvents {
 public:
  explicit CarriedEvents(std::size_t max_bodies = 1'000'000) : max_bodies_(max_bodies) {}

  // False for audit events that cannot carry an Event (a cheap test on decoded fields): not a
  // successful create/update/patch of events at ResponseComplete, or no request or response
  // object (Metadata level).
  static bool may_carry(const AuditEvent& audit);

  // The Event `audit` carries, given its parsed requestObject and responseObject (either may be
  // null). False when it carries none that can be used.
  bool extract(const AuditEvent& audit, const rapidjson::Value* request,
               const rapidjson::Value* response, KubeEvent* out);
  // The same, parsing `audit.json`.
  bool extract(const AuditEvent& audit, KubeEvent* out);

  void forget() { bodies_.clear(); }

 private:
  std::size_t max_bodies_;
  std::unordered_map<std::string, KubeEvent> bodies_;  // "namespace/name" -> last seen
};

// The stage that stores carried Events as Events: each one is appended to `batch.events`,
// marked `carried`, so the store upserts it with the same identity as the same Event arriving
// on /events (one row). Carried Events are not received items: the store does not count them,
// and correlation reads them from the audit event itself. It drops nothing.
// The Events seen are remembered per cluster (core/cluster.h): a namesake Event of another
// cluster is another Event.
class CarriedEventsProcessor final : public Processor {
 public:
  void process(Batch& batch, BatchOutcome& outcome) override;
  // For a restart (app/correlation_restore.h): reads an audit event of `cluster` stored before
  // it, so that a later body-less patch of the Event it carries still applies. Adds nothing to
  // any batch.
  void remember(const AuditEvent& audit, const std::string& cluster = "default");

 private:
  std::map<std::string, CarriedEvents> by_cluster_;
};

}  // namespace ktrail
