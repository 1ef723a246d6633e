// Message keys of the Kafka topics: which partition an audit event or a Kubernetes Event
// lands in. Kafka keeps one key in one partition, and the process role keeps correlator state
// per partition, so the key decides what the correlator sees together. docs/kafka.md explains
// the choice and its trade-offs; the rules, in order:
//
//  - `actor/<user>`: nodes writes and pods/eviction creates by a user who is not a system
//    component. A drain (cordon, evictions, uncordon) is one person's actions.
//  - `node/<name>`: any other audit event on nodes (status, taints), Kubernetes Events about a
//    Node. A node's health signals stay together.
//  - `workload/<namespace>/<owner>`: audit events on pods and Events about Pods, ReplicaSets,
//    Deployments, StatefulSets, DaemonSets, Jobs; the owner is derived from the pod name the way
//    controllers generate it. A workload's pods (restart storms, image pulls, scheduling) stay
//    together.
//  - `<namespace>/<resource>/<name>` for other Events; the audit ID for other audit events (both
//    stages of a request together, and an even spread of the bulk of the traffic).
//
// The partition of a key is the producer's partitioner's choice (kPartitioner, set explicitly in
// the producer's configuration); partition_for_key() computes the same choice, so the process
// role can tell which stored items belong to a partition (the correlation restore of a new
// owner, app/partition_restore.h).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/audit_event.h"
#include "core/incident.h"
#include "core/kube_event.h"

namespace ktrail::kafka {

std::string partition_key(const AuditEvent& event);
std::string partition_key(const KubeEvent& event);
// The key whose partition sees the signals of `incident`: its key `node/<name>` for
// node-not-ready; for node-drain `actor/<user>` when a non-system user cordoned (else its key);
// `workload/<key>` (`workload/<namespace>/<workload>`) for the workload kinds.
std::string partition_key(const Incident& incident);

// librdkafka's "consistent_random": a key goes to CRC-32(key) modulo the partition count; a
// message without a key goes to a random available partition.
inline constexpr const char* kPartitioner = "consistent_random";

// The partition kPartitioner chooses for a non-empty `key` among `partition_count` partitions;
// std::nullopt for an empty key (random) or a count below 1.
std::optional<std::int32_t> partition_for_key(std::string_view key, std::int32_t partition_count);

// The workload a pod name belongs to: "web-5d9c7b8f6-x2x4k" -> "web" (Deployment),
// "db-0" -> "db" (StatefulSet), "agent-x2x4k" -> "agent" (DaemonSet, Job). A name that does
// not look generated is its own workload.
std::string workload_of_pod(std::string_view pod_name);

}  // namespace ktrail::kafka
