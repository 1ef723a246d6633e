// Attribution of pods to their workload. Owner references win when known; otherwise the name
// is read the way controllers generate it: a Deployment's pods are
// <deployment>-<pod-template-hash>-<5 random>, a ReplicaSet's, DaemonSet's or Job's pods
// <owner>-<5 random>, a StatefulSet's pods <statefulset>-<ordinal>.
#pragma once

#include <string>
#include <string_view>

namespace ktrail::correlate {

struct Workload {
  std::string kind;  // Deployment, ReplicaSet, StatefulSet, Pod, or "" when only the name is known
  std::string name;
};

// True for a string the API server's name generator or the pod-template hash could produce.
bool is_generated_suffix(std::string_view text, std::size_t min_len, std::size_t max_len);

Workload workload_from_pod_name(std::string_view pod);

// From an owner reference of a pod: a ReplicaSet named <deployment>-<hash> maps to the
// Deployment.
Workload workload_from_owner(std::string_view kind, std::string_view name);

}  // namespace ktrail::correlate
