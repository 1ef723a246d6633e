#include "detect/fields.h"

#include <charconv>
#include <initializer_list>

#include "core/json.h"

namespace ktrail::detect {
namespace {

using rapidjson::Value;

const Value* get(const Value* v, std::initializer_list<const char*> keys) {
  for (const char* key : keys) {
    if (v == nullptr || !v->IsObject()) {
      return nullptr;
    }
    auto it = v->FindMember(key);
    if (it == v->MemberEnd()) {
      return nullptr;
    }
    v = &it->value;
  }
  return v;
}

// The parsed event for a lookup starting at `first`, or nullptr when the decoded event already
// says the member is absent: request and response objects (most events have neither, and
// never at Metadata level) are then not looked for by parsing the whole event.
const Value* doc_for(EventView& e, std::string_view first) {
  if ((first == "requestObject" && !e.event().has_request_object) ||
      (first == "responseObject" && !e.event().has_response_object)) {
    return nullptr;
  }
  return e.json();
}

const Value* get(EventView& e, std::initializer_list<const char*> keys) {
  return get(doc_for(e, *keys.begin()), keys);
}

// A JSON value as the plugin writes it: strings as they are, anything else as compact JSON.
std::string_view text_of(EventView& e, const Value& v) {
  if (v.IsString()) {
    return {v.GetString(), v.GetStringLength()};
  }
  return e.keep(json::to_compact(v));
}

bool one(std::string_view v, Values* out) {
  if (v.empty()) {
    return false;
  }
  out->push_back(v);
  return true;
}

bool from_json(EventView& e, Values* out, std::initializer_list<const char*> keys) {
  const Value* v = get(e, keys);
  if (v == nullptr || v->IsNull()) {
    return false;
  }
  out->push_back(text_of(e, *v));
  return true;
}

// A list field read from a JSON array: each element as text.
bool list_from_json(EventView& e, Values* out, std::initializer_list<const char*> keys,
                    int index = -1) {
  const Value* v = get(e, keys);
  if (v == nullptr || !v->IsArray()) {
    return false;
  }
  const auto& arr = v->GetArray();
  if (index >= 0) {
    if (static_cast<rapidjson::SizeType>(index) >= arr.Size()) {
      return false;
    }
    out->push_back(text_of(e, arr[static_cast<rapidjson::SizeType>(index)]));
    return true;
  }
  for (const auto& item : arr) {
    out->push_back(text_of(e, item));
  }
  return true;
}

// The elements of requestObject.<array> (all, or the one at `index`); nullptr when absent.
bool elements(EventView& e, std::initializer_list<const char*> keys, int index,
              std::vector<const Value*>* items) {
  const Value* v = get(e, keys);
  if (v == nullptr || !v->IsArray()) {
    return false;
  }
  const auto& arr = v->GetArray();
  if (index >= 0) {
    if (static_cast<rapidjson::SizeType>(index) >= arr.Size()) {
      return false;
    }
    items->push_back(&arr[static_cast<rapidjson::SizeType>(index)]);
    return true;
  }
  for (const auto& item : arr) {
    items->push_back(&item);
  }
  return true;
}

// For each container (or volume, rule...): the value at `keys` inside it, skipping elements
// without one. Array values are flattened.
bool per_element(EventView& e, Values* out, std::initializer_list<const char*> array,
                 int index, std::initializer_list<const char*> keys) {
  std::vector<const Value*> items;
  if (!elements(e, array, index, &items)) {
    return false;
  }
  for (const Value* item : items) {
    const Value* v = get(item, keys);
    if (v == nullptr || v->IsNull()) {
      continue;
    }
    if (v->IsArray()) {
      for (const auto& x : v->GetArray()) {
        out->push_back(text_of(e, x));
      }
    } else {
      out->push_back(text_of(e, *v));
    }
  }
  return true;
}

std::string_view repository_of(std::string_view image) {
  image = image.substr(0, image.find('@'));
  // The tag follows the last ':' after the last '/': a registry port is not a tag.
  const auto slash = image.rfind('/');
  const auto colon = image.rfind(':');
  if (colon != std::string_view::npos && (slash == std::string_view::npos || colon > slash)) {
    image = image.substr(0, colon);
  }
  return image;
}

std::string_view param_of(std::string_view uri, std::string_view key, std::string* decoded) {
  const auto q = uri.find('?');
  if (q == std::string_view::npos) {
    return {};
  }
  std::string_view query = uri.substr(q + 1);
  auto unescape = [](std::string_view s) {
    std::string out;
    for (std::size_t i = 0; i < s.size(); ++i) {
      if (s[i] == '+') {
        out += ' ';
      } else if (s[i] == '%' && i + 2 < s.size()) {
        int v = 0;
        auto r = std::from_chars(s.data() + i + 1, s.data() + i + 3, v, 16);
        if (r.ec == std::errc() && r.ptr == s.data() + i + 3) {
          out += static_cast<char>(v);
          i += 2;
        } else {
          out += s[i];
        }
      } else {
        out += s[i];
      }
    }
    return out;
  };
  while (!query.empty()) {
    const auto amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    const auto eq = pair.find('=');
    if (unescape(pair.substr(0, eq)) == key) {
      *decoded = eq == std::string_view::npos ? std::string() : unescape(pair.substr(eq + 1));
      return *decoded;
    }
  }
  return {};
}

const ObjectRef* ref_of(EventView& e) {
  return e.event().object_ref ? &*e.event().object_ref : nullptr;
}

#define KA(body) [](EventView & e, const FieldRef& r, Values* out) -> bool { \
  (void)e;                                                                     \
  (void)r;                                                                     \
  body                                                                         \
}

bool containers(EventView& e, const FieldRef& r, Values* out, std::initializer_list<const char*> k) {
  return per_element(e, out, {"requestObject", "spec", "containers"}, r.index, k);
}

bool effective(EventView& e, const FieldRef& r, Values* out, const char* key) {
  std::string_view pod = "0";
  if (const Value* v = get(e, {"requestObject", "spec", "securityContext", key})) {
    pod = text_of(e, *v);
  }
  std::vector<const Value*> items;
  if (!elements(e, {"requestObject", "spec", "containers"}, r.index, &items)) {
    return false;
  }
  for (const Value* c : items) {
    const Value* v = get(c, {"securityContext", key});
    out->push_back(v != nullptr && !v->IsNull() ? text_of(e, *v) : pod);
  }
  return true;
}

bool rules_field(EventView& e, const FieldRef& r, Values* out, const char* key) {
  return per_element(e, out, {"requestObject", "rules"}, r.index, {key});
}

bool json_pointer(EventView& e, const FieldRef& r, Values* out) {
  // The decoded event answers the common pointers without parsing the JSON.
  const AuditEvent& ev = e.event();
  using Direct = FieldRef::Direct;
  switch (r.direct) {
    case Direct::kNone:
      break;
    case Direct::kStage:
      out->push_back(to_string(ev.stage));
      return true;
    case Direct::kVerb:
      return one(ev.verb, out);
    case Direct::kAuditId:
      return one(ev.audit_id, out);
    case Direct::kRequestUri:
      return one(ev.request_uri, out);
    case Direct::kSourceIp:
      return r.direct_index < ev.source_ips.size() && one(ev.source_ips[r.direct_index], out);
    case Direct::kUserName:
      return one(ev.user.username, out);
    case Direct::kResource:
    case Direct::kNamespace:
    case Direct::kName:
    case Direct::kSubresource:
      if (ev.object_ref) {
        const ObjectRef& o = *ev.object_ref;
        return one(r.direct == Direct::kResource    ? o.resource
                   : r.direct == Direct::kNamespace ? o.namespace_
                   : r.direct == Direct::kName      ? o.name
                                                    : o.subresource,
                   out);
      }
      break;
  }
  const auto& p = r.pointer;
  const Value* v = doc_for(e, p.empty() ? std::string_view() : std::string_view(p[0]));
  for (const auto& token : p) {
    if (v == nullptr) {
      return false;
    }
    if (v->IsObject()) {
      auto it = v->FindMember(rapidjson::StringRef(token.data(), token.size()));
      v = it == v->MemberEnd() ? nullptr : &it->value;
    } else if (v->IsArray()) {
      std::size_t i = 0;
      auto res = std::from_chars(token.data(), token.data() + token.size(), i);
      if (res.ec != std::errc() || res.ptr != token.data() + token.size() ||
          i >= v->GetArray().Size()) {
        return false;
      }
      v = &v->GetArray()[static_cast<rapidjson::SizeType>(i)];
    } else {
      return false;
    }
  }
  if (v == nullptr) {
    return false;
  }
  out->push_back(text_of(e, *v));
  return true;
}

std::string iso_time(Micros t) { return format_rfc3339(t); }

const std::vector<FieldInfo> kFields = {
    {"ka.auditid", FieldType::kString, false, FieldArg::kNone, "the audit ID",
     KA(return one(e.event().audit_id, out);)},
    {"ka.stage", FieldType::kString, false, FieldArg::kNone, "the stage (ResponseComplete, ...)",
     KA(out->push_back(to_string(e.event().stage)); return true;)},
    {"ka.auth.decision", FieldType::kString, false, FieldArg::kNone,
     "the authorization decision (annotation authorization.k8s.io/decision)",
     KA(return from_json(e, out, {"annotations", "authorization.k8s.io/decision"});)},
    {"ka.auth.reason", FieldType::kString, false, FieldArg::kNone,
     "the authorization reason (annotation authorization.k8s.io/reason)",
     KA(return from_json(e, out, {"annotations", "authorization.k8s.io/reason"});)},
    {"ka.user.name", FieldType::kString, false, FieldArg::kNone, "the user making the request",
     KA(return one(e.event().user.username, out);)},
    {"ka.user.groups", FieldType::kString, true, FieldArg::kNone, "the user's groups",
     KA(if (!e.event().user.present()) { return false; } for (const auto& g
                                                                 : e.event().user.groups) {
       out->push_back(g);
     } return true;)},
    {"ka.impuser.name", FieldType::kString, false, FieldArg::kNone, "the impersonated user",
     KA(return e.event().impersonated_user && one(e.event().impersonated_user->username, out);)},
    {"ka.verb", FieldType::kString, false, FieldArg::kNone, "the verb",
     KA(return one(e.event().verb, out);)},
    {"ka.uri", FieldType::kString, false, FieldArg::kNone, "the request URI",
     KA(return one(e.event().request_uri, out);)},
    {"ka.uri.param", FieldType::kString, false, FieldArg::kKey,
     "the first value of a query parameter of the request URI",
     KA(std::string decoded; if (e.event().request_uri.find('?') == std::string::npos) {
       return false;
     } std::string_view v = param_of(e.event().request_uri, r.arg, &decoded);
        if (v.data() == nullptr) { return false; } out->push_back(e.keep(std::string(v)));
        return true;)},
    {"ka.target.name", FieldType::kString, false, FieldArg::kNone, "objectRef.name",
     KA(return ref_of(e) && one(ref_of(e)->name, out);)},
    {"ka.target.namespace", FieldType::kString, false, FieldArg::kNone, "objectRef.namespace",
     KA(return ref_of(e) && one(ref_of(e)->namespace_, out);)},
    {"ka.target.resource", FieldType::kString, false, FieldArg::kNone, "objectRef.resource",
     KA(return ref_of(e) && one(ref_of(e)->resource, out);)},
    {"ka.target.subresource", FieldType::kString, false, FieldArg::kNone,
     "objectRef.subresource", KA(return ref_of(e) && one(ref_of(e)->subresource, out);)},
    {"ka.req.binding.subjects", FieldType::kString, true, FieldArg::kNone,
     "the subjects of a (cluster) role binding in the request",
     KA(return list_from_json(e, out, {"requestObject", "subjects"});)},
    {"ka.req.binding.role", FieldType::kString, false, FieldArg::kNone,
     "the role a binding in the request refers to (roleRef.name)",
     KA(return from_json(e, out, {"requestObject", "roleRef", "name"});)},
    {"ka.req.binding.subject.has_name", FieldType::kString, false, FieldArg::kKey,
     "deprecated; always true", KA(out->push_back("true"); return true;)},
    {"ka.req.configmap.name", FieldType::kString, false, FieldArg::kNone,
     "the configmap's name (objectRef.name)", KA(return ref_of(e) && one(ref_of(e)->name, out);)},
    {"ka.req.configmap.obj", FieldType::kString, false, FieldArg::kNone,
     "the configmap's data in the request, as JSON",
     KA(return from_json(e, out, {"requestObject", "data"});)},
    {"ka.req.pod.containers.image", FieldType::kString, true, FieldArg::kIndex,
     "the images of the pod's containers", KA(return containers(e, r, out, {"image"});)},
    {"ka.req.container.image", FieldType::kString, false, FieldArg::kNone,
     "deprecated: the image of the first container",
     KA(FieldRef first = r; first.index = 0; return containers(e, first, out, {"image"}) &&
                                                     !out->empty();)},
    {"ka.req.pod.containers.image.repository", FieldType::kString, true, FieldArg::kIndex,
     "the images of the pod's containers without tag or digest",
     KA(if (!containers(e, r, out, {"image"})) { return false; } for (auto& v
                                                                       : *out) {
       v = repository_of(v);
     } return true;)},
    {"ka.req.container.image.repository", FieldType::kString, false, FieldArg::kNone,
     "deprecated: the repository of the first container's image",
     KA(FieldRef first = r; first.index = 0;
        if (!containers(e, first, out, {"image"}) || out->empty()) { return false; }(*out)[0] =
            repository_of((*out)[0]);
        return true;)},
    {"ka.req.pod.host_ipc", FieldType::kString, false, FieldArg::kNone, "spec.hostIPC",
     KA(return from_json(e, out, {"requestObject", "spec", "hostIPC"});)},
    {"ka.req.pod.host_network", FieldType::kString, false, FieldArg::kNone, "spec.hostNetwork",
     KA(return from_json(e, out, {"requestObject", "spec", "hostNetwork"});)},
    {"ka.req.container.host_network", FieldType::kString, false, FieldArg::kNone,
     "deprecated alias of ka.req.pod.host_network",
     KA(return from_json(e, out, {"requestObject", "spec", "hostNetwork"});)},
    {"ka.req.pod.host_pid", FieldType::kString, false, FieldArg::kNone, "spec.hostPID",
     KA(return from_json(e, out, {"requestObject", "spec", "hostPID"});)},
    {"ka.req.pod.containers.host_port", FieldType::kString, true, FieldArg::kIndex,
     "the containers' host ports (the container port where no host port is given)",
     KA(std::vector<const Value*> items;
        if (!elements(e, {"requestObject", "spec", "containers"}, r.index, &items)) {
          return false;
        } for (const Value* c
               : items) {
          const Value* ports = get(c, {"ports"});
          if (ports == nullptr || !ports->IsArray()) {
            continue;
          }
          for (const auto& p : ports->GetArray()) {
            if (const Value* hp = get(&p, {"hostPort"})) {
              out->push_back(text_of(e, *hp));
            } else if (const Value* cp = get(&p, {"containerPort"})) {
              out->push_back(text_of(e, *cp));
            }
          }
        } return true;)},
    {"ka.req.pod.containers.privileged", FieldType::kString, true, FieldArg::kIndex,
     "the containers' securityContext.privileged",
     KA(return containers(e, r, out, {"securityContext", "privileged"});)},
    {"ka.req.container.privileged", FieldType::kString, false, FieldArg::kNone,
     "deprecated: true when any container is privileged",
     KA(Values all; if (!containers(e, r, &all, {"securityContext", "privileged"})) {
       return false;
     } bool any = false;
        for (auto v
             : all) { any = any || v == "true"; } out->push_back(any ? "true" : "false");
        return true;)},
    {"ka.req.pod.containers.allow_privilege_escalation", FieldType::kString, true,
     FieldArg::kIndex, "the containers' securityContext.allowPrivilegeEscalation",
     KA(return containers(e, r, out, {"securityContext", "allowPrivilegeEscalation"});)},
    {"ka.req.pod.containers.read_only_fs", FieldType::kString, true, FieldArg::kIndex,
     "the containers' securityContext.readOnlyRootFilesystem",
     KA(return containers(e, r, out, {"securityContext", "readOnlyRootFilesystem"});)},
    {"ka.req.pod.run_as_user", FieldType::kString, false, FieldArg::kNone,
     "the pod's securityContext.runAsUser",
     KA(return from_json(e, out, {"requestObject", "spec", "securityContext", "runAsUser"});)},
    {"ka.req.pod.containers.run_as_user", FieldType::kString, true, FieldArg::kIndex,
     "the containers' securityContext.runAsUser",
     KA(return containers(e, r, out, {"securityContext", "runAsUser"});)},
    {"ka.req.pod.containers.eff_run_as_user", FieldType::kString, true, FieldArg::kIndex,
     "the uid each container runs as (container, else pod, else 0)",
     KA(return effective(e, r, out, "runAsUser");)},
    {"ka.req.pod.run_as_group", FieldType::kString, false, FieldArg::kNone,
     "the pod's securityContext.runAsGroup",
     KA(return from_json(e, out, {"requestObject", "spec", "securityContext", "runAsGroup"});)},
    {"ka.req.pod.containers.run_as_group", FieldType::kString, true, FieldArg::kIndex,
     "the containers' securityContext.runAsGroup",
     KA(return containers(e, r, out, {"securityContext", "runAsGroup"});)},
    {"ka.req.pod.containers.eff_run_as_group", FieldType::kString, true, FieldArg::kIndex,
     "the gid each container runs as (container, else pod, else 0)",
     KA(return effective(e, r, out, "runAsGroup");)},
    {"ka.req.pod.containers.proc_mount", FieldType::kString, true, FieldArg::kIndex,
     "the containers' securityContext.procMount",
     KA(return containers(e, r, out, {"securityContext", "procMount"});)},
    {"ka.req.role.rules", FieldType::kString, true, FieldArg::kNone,
     "the rules of a (cluster) role in the request, each as JSON",
     KA(return list_from_json(e, out, {"requestObject", "rules"});)},
    {"ka.req.role.rules.apiGroups", FieldType::kString, true, FieldArg::kIndex,
     "the api groups of the role's rules", KA(return rules_field(e, r, out, "apiGroups");)},
    {"ka.req.role.rules.nonResourceURLs", FieldType::kString, true, FieldArg::kIndex,
     "the non-resource URLs of the role's rules",
     KA(return rules_field(e, r, out, "nonResourceURLs");)},
    {"ka.req.role.rules.verbs", FieldType::kString, true, FieldArg::kIndex,
     "the verbs of the role's rules", KA(return rules_field(e, r, out, "verbs");)},
    {"ka.req.role.rules.resources", FieldType::kString, true, FieldArg::kIndex,
     "the resources of the role's rules", KA(return rules_field(e, r, out, "resources");)},
    {"ka.req.pod.fs_group", FieldType::kString, false, FieldArg::kNone,
     "the pod's securityContext.fsGroup",
     KA(return from_json(e, out, {"requestObject", "spec", "securityContext", "fsGroup"});)},
    {"ka.req.pod.supplemental_groups", FieldType::kString, true, FieldArg::kNone,
     "the pod's securityContext.supplementalGroups",
     KA(return list_from_json(e, out,
                              {"requestObject", "spec", "securityContext", "supplementalGroups"});)},
    {"ka.req.pod.containers.add_capabilities", FieldType::kString, true, FieldArg::kIndex,
     "the capabilities the containers add",
     KA(return containers(e, r, out, {"securityContext", "capabilities", "add"});)},
    {"ka.req.service.type", FieldType::kString, false, FieldArg::kNone, "the service's type",
     KA(return from_json(e, out, {"requestObject", "spec", "type"});)},
    {"ka.req.service.ports", FieldType::kString, true, FieldArg::kIndex,
     "the service's ports, each as JSON",
     KA(return list_from_json(e, out, {"requestObject", "spec", "ports"}, r.index);)},
    {"ka.req.volume.hostpath", FieldType::kString, false, FieldArg::kKey,
     "deprecated: true when a hostPath volume has the given path (a trailing * matches a prefix)",
     KA(Values paths;
        if (!per_element(e, &paths, {"requestObject", "spec", "volumes"}, -1, {"hostPath", "path"})) {
          return false;
        } const bool prefix = !r.arg.empty() && r.arg.back() == '*';
        const std::string_view want =
            prefix ? std::string_view(r.arg).substr(0, r.arg.size() - 1) : std::string_view(r.arg);
        bool found = false; for (auto p
                                 : paths) {
          found = found || (prefix ? p.substr(0, want.size()) == want : p == want);
        } out->push_back(found ? "true" : "false");
        return true;)},
    {"ka.req.pod.volumes.hostpath", FieldType::kString, true, FieldArg::kIndex,
     "the paths of the pod's hostPath volumes",
     KA(return per_element(e, out, {"requestObject", "spec", "volumes"}, r.index,
                           {"hostPath", "path"});)},
    {"ka.req.pod.volumes.flexvolume_driver", FieldType::kString, true, FieldArg::kIndex,
     "the drivers of the pod's flexVolume volumes",
     KA(return per_element(e, out, {"requestObject", "spec", "volumes"}, r.index,
                           {"flexVolume", "driver"});)},
    {"ka.req.pod.volumes.volume_type", FieldType::kString, true, FieldArg::kIndex,
     "the types of the pod's volumes (hostPath, emptyDir, ...)",
     KA(std::vector<const Value*> items;
        if (!elements(e, {"requestObject", "spec", "volumes"}, r.index, &items)) {
          return false;
        } for (const Value* v
               : items) {
          if (!v->IsObject()) {
            continue;
          }
          for (const auto& m : v->GetObject()) {
            std::string_view key(m.name.GetString(), m.name.GetStringLength());
            if (key != "name") {
              out->push_back(key);
            }
          }
        } return true;)},
    {"ka.resp.name", FieldType::kString, false, FieldArg::kNone,
     "the response object's name (responseObject.metadata.name)",
     KA(return from_json(e, out, {"responseObject", "metadata", "name"});)},
    {"ka.response.code", FieldType::kString, false, FieldArg::kNone, "the response code",
     KA(if (e.event().response_code == 0) { return false; } out->push_back(
            e.response_code_text());
        return true;)},
    {"ka.response.reason", FieldType::kString, false, FieldArg::kNone,
     "responseStatus.reason", KA(return from_json(e, out, {"responseStatus", "reason"});)},
    {"ka.useragent", FieldType::kString, false, FieldArg::kNone, "the user agent",
     KA(return one(e.event().user_agent, out);)},
    {"ka.sourceips", FieldType::kString, true, FieldArg::kNone, "the source IPs",
     KA(if (e.event().source_ips.empty()) { return false; } for (const auto& ip
                                                                  : e.event().source_ips) {
       out->push_back(ip);
     } return true;)},
    {"jevt.value", FieldType::kString, false, FieldArg::kJsonPointer,
     "the value at a JSON pointer in the event", KA(return json_pointer(e, r, out);)},
    {"json.value", FieldType::kString, false, FieldArg::kJsonPointer,
     "the value at a JSON pointer in the event", KA(return json_pointer(e, r, out);)},
    {"jevt.obj", FieldType::kString, false, FieldArg::kNone, "the whole event as JSON",
     KA(out->push_back(e.event().json); return true;)},
    {"json.obj", FieldType::kString, false, FieldArg::kNone, "the whole event as JSON",
     KA(out->push_back(e.event().json); return true;)},
    {"jevt.rawtime", FieldType::kNumber, false, FieldArg::kNone,
     "the event's stageTimestamp in nanoseconds since the epoch",
     KA(out->push_back(e.keep(std::to_string(e.event().stage_time * 1000))); return true;)},
    {"json.rawtime", FieldType::kNumber, false, FieldArg::kNone,
     "the event's stageTimestamp in nanoseconds since the epoch",
     KA(out->push_back(e.keep(std::to_string(e.event().stage_time * 1000))); return true;)},
    {"jevt.time", FieldType::kString, false, FieldArg::kNone,
     "the event's stageTimestamp (RFC 3339)",
     KA(out->push_back(e.keep(iso_time(e.event().stage_time))); return true;)},
    {"jevt.time.iso8601", FieldType::kString, false, FieldArg::kNone,
     "the event's stageTimestamp (RFC 3339)",
     KA(out->push_back(e.keep(iso_time(e.event().stage_time))); return true;)},
};

#undef KA

Result<std::vector<std::string>> parse_pointer(std::string_view arg) {
  std::vector<std::string> out;
  if (arg.empty() || arg[0] != '/') {
    return invalid_argument("a JSON pointer starts with '/'");
  }
  std::size_t i = 1;
  while (true) {
    const auto next = arg.find('/', i);
    std::string_view raw = arg.substr(i, next == std::string_view::npos ? arg.npos : next - i);
    std::string token;
    for (std::size_t k = 0; k < raw.size(); ++k) {
      if (raw[k] == '~') {
        if (k + 1 < raw.size() && (raw[k + 1] == '0' || raw[k + 1] == '1')) {
          token += raw[k + 1] == '0' ? '~' : '/';
          ++k;
        } else {
          return invalid_argument("a '~' in a JSON pointer must be followed by 0 or 1");
        }
      } else {
        token += raw[k];
      }
    }
    out.push_back(std::move(token));
    if (next == std::string_view::npos) {
      break;
    }
    i = next + 1;
  }
  return out;
}

// Which decoded field of the event answers `ref`'s pointer, if one does.
void classify_pointer(FieldRef* ref) {
  using Direct = FieldRef::Direct;
  const auto& p = ref->pointer;
  if (p.size() == 1) {
    ref->direct = p[0] == "stage"        ? Direct::kStage
                  : p[0] == "verb"       ? Direct::kVerb
                  : p[0] == "auditID"    ? Direct::kAuditId
                  : p[0] == "requestURI" ? Direct::kRequestUri
                                         : Direct::kNone;
  } else if (p.size() == 2) {
    if (p[0] == "sourceIPs") {
      std::size_t i = 0;
      auto res = std::from_chars(p[1].data(), p[1].data() + p[1].size(), i);
      if (res.ec == std::errc() && res.ptr == p[1].data() + p[1].size()) {
        ref->direct = Direct::kSourceIp;
        ref->direct_index = i;
      }
    } else if (p[0] == "user" && p[1] == "username") {
      ref->direct = Direct::kUserName;
    } else if (p[0] == "objectRef") {
      ref->direct = p[1] == "resource"      ? Direct::kResource
                    : p[1] == "namespace"   ? Direct::kNamespace
                    : p[1] == "name"        ? Direct::kName
                    : p[1] == "subresource" ? Direct::kSubresource
                                            : Direct::kNone;
    }
  }
}

}  // namespace

const std::vector<FieldInfo>& all_fields() { return kFields; }

bool FieldRef::extract(EventView& event, Values* out) const {
  out->clear();
  return info->extract(event, *this, out);
}

std::string FieldRef::name() const {
  std::string n = info->name;
  if (!arg.empty()) {
    n += "[" + arg + "]";
  }
  return n;
}

Result<FieldRef> resolve_field(std::string_view name, std::string_view arg, bool has_arg) {
  const FieldInfo* info = nullptr;
  for (const auto& f : kFields) {
    if (name == f.name) {
      info = &f;
      break;
    }
  }
  if (info == nullptr) {
    return invalid_argument("unknown field '" + std::string(name) + "'");
  }
  FieldRef ref;
  ref.info = info;
  ref.arg = std::string(arg);
  switch (info->arg) {
    case FieldArg::kNone:
      if (has_arg) {
        return invalid_argument("field '" + std::string(name) + "' takes no argument");
      }
      break;
    case FieldArg::kIndex:
      if (has_arg) {
        int index = -1;
        auto r = std::from_chars(arg.data(), arg.data() + arg.size(), index);
        // The plugin ignores an argument that is not a number.
        if (r.ec == std::errc() && r.ptr == arg.data() + arg.size() && index >= 0) {
          ref.index = index;
        }
      }
      break;
    case FieldArg::kKey:
      if (arg.empty()) {
        return invalid_argument("field '" + std::string(name) + "' requires an argument");
      }
      break;
    case FieldArg::kJsonPointer: {
      if (arg.empty()) {
        return invalid_argument("field '" + std::string(name) +
                                "' requires a JSON pointer argument");
      }
      auto pointer = parse_pointer(arg);
      if (!pointer) {
        return invalid_argument("field '" + std::string(name) + "[" + std::string(arg) +
                                "]': " + pointer.status().message());
      }
      ref.pointer = std::move(*pointer);
      classify_pointer(&ref);
      break;
    }
  }
  return ref;
}

}  // namespace ktrail::detect
