#include "queue/kafka_keys.h"

#include <zlib.h>

#include <algorithm>
#include <cctype>

namespace ktrail::kafka {
namespace {

bool is_system_user(std::string_view user) { return user.starts_with("system:"); }

bool all_of(std::string_view s, bool (*pred)(char)) {
  return !s.empty() && std::all_of(s.begin(), s.end(), pred);
}

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// Characters of the random suffixes Kubernetes generates (no vowels, to avoid words).
bool is_suffix_char(char c) {
  static constexpr std::string_view kAlphabet = "bcdfghjklmnpqrstvwxz2456789";
  return kAlphabet.find(c) != std::string_view::npos;
}

// A ReplicaSet pod-template hash: 5 to 10 alphanumerics of the same alphabet.
bool is_template_hash(std::string_view s) {
  return s.size() >= 5 && s.size() <= 10 && all_of(s, is_suffix_char);
}

std::string_view strip_last_segment(std::string_view name) {
  const auto dash = name.rfind('-');
  return dash == std::string_view::npos ? std::string_view{} : name.substr(0, dash);
}

std::string_view last_segment(std::string_view name) {
  const auto dash = name.rfind('-');
  return dash == std::string_view::npos ? name : name.substr(dash + 1);
}

bool is_workload_kind(std::string_view kind) {
  return kind == "Pod" || kind == "ReplicaSet" || kind == "Deployment" || kind == "StatefulSet" ||
         kind == "DaemonSet" || kind == "Job";
}

}  // namespace

std::string workload_of_pod(std::string_view pod_name) {
  std::string_view base = strip_last_segment(pod_name);
  if (base.empty()) {
    return std::string(pod_name);
  }
  const std::string_view suffix = last_segment(pod_name);
  if (all_of(suffix, is_digit)) {
    return std::string(base);  // StatefulSet ordinal
  }
  if (suffix.size() != 5 || !all_of(suffix, is_suffix_char)) {
    return std::string(pod_name);  // a hand-named pod
  }
  // Deployment pods carry the ReplicaSet's template hash before the random suffix.
  const std::string_view hash = last_segment(base);
  const std::string_view owner = strip_last_segment(base);
  if (!owner.empty() && is_template_hash(hash)) {
    return std::string(owner);
  }
  return std::string(base);
}

std::string partition_key(const AuditEvent& event) {
  if (event.object_ref) {
    const ObjectRef& ref = *event.object_ref;
    const bool write = event.verb != "get" && event.verb != "list" && event.verb != "watch";
    if (ref.resource == "nodes") {
      if (write && ref.subresource.empty() && !is_system_user(event.user.username)) {
        return "actor/" + event.user.username;  // cordon / uncordon
      }
      return "node/" + ref.name;
    }
    if (ref.resource == "pods") {
      if (ref.subresource == "eviction" && event.verb == "create" &&
          !is_system_user(event.user.username)) {
        return "actor/" + event.user.username;  // the evictions of a drain
      }
      if (!ref.name.empty()) {
        return "workload/" + ref.namespace_ + "/" + workload_of_pod(ref.name);
      }
    }
  }
  return event.audit_id;
}

std::string partition_key(const KubeEvent& event) {
  const InvolvedObject& obj = event.object;
  if (obj.kind == "Node") {
    return "node/" + obj.name;
  }
  if (obj.kind == "Pod") {
    return "workload/" + obj.namespace_ + "/" + workload_of_pod(obj.name);
  }
  if (is_workload_kind(obj.kind)) {
    // A ReplicaSet "web-5d9c7b8f6" belongs to the Deployment "web".
    std::string_view name = obj.name;
    if (obj.kind == "ReplicaSet" && is_template_hash(last_segment(name)) &&
        !strip_last_segment(name).empty()) {
      name = strip_last_segment(name);
    }
    return "workload/" + obj.namespace_ + "/" + std::string(name);
  }
  return obj.namespace_ + "/" + obj.kind + "/" + obj.name;
}

std::string partition_key(const Incident& incident) {
  switch (incident.kind) {
    case IncidentKind::kNodeDrain:
      // A cordon by a person is keyed by that person (see partition_key(AuditEvent)).
      if (!incident.actor.empty() && !is_system_user(incident.actor)) {
        return "actor/" + incident.actor;
      }
      return incident.key;  // node/<name>
    case IncidentKind::kNodeNotReady:
      return incident.key;
    case IncidentKind::kRestartStorm:
    case IncidentKind::kImagePullFailure:
    case IncidentKind::kSchedulingFailure:
      break;
  }
  return "workload/" + incident.key;  // key: <namespace>/<workload>
}

std::optional<std::int32_t> partition_for_key(std::string_view key, std::int32_t partition_count) {
  if (key.empty() || partition_count < 1) {
    return std::nullopt;
  }
  // zlib's crc32 is the CRC-32 librdkafka's partitioners use (reflected 0xEDB88320).
  const uLong crc = crc32_z(0L, reinterpret_cast<const Bytef*>(key.data()), key.size());
  return static_cast<std::int32_t>(static_cast<std::uint32_t>(crc) %
                                   static_cast<std::uint32_t>(partition_count));
}

}  // namespace ktrail::kafka
