// The result table of `ktrail query events`: stored Kubernetes Events, like `kubectl get events`
// but over the store's history, ready for query/output.h.
//
// JSON keys (stable): lastTimestamp, firstTimestamp (RFC 3339, microseconds), count, type,
// reason, object ("Kind/name"), objectKind, objectNamespace, objectName, objectUID, message,
// sourceComponent, sourceHost, namespace and name (of the Event object), uid (the store's
// identity: the Event's uid, or "NAMESPACE/NAME" for one that came without). Absent values
// are null. The table format shows LAST SEEN, TYPE, REASON, OBJECT, COUNT, NAMESPACE, MESSAGE.
#pragma once

#include <vector>

#include "core/kube_event.h"
#include "query/output.h"

namespace ktrail::query {

Table events_table(const std::vector<KubeEvent>& events, OutputFormat format);

}  // namespace ktrail::query
