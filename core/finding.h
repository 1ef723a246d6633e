// A finding: one detection rule that matched one audit event.
//
// A finding is identified by (rule, auditID, stage): the same event seen again (an apiserver
// retry, a replayed file) yields the same finding, and the store keeps it once. It carries the
// event's identity columns (user, impersonated user, namespace, resource, name, time) so that
// listings and reports need not decode the event, and the rule's formatted output and tags.
// Findings are built from the event as received, then redacted like stored events.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/audit_event.h"
#include "core/time.h"

namespace ktrail {

struct Finding {
  std::int64_t id = 0;   // assigned by the store; 0 before it is stored
  // Read back from a store: the cluster of its event. Written, the batch's cluster applies.
  std::string cluster = "default";
  std::string rule;      // the rule's name
  std::string priority;  // Falco's priority names: EMERGENCY .. DEBUG (upper case)
  std::string audit_id;
  Stage stage = Stage::kResponseComplete;
  Micros time = 0;  // the event's stageTimestamp, microseconds since the epoch
  std::string user;
  std::string impersonated_user;
  std::string namespace_;
  std::string resource;
  std::string name;
  std::string output;  // the rule's output with its %fields filled in
  std::vector<std::string> tags;
};

// Falco's priorities, most severe first: 0 EMERGENCY, 1 ALERT, 2 CRITICAL, 3 ERROR, 4 WARNING,
// 5 NOTICE, 6 INFORMATIONAL, 7 DEBUG. -1 for a name that is none of them. Case-insensitive;
// "INFO" is accepted for INFORMATIONAL, as Falco does.
int priority_rank(std::string_view name);
// The canonical (upper-case) name of rank 0..7.
const char* priority_name(int rank);

}  // namespace ktrail
