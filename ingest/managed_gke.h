// GKE's Cloud Audit Logs entries as audit.k8s.io/v1 Events (docs/managed-clusters.md, "GKE").
//
// Contract: `entry` is one Cloud Logging LogEntry whose protoPayload is an AuditLog of service
// k8s.io. On success `out` holds one Event as compact JSON; otherwise the reason is returned.
// What the entry does not carry (groups, extra, impersonation, the exact request URI and HTTP
// code) is reconstructed where Kubernetes' own conventions allow and left out otherwise.
#pragma once

#include <rapidjson/document.h>

#include <string>

#include "core/status.h"

namespace ktrail::ingest {

Status convert_gke_entry(const rapidjson::Value& entry, std::string* out);

// The HTTP status Google's APIs pair with a google.rpc.Code (0 OK -> 200, 7 PERMISSION_DENIED ->
// 403, ...); 500 for a code outside 0..16.
int http_status_of_rpc_code(int code);

}  // namespace ktrail::ingest
