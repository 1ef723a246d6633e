#include "storage/report_sections.h"

#include <rapidjson/document.h>

#include <algorithm>
#include <string_view>

#include "core/json.h"

namespace ktrail::storage {
namespace {

constexpr std::size_t kMaxDetail = 240;

bool one_of(std::string_view s, std::initializer_list<std::string_view> values) {
  return std::find(values.begin(), values.end(), s) != values.end();
}

bool counted_stage(const AuditEvent& e) {
  return e.stage == Stage::kResponseComplete || e.stage == Stage::kPanic ||
         (e.stage == Stage::kResponseStarted && e.response_code == 401);
}

void append_limited(std::string* out, std::string_view part) {
  if (out->size() >= kMaxDetail) {
    return;
  }
  if (!out->empty()) {
    *out += "; ";
  }
  *out += part.substr(0, kMaxDetail - std::min(kMaxDetail, out->size()));
}

const rapidjson::Value* member(const rapidjson::Value& v, const char* key) {
  if (!v.IsObject()) {
    return nullptr;
  }
  auto it = v.FindMember(key);
  return it == v.MemberEnd() ? nullptr : &it->value;
}

// The requestObject of the event, parsed into `doc`; nullptr when absent or unreadable.
const rapidjson::Value* request_object(const AuditEvent& e, rapidjson::Document* doc) {
  if (!e.has_request_object || !json::parse(e.json, doc).is_ok()) {
    return nullptr;
  }
  return member(*doc, "requestObject");
}

// What a RoleBinding or ClusterRoleBinding grants: "roleRef ClusterRole/x; subjects User/a, ...".
std::string binding_summary(const rapidjson::Value& obj) {
  std::string out;
  if (const auto* ref = member(obj, "roleRef")) {
    out = "roleRef " + std::string(json::get_string(*ref, "kind")) + "/" +
          std::string(json::get_string(*ref, "name"));
  }
  if (const auto* subjects = member(obj, "subjects"); subjects && subjects->IsArray()) {
    std::string list;
    for (const auto& s : subjects->GetArray()) {
      if (!list.empty()) {
        list += ", ";
      }
      list += std::string(json::get_string(s, "kind")) + "/";
      const std::string_view ns = json::get_string(s, "namespace");
      if (!ns.empty()) {
        list += std::string(ns) + "/";
      }
      list += json::get_string(s, "name");
    }
    append_limited(&out, "subjects " + list);
  }
  return out;
}

// What a Role or ClusterRole allows: "rules verbs=get,list resources=pods; ...".
std::string role_summary(const rapidjson::Value& obj) {
  std::string out;
  const auto* rules = member(obj, "rules");
  if (rules == nullptr || !rules->IsArray()) {
    return out;
  }
  auto joined = [](const rapidjson::Value* list) {
    std::string s;
    if (list != nullptr && list->IsArray()) {
      for (const auto& v : list->GetArray()) {
        if (v.IsString()) {
          s += (s.empty() ? "" : ",") + std::string(v.GetString(), v.GetStringLength());
        }
      }
    }
    return s;
  };
  for (const auto& rule : rules->GetArray()) {
    std::string r = "verbs=" + joined(member(rule, "verbs"));
    const std::string resources = joined(member(rule, "resources"));
    if (!resources.empty()) {
      r += " resources=" + resources;
    }
    const std::string urls = joined(member(rule, "nonResourceURLs"));
    if (!urls.empty()) {
      r += " urls=" + urls;
    }
    append_limited(&out, r);
  }
  return out;
}

// The pod spec inside a Pod or a workload's template, or nullptr.
const rapidjson::Value* pod_spec(const rapidjson::Value& obj, std::string_view resource) {
  const auto* spec = member(obj, "spec");
  if (spec == nullptr || resource == "pods") {
    return spec;
  }
  if (resource == "cronjobs") {
    spec = member(*spec, "jobTemplate");
    spec = spec ? member(*spec, "spec") : nullptr;
  }
  const auto* tmpl = spec ? member(*spec, "template") : nullptr;
  return tmpl ? member(*tmpl, "spec") : nullptr;
}

// The privileged settings of a pod spec: privileged containers, host namespaces, hostPath.
std::string privileged_summary(const rapidjson::Value& spec) {
  std::string out;
  for (const char* host : {"hostNetwork", "hostPID", "hostIPC"}) {
    if (const auto* v = member(spec, host); v && v->IsBool() && v->GetBool()) {
      append_limited(&out, host);
    }
  }
  for (const char* list : {"initContainers", "containers", "ephemeralContainers"}) {
    const auto* containers = member(spec, list);
    if (containers == nullptr || !containers->IsArray()) {
      continue;
    }
    for (const auto& c : containers->GetArray()) {
      const auto* sc = member(c, "securityContext");
      const auto* p = sc ? member(*sc, "privileged") : nullptr;
      if (p && p->IsBool() && p->GetBool()) {
        append_limited(&out, "privileged container " + std::string(json::get_string(c, "name")));
      }
    }
  }
  if (const auto* volumes = member(spec, "volumes"); volumes && volumes->IsArray()) {
    for (const auto& v : volumes->GetArray()) {
      if (const auto* hp = member(v, "hostPath")) {
        append_limited(&out, "hostPath " + std::string(json::get_string(*hp, "path")));
      }
    }
  }
  return out;
}

bool is_write(std::string_view verb) {
  return one_of(verb, {"create", "update", "patch", "delete", "deletecollection"});
}

}  // namespace

void classify(const AuditEvent& e, std::vector<SectionHit>* hits) {
  if (!counted_stage(e)) {
    return;
  }
  const std::string_view resource = e.object_ref ? e.object_ref->resource : std::string_view();
  const std::string_view sub = e.object_ref ? e.object_ref->subresource : std::string_view();
  const SectionKeeps with_code{true, true, false};
  const bool groups_masters = std::find(e.user.groups.begin(), e.user.groups.end(),
                                        "system:masters") != e.user.groups.end();
  const bool unauthenticated =
      e.user.username == "system:anonymous" ||
      std::find(e.user.groups.begin(), e.user.groups.end(), "system:unauthenticated") !=
          e.user.groups.end();

  if (resource == "secrets" && sub.empty() && one_of(e.verb, {"get", "list", "watch"})) {
    hits->push_back({ReportSection::kSecretAccess, with_code, ""});
  }
  if (resource == "pods" && one_of(sub, {"exec", "attach", "portforward"})) {
    hits->push_back({ReportSection::kExecAttachPortforward, with_code, ""});
  }
  const bool rbac =
      one_of(resource, {"roles", "rolebindings", "clusterroles", "clusterrolebindings"});
  std::string binding;  // the binding's summary, when the event has the object
  if (rbac && sub.empty() && is_write(e.verb)) {
    std::string detail;
    rapidjson::Document doc;
    if (e.verb != "delete" && e.verb != "deletecollection") {
      if (const auto* obj = request_object(e, &doc)) {
        const bool is_binding = resource == "rolebindings" || resource == "clusterrolebindings";
        if (e.verb == "patch") {
          detail = "patch " + json::to_compact(*obj).substr(0, kMaxDetail);
        } else {
          detail = is_binding ? binding_summary(*obj) : role_summary(*obj);
        }
        if (is_binding) {
          binding = json::to_compact(*obj);
        }
      }
    }
    hits->push_back({ReportSection::kRbacChanges, with_code, std::move(detail)});
  }
  // Privilege escalation: each way gets its own detail.
  const SectionKeeps escalation{true, true, false};
  if (!binding.empty() && e.verb != "delete" &&
      binding.find("\"cluster-admin\"") != std::string::npos) {
    hits->push_back({ReportSection::kPrivilegeEscalation, escalation, "binding to cluster-admin"});
  }
  if (groups_masters) {
    hits->push_back(
        {ReportSection::kPrivilegeEscalation, {false, true, false}, "system:masters group"});
  }
  if (e.impersonated_user) {
    hits->push_back({ReportSection::kPrivilegeEscalation, escalation, "impersonation"});
    hits->push_back({ReportSection::kImpersonation, with_code, ""});
  }
  if (resource == "serviceaccounts" && sub == "token" && e.verb == "create") {
    hits->push_back({ReportSection::kPrivilegeEscalation, escalation, "token request"});
  }
  if (resource == "certificatesigningrequests" && sub == "approval" &&
      one_of(e.verb, {"update", "patch"})) {
    hits->push_back({ReportSection::kPrivilegeEscalation, escalation, "CSR approval"});
  }
  const bool workload = one_of(resource, {"pods", "deployments", "daemonsets", "statefulsets",
                                          "replicasets", "jobs", "cronjobs"});
  if (workload && (sub.empty() || sub == "ephemeralcontainers") &&
      one_of(e.verb, {"create", "update", "patch"})) {
    rapidjson::Document doc;
    if (const auto* obj = request_object(e, &doc)) {
      if (const auto* spec = pod_spec(*obj, resource)) {
        std::string detail = privileged_summary(*spec);
        if (!detail.empty()) {
          hits->push_back({ReportSection::kPrivilegedPods, with_code, std::move(detail)});
        }
      }
    }
  }
  if (unauthenticated) {
    hits->push_back({ReportSection::kAnonymousRequests, {true, true, true}, ""});
  }
  if (e.response_code == 401 || e.response_code == 403) {
    hits->push_back({ReportSection::kDeniedRequests, {true, true, true}, ""});
  }
}

}  // namespace ktrail::storage
