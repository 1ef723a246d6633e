#include "processors/correlate/signals.h"

#include <rapidjson/document.h>

#include <algorithm>

#include "core/json.h"
#include "core/kube_event_json.h"

namespace ktrail::correlate {
namespace {

using rapidjson::Value;

bool contains(std::string_view text, std::string_view part) {
  return text.find(part) != std::string_view::npos;
}

const Value* get(const Value& obj, const char* key) {
  if (!obj.IsObject()) {
    return nullptr;
  }
  auto it = obj.FindMember(key);
  return it == obj.MemberEnd() ? nullptr : &it->value;
}

const Value* get_path(const Value& obj, std::initializer_list<const char*> keys) {
  const Value* v = &obj;
  for (const char* key : keys) {
    v = get(*v, key);
    if (v == nullptr) {
      return nullptr;
    }
  }
  return v;
}

std::string str(const Value* v) {
  return v != nullptr && v->IsString() ? std::string(v->GetString(), v->GetStringLength()) : "";
}

// Controllers whose pod deletes are taint-based evictions (node lifecycle / taint-eviction
// controller). With --use-service-account-credentials=false every controller acts as
// system:kube-controller-manager, so correlation also checks the pod's node is not ready.
bool is_eviction_controller(std::string_view user) {
  return user == "system:serviceaccount:kube-system:node-controller" ||
         user == "system:serviceaccount:kube-system:taint-eviction-controller" ||
         user == "system:kube-controller-manager";
}

bool is_not_ready_taint(const Value& taint) {
  const std::string key = str(get(taint, "key"));
  return (key == "node.kubernetes.io/not-ready" || key == "node.kubernetes.io/unreachable") &&
         str(get(taint, "effect")) == "NoExecute";
}

std::string object_text(const InvolvedObject& o, const std::string& ns) {
  std::string out = o.kind.empty() ? "?" : o.kind;
  out += "/";
  if (!ns.empty()) {
    out += ns + "/";
  }
  out += o.name;
  return out;
}

std::string audit_object_text(const ObjectRef& r) {
  std::string out = r.resource;
  if (!r.subresource.empty()) {
    out += "/" + r.subresource;
  }
  out += "/";
  if (!r.namespace_.empty()) {
    out += r.namespace_ + "/";
  }
  return out + r.name;
}

}  // namespace

SignalExtractor::PodInfo& SignalExtractor::pod(const std::string& ns, const std::string& name) {
  return pods_[ns + "/" + name];
}

void SignalExtractor::PodInfo::set_node(Micros at, const std::string& node) {
  auto pos = std::lower_bound(nodes.begin(), nodes.end(), std::make_pair(at, std::string()));
  if (pos != nodes.end() && pos->first == at) {
    pos->second = node;
    return;
  }
  // Only a change of node is worth remembering.
  if (pos != nodes.begin() && std::prev(pos)->second == node) {
    return;
  }
  nodes.insert(pos, {at, node});
  if (nodes.size() > 8) {
    nodes.erase(nodes.begin());
  }
}

std::string SignalExtractor::PodInfo::node_at(Micros at) const {
  if (nodes.empty()) {
    return "";
  }
  auto pos = std::upper_bound(nodes.begin(), nodes.end(), at,
                              [](Micros t, const auto& entry) { return t < entry.first; });
  // Before the first known binding, the first known node is the best guess.
  return pos == nodes.begin() ? pos->second : std::prev(pos)->second;
}

std::string SignalExtractor::node_of(const std::string& ns, const std::string& pod,
                                     Micros at) const {
  auto it = pods_.find(ns + "/" + pod);
  return it == pods_.end() ? "" : it->second.node_at(at);
}

Workload SignalExtractor::workload_of(const std::string& ns, const std::string& pod) const {
  auto it = pods_.find(ns + "/" + pod);
  if (it != pods_.end() && !it->second.owner.name.empty()) {
    return it->second.owner;
  }
  return workload_from_pod_name(pod);
}

std::int64_t SignalExtractor::add_restarts(PodInfo& info, bool from_status, std::int64_t more) {
  const std::int64_t before = std::max(info.backoffs, info.status_restarts);
  (from_status ? info.status_restarts : info.backoffs) += more;
  return std::max(info.backoffs, info.status_restarts) - before;
}

std::int64_t SignalExtractor::count_delta(const std::string& key, std::int64_t count) {
  auto [it, inserted] = event_counts_.try_emplace(key, 0);
  std::int64_t delta = count > it->second ? count - it->second : 0;
  if (count > it->second) {
    it->second = count;
  }
  return delta;
}

void SignalExtractor::trim() {
  // Deterministic and cheap: when a map grows past its bound it is cleared. What is lost is
  // knowledge about old pods and Events, which only matters for updates long after the fact.
  if (pods_.size() > options_.max_pods) {
    pods_.clear();
  }
  if (event_counts_.size() > options_.max_event_counts) {
    event_counts_.clear();
    carried_.forget();
  }
  if (restarts_.size() > options_.max_pods) {
    restarts_.clear();
  }
  if (noexecute_tainted_.size() > options_.max_pods) {
    noexecute_tainted_.clear();
  }
}

void SignalExtractor::from_event(const KubeEvent& event, std::vector<Signal>* out) {
  IncidentMember member;
  member.time = event.last_time;
  member.source = MemberSource::kEvent;
  member.ref = event.uid;
  member.reason = event.reason;
  member.object = object_text(
      event.object, event.object.namespace_.empty() ? event.namespace_ : event.object.namespace_);
  member.message = event.message;
  from_event_as(event, member, out);
}

void SignalExtractor::from_event_as(const KubeEvent& event, const IncidentMember& member,
                                    std::vector<Signal>* out) {
  trim();
  const InvolvedObject& o = event.object;
  const std::string ns = o.namespace_.empty() ? event.namespace_ : o.namespace_;
  const std::string& reason = event.reason;
  const std::string& msg = event.message;
  // Updates in place carry the running count: only the increase is new.
  const std::string count_key =
      event.name.empty() ? event.uid : event.namespace_ + "/" + event.name;
  const std::int64_t delta = count_delta(count_key, event.count);
  if (delta == 0) {
    return;  // a re-delivery, or a DELETED watch line: nothing new happened
  }
  Signal s;
  s.time = event.last_time;
  s.first = delta >= event.count ? event.first_time : event.last_time;
  s.weight = delta;
  s.coarse = event.last_time % kMicrosPerSecond == 0;
  s.member = member;
  auto emit = [&](SignalType type) {
    Signal copy = s;
    copy.type = type;
    out->push_back(std::move(copy));
  };
  if (o.kind == "Node") {
    s.node = o.name.empty() ? event.source_host : o.name;
    if (reason == "NodeNotReady") {
      emit(SignalType::kNodeNotReady);
    } else if (reason == "NodeReady") {
      emit(SignalType::kNodeReady);
    } else if (reason == "NodeNotSchedulable" || reason == "Cordon" || reason == "Drain") {
      emit(SignalType::kCordon);
    } else if (reason == "NodeSchedulable" || reason == "Uncordon") {
      emit(SignalType::kUncordon);
    }
    return;
  }
  if (reason == "SuccessfulDelete" && !o.name.empty() &&
      (o.kind == "ReplicaSet" || o.kind == "DaemonSet" || o.kind == "StatefulSet" ||
       o.kind == "Job")) {
    constexpr std::string_view kPrefix = "Deleted pod: ";
    if (msg.rfind(kPrefix, 0) == 0) {
      s.namespace_ = ns;
      s.pod = msg.substr(kPrefix.size());
      s.workload = workload_of(ns, s.pod);
      emit(SignalType::kPodDeleted);
    }
    return;
  }
  if (reason == "SuccessfulCreate" && !o.name.empty() &&
      (o.kind == "ReplicaSet" || o.kind == "DaemonSet" || o.kind == "StatefulSet" ||
       o.kind == "Job")) {
    constexpr std::string_view kPrefix = "Created pod: ";
    if (msg.rfind(kPrefix, 0) == 0) {
      pod(ns, msg.substr(kPrefix.size())).owner = workload_from_owner(o.kind, o.name);
    }
    return;
  }
  if (o.kind != "Pod" || o.name.empty()) {
    return;
  }
  PodInfo& info = pod(ns, o.name);
  if (event.source_component == "kubelet" && !event.source_host.empty()) {
    info.set_node(event.last_time, event.source_host);
  }
  s.namespace_ = ns;
  s.pod = o.name;
  s.workload = workload_of(ns, o.name);
  s.node = info.node_at(s.time);
  const bool init = o.field_path.rfind("spec.initContainers", 0) == 0;
  // fieldPath "spec.containers{name}" names the container.
  if (auto open = o.field_path.find('{'); open != std::string::npos && o.field_path.back() == '}') {
    s.container = o.field_path.substr(open + 1, o.field_path.size() - open - 2);
  }
  if (reason == "Scheduled") {
    auto to = msg.rfind(" to ");
    if (to != std::string::npos) {
      s.target_node = msg.substr(to + 4);
      info.set_node(s.time, s.target_node);
      emit(SignalType::kPodScheduled);
    }
  } else if (reason == "TaintManagerEviction") {
    if (msg.rfind("Marking for deletion", 0) == 0) {
      emit(SignalType::kTaintEviction);
    }
  } else if (reason == "NodeNotReady") {
    emit(SignalType::kPodNodeNotReady);
  } else if (reason == "BackOff" && contains(msg, "restarting failed container")) {
    s.cause = init ? "init-container" : "";
    // The kubelet reports BackOff on every sync while it waits, so the count can grow faster
    // than the container restarts; restarts are at least kMinRestartBackOff apart.
    const Micros since = delta >= event.count || info.last_backoff == 0
                             ? event.last_time - event.first_time
                             : event.last_time - info.last_backoff;
    const std::int64_t restarts =
        std::min<std::int64_t>(delta, 1 + std::max<Micros>(since, 0) / kMinRestartBackOff);
    info.last_backoff = std::max(info.last_backoff, event.last_time);
    s.weight = add_restarts(info, false, restarts);
    s.reports_restart = true;
    emit(s.weight > 0 ? SignalType::kRestart : SignalType::kRestartCause);
    s.reports_restart = false;
  } else if (reason == "ErrImagePull" || reason == "ErrImageNeverPull" ||
             reason == "InspectFailed" ||
             (reason == "Failed" && contains(msg, "Failed to pull image"))) {
    // One failed pull attempt (the kubelet also reports "Error: ErrImagePull", then
    // "Back-off pulling image" and "Error: ImagePullBackOff" for the same attempt: those
    // are members, not more failures).
    emit(SignalType::kImagePullFailure);
  } else if ((reason == "BackOff" && contains(msg, "pulling image")) ||
             reason == "ImagePullBackOff" ||
             (reason == "Failed" &&
              (contains(msg, "ErrImagePull") || contains(msg, "ImagePullBackOff") ||
               contains(msg, "ErrImageNeverPull")))) {
    s.weight = 0;
    emit(SignalType::kImagePullFailure);
  } else if (reason == "Pulled") {
    emit(SignalType::kImagePulled);
  } else if (reason == "Killing") {
    // The restart itself is counted by BackOff and pod status; the kill says why.
    if (contains(msg, "failed liveness probe")) {
      s.cause = "liveness-probe";
      s.detail = msg.substr(0, 160);
      s.weight = 0;
      emit(SignalType::kRestartCause);
    } else if (contains(msg, "failed startup probe")) {
      s.cause = "startup-probe";
      s.detail = msg.substr(0, 160);
      s.weight = 0;
      emit(SignalType::kRestartCause);
    } else {
      emit(SignalType::kPodStopped);
    }
  } else if (reason == "Unhealthy" && msg.rfind("Liveness probe failed", 0) == 0) {
    s.cause = "liveness-probe";
    s.detail = msg.substr(0, 160);
    s.weight = 0;
    emit(SignalType::kRestartCause);
  } else if (reason == "OOMKilling" || contains(msg, "OOMKilled")) {
    s.cause = "oom-killed";
    s.detail = msg.substr(0, 160);
    s.weight = 0;
    emit(SignalType::kRestartCause);
  } else if (reason == "FailedScheduling") {
    // The scheduler skips a pod being deleted: not a failure, the pod is going away.
    emit(contains(msg, "skip schedule deleting pod") ? SignalType::kPodDeleted
                                                      : SignalType::kSchedulingFailed);
  }
}

bool SignalExtractor::may_signal(const AuditEvent& a) {
  if (!a.object_ref || a.stage != Stage::kResponseComplete) {
    return false;
  }
  if (a.response_code != 0 && (a.response_code < 200 || a.response_code >= 300)) {
    return false;  // a refused request changed nothing
  }
  const ObjectRef& r = *a.object_ref;
  const bool write = a.verb == "create" || a.verb == "update" || a.verb == "patch";
  return (r.resource == "events" && write) || (r.resource == "nodes" && write) ||
         (r.resource == "pods" && (write || a.verb == "delete"));
}

void SignalExtractor::from_audit(const AuditEvent& a, std::vector<Signal>* out) {
  if (!may_signal(a)) {
    return;
  }
  const ObjectRef& r = *a.object_ref;
  trim();
  const std::string actor = a.impersonated_user ? a.impersonated_user->username : a.user.username;
  IncidentMember member;
  member.time = a.request_received;
  member.source = MemberSource::kAudit;
  member.ref = a.audit_id;
  member.reason = r.subresource.empty() ? a.verb : a.verb + " " + r.subresource;
  member.object = audit_object_text(r);
  member.message = "by " + actor;
  Signal s;
  s.time = a.request_received;
  s.first = s.time;
  s.actor = actor;
  s.member = member;
  auto emit = [&](SignalType type) {
    Signal copy = s;
    copy.type = type;
    out->push_back(std::move(copy));
  };
  if (r.resource == "pods" && r.subresource == "eviction" && a.verb == "create") {
    s.namespace_ = r.namespace_;
    s.pod = r.name;
    s.node = node_of(r.namespace_, r.name, s.time);
    s.workload = workload_of(r.namespace_, r.name);
    emit(SignalType::kPodEviction);
    return;
  }
  if (r.resource == "pods" && r.subresource.empty() && a.verb == "delete") {
    s.namespace_ = r.namespace_;
    s.pod = r.name;
    s.node = node_of(r.namespace_, r.name, s.time);
    s.workload = workload_of(r.namespace_, r.name);
    if (is_eviction_controller(actor)) {
      emit(SignalType::kTaintEviction);
    }
    emit(SignalType::kPodDeleted);
    return;
  }
  if (!a.has_request_object && !a.has_response_object) {
    return;  // Metadata level: the body that would say what changed is not there
  }
  rapidjson::Document doc;
  if (!json::parse(a.json, &doc).is_ok() || !doc.IsObject()) {
    return;
  }
  const Value* request = get(doc, "requestObject");
  const Value* response = get(doc, "responseObject");
  if (request != nullptr && !request->IsObject()) {
    request = nullptr;
  }
  if (response != nullptr && !response->IsObject()) {
    response = nullptr;
  }
  const Value* body = response != nullptr ? response : request;

  if (r.resource == "events") {
    KubeEvent ev;
    if (!carried_.extract(a, request, response, &ev)) {
      return;
    }
    member.reason = ev.reason;
    member.object =
        object_text(ev.object, ev.object.namespace_.empty() ? ev.namespace_ : ev.object.namespace_);
    member.message = ev.message;
    member.time = ev.last_time;
    from_event_as(ev, member, out);
    return;
  }

  if (r.resource == "nodes" && r.subresource == "status" && body != nullptr) {
    const Value* conditions = get_path(*body, {"status", "conditions"});
    if (conditions == nullptr || !conditions->IsArray()) {
      return;
    }
    s.node = r.name;
    for (const auto& c : conditions->GetArray()) {
      if (str(get(c, "type")) != "Ready") {
        continue;
      }
      const std::string status = str(get(c, "status"));
      s.cause = str(get(c, "reason"));
      if (status == "True") {
        emit(SignalType::kNodeReady);
      } else if (status == "False" || status == "Unknown") {
        emit(SignalType::kNodeNotReady);
      }
    }
    return;
  }

  if (r.resource == "nodes" && r.subresource.empty()) {
    s.node = r.name;
    // Taints: the list has no merge key, so a patch that names it replaces it whole; the
    // response (when logged) is the whole Node after the write; an update sends the whole Node.
    const Value* spec_req = request != nullptr ? get(*request, "spec") : nullptr;
    const Value* taints = nullptr;
    bool taints_known = false;
    if (const Value* spec = response != nullptr ? get(*response, "spec") : nullptr;
        spec != nullptr && spec->IsObject()) {
      taints = get(*spec, "taints");
      taints_known = true;
    } else if (spec_req != nullptr && spec_req->IsObject()) {
      taints = get(*spec_req, "taints");
      taints_known = taints != nullptr || a.verb == "update" || a.verb == "create";
    }
    if (taints_known) {
      bool no_execute = false;
      if (taints != nullptr && taints->IsArray()) {
        for (const auto& t : taints->GetArray()) {
          no_execute = no_execute || is_not_ready_taint(t);
        }
      }
      // The node lifecycle controller adds the NoSchedule taint first and the NoExecute one
      // later (on its own rate-limited queue), and removes them after the kubelet reports
      // Ready: a list without a NoExecute not-ready/unreachable taint says the node is ready
      // only when such a taint was there before.
      bool& state = noexecute_tainted_[r.name];
      const bool was = state;
      state = no_execute;
      s.cause = "taint";
      if (no_execute) {
        emit(SignalType::kNodeNotReady);
      } else if (was) {
        emit(SignalType::kNodeReady);
      }
      s.cause.clear();
    }
    if (actor.rfind("system:node:", 0) == 0) {
      return;  // a kubelet writing its own Node object does not cordon it
    }
    const Value* unsched = nullptr;
    bool known = false;
    if (spec_req != nullptr && spec_req->IsObject() && spec_req->HasMember("unschedulable")) {
      unsched = &(*spec_req)["unschedulable"];
      known = true;
    } else if (response != nullptr) {
      unsched = get_path(*response, {"spec", "unschedulable"});
      known = true;  // the whole object: absent means schedulable
    }
    if (known) {
      const bool cordoned = unsched != nullptr && unsched->IsBool() && unsched->GetBool();
      emit(cordoned ? SignalType::kCordon : SignalType::kUncordon);
    }
    return;
  }

  if (r.resource == "pods" && r.subresource == "binding" && a.verb == "create") {
    const std::string target =
        str(request != nullptr ? get_path(*request, {"target", "name"}) : nullptr);
    if (!target.empty()) {
      PodInfo& info = pod(r.namespace_, r.name);
      info.set_node(s.time, target);
      s.namespace_ = r.namespace_;
      s.pod = r.name;
      s.target_node = target;
      s.workload = workload_of(r.namespace_, r.name);
      emit(SignalType::kPodScheduled);
    }
    return;
  }

  if (r.resource == "pods" && body != nullptr) {
    std::string name = r.name;
    if (name.empty()) {
      name = str(get_path(*body, {"metadata", "name"}));
    }
    if (name.empty()) {
      return;
    }
    PodInfo& info = pod(r.namespace_, name);
    if (const Value* owners = get_path(*body, {"metadata", "ownerReferences"});
        owners != nullptr && owners->IsArray()) {
      for (const auto& owner : owners->GetArray()) {
        const Value* controller = get(owner, "controller");
        if (controller != nullptr && controller->IsBool() && controller->GetBool()) {
          info.owner = workload_from_owner(str(get(owner, "kind")), str(get(owner, "name")));
        }
      }
    }
    if (std::string node = str(get_path(*body, {"spec", "nodeName"})); !node.empty()) {
      info.set_node(s.time, node);
    }
    if (actor.rfind("system:node:", 0) == 0) {
      info.set_node(s.time, actor.substr(12));
    }
    if (r.subresource != "status") {
      return;
    }
    s.namespace_ = r.namespace_;
    s.pod = name;
    s.node = info.node_at(s.time);
    s.workload = workload_of(r.namespace_, name);
    for (const char* list : {"containerStatuses", "initContainerStatuses"}) {
      const Value* statuses = get_path(*body, {"status", list});
      if (statuses == nullptr || !statuses->IsArray()) {
        continue;
      }
      const bool init = std::string_view(list) == "initContainerStatuses";
      for (const auto& cs : statuses->GetArray()) {
        const std::string waiting = str(get_path(cs, {"state", "waiting", "reason"}));
        if (waiting == "ErrImagePull" || waiting == "ImagePullBackOff") {
          s.cause = waiting;
          s.weight = waiting == "ErrImagePull" ? 1 : 0;  // the back-off is the same attempt
          emit(SignalType::kImagePullFailure);
          s.cause.clear();
          s.weight = 1;
        }
        const Value* rc = get(cs, "restartCount");
        if (rc == nullptr || !rc->IsInt64()) {
          continue;
        }
        const std::int64_t restarts = rc->GetInt64();
        auto [it, fresh] =
            restarts_.try_emplace(r.namespace_ + "/" + name + "/" + str(get(cs, "name")), 0);
        if (restarts <= it->second) {
          continue;
        }
        // Without an earlier status, only the restart the status reports now is known new.
        const std::int64_t more = fresh ? 1 : restarts - it->second;
        it->second = restarts;
        s.weight = add_restarts(info, true, more);
        const Value* term = get_path(cs, {"lastState", "terminated"});
        const std::string why = str(term != nullptr ? get(*term, "reason") : nullptr);
        const Value* code = term != nullptr ? get(*term, "exitCode") : nullptr;
        s.container = str(get(cs, "name"));
        s.detail.clear();
        if (!why.empty() || (code != nullptr && code->IsInt())) {
          s.detail = "last state terminated" + (why.empty() ? "" : ": " + why) +
                     (code != nullptr && code->IsInt()
                          ? ", exit code " + std::to_string(code->GetInt())
                          : "");
        }
        if (why == "OOMKilled") {
          s.cause = "oom-killed";
        } else if (init) {
          s.cause = "init-container";
        } else if (code != nullptr && code->IsInt() && code->GetInt() != 0) {
          s.cause = "non-zero-exit";
        } else {
          s.cause.clear();
        }
        s.reports_restart = true;
        emit(s.weight > 0 ? SignalType::kRestart : SignalType::kRestartCause);
        s.reports_restart = false;
        s.weight = 1;
      }
    }
  }
}

}  // namespace ktrail::correlate
