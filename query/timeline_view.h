// How `ktrail query timeline` reads audit rows for people: the node's own kubelet heartbeats
// told apart, and what a write of a Node or a Pod changed, in a few words. (One row per request
// is query/request_stages.h, shared with `query audit`.)
//
// - is_kubelet_heartbeat(): what the node's kubelet does every few seconds while all is well:
//   renewing its Lease, reading its Node, writing its nodes/status.
// - ChangeDescriber: reads rows in time order and says what each write changed, when the audit
//   event holds the object or the patch (level Request or RequestResponse): "taint
//   node.kubernetes.io/unreachable:NoExecute added", "cordoned", "uncordoned", "Ready=Unknown",
//   "bound to worker-1", "evicted", "deleted". A taint is "added" or "removed" against the
//   taints last seen in earlier rows; before any, the new list is named.
#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "storage/store.h"

namespace ktrail::query {

bool is_kubelet_heartbeat(const StoredAudit& row, const std::string& node);

// Whether the full event of `row` can tell more than its columns (a successful write of a Node,
// its status, or a pod binding, stored at level Request or RequestResponse): only those are
// worth reading.
bool change_needs_event(const StoredAudit& row);

class ChangeDescriber {
 public:
  // `row.event` is the audit event JSON when it was read (change_needs_event), else empty.
  // Returns "" when nothing can be said.
  std::string describe(const StoredAudit& row);

 private:
  struct NodeState {
    std::optional<std::set<std::string>> taints;  // "key:effect"
    std::optional<bool> unschedulable;
  };
  std::map<std::string, NodeState> nodes_;
};

// The node a pods/binding row bound its pod to ("" when the event does not say).
std::string binding_target(const StoredAudit& row);

}  // namespace ktrail::query
