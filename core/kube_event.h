// A Kubernetes Event (core/v1 or events.k8s.io/v1) as ktrail carries it: the fields that
// correlation and queries use, normalised across the two API versions, plus the object as
// compact JSON. `uid` identifies the Event object; an Event updated in place (higher count,
// new lastTimestamp) keeps its uid and replaces the earlier record.
#pragma once

#include <cstdint>
#include <string>

#include "core/time.h"

namespace ktrail {

struct InvolvedObject {
  std::string kind;
  std::string namespace_;
  std::string name;
  std::string uid;
  std::string api_version;
  std::string field_path;
};

struct KubeEvent {
  std::string uid;
  std::string namespace_;  // the Event object's namespace
  std::string name;        // the Event object's name
  InvolvedObject object;   // involvedObject (core/v1) or regarding (events.k8s.io/v1)
  std::string reason;
  std::string message;  // message (core/v1) or note (events.k8s.io/v1)
  std::string type;     // Normal or Warning
  std::string source_component;
  std::string source_host;
  Micros first_time = 0;  // firstTimestamp, or eventTime / series start
  Micros last_time = 0;   // lastTimestamp, or series.lastObservedTime, or eventTime
  std::int64_t count = 1;

  // events.k8s.io/v1 names (also present, often empty, on core/v1 Events).
  std::string reporting_controller;
  std::string reporting_instance;
  std::string action;
  std::string api_version;  // "v1" or "events.k8s.io/v1"
  bool deleted = false;     // arrived as a watch DELETED line
  // Decoded from an audit event that carried it (processors/carried_events.h), not received as
  // an Event: stored, but not counted as a received item. Read back from a store, set when the
  // Event was never received as an Event.
  bool carried = false;
  // Read back from a store: the cluster it came from. Written, the batch's cluster applies.
  std::string cluster = "default";

  std::string json;
};

}  // namespace ktrail
