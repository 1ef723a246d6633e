#include "query/timeline_view.h"

#include <rapidjson/document.h>

#include <algorithm>

#include "core/json.h"

namespace ktrail::query {
namespace {

using rapidjson::Value;

const Value* member(const Value* obj, const char* key) {
  if (obj == nullptr || !obj->IsObject()) {
    return nullptr;
  }
  auto it = obj->FindMember(key);
  return it == obj->MemberEnd() ? nullptr : &it->value;
}

std::string text(const Value* v) {
  return v != nullptr && v->IsString() ? std::string(v->GetString(), v->GetStringLength()) : "";
}

bool is_write(const std::string& verb) {
  return verb == "create" || verb == "update" || verb == "patch";
}

std::set<std::string> taint_set(const Value& taints) {
  std::set<std::string> out;
  if (taints.IsArray()) {
    for (const auto& t : taints.GetArray()) {
      out.insert(text(member(&t, "key")) + ":" + text(member(&t, "effect")));
    }
  }
  return out;
}

void append(std::string* out, const std::string& part) {
  if (!part.empty()) {
    *out += (out->empty() ? "" : ", ") + part;
  }
}

std::string joined(const std::set<std::string>& items) {
  std::string out;
  for (const auto& i : items) {
    out += (out.empty() ? "" : " ") + i;
  }
  return out;
}

}  // namespace

bool is_kubelet_heartbeat(const StoredAudit& row, const std::string& node) {
  if (row.user != "system:node:" + node || row.name != node) {
    return false;
  }
  if (row.resource == "leases") {
    return true;
  }
  if (row.resource != "nodes") {
    return false;
  }
  return row.subresource == "status" || row.verb == "get" || row.verb == "list" ||
         row.verb == "watch";
}

bool change_needs_event(const StoredAudit& row) {
  if (row.stage != Stage::kResponseComplete || row.code >= 300) {
    return false;
  }
  if (row.level != Level::kRequest && row.level != Level::kRequestResponse) {
    return false;  // stored at Metadata: the event holds no object to read a change from
  }
  if (row.resource == "nodes") {
    return is_write(row.verb);
  }
  return row.resource == "pods" && row.subresource == "binding" && row.verb == "create";
}

std::string binding_target(const StoredAudit& row) {
  if (row.event.empty()) {
    return "";
  }
  rapidjson::Document doc;
  if (!json::parse(row.event, &doc).is_ok()) {
    return "";
  }
  return text(member(member(member(&doc, "requestObject"), "target"), "name"));
}

std::string ChangeDescriber::describe(const StoredAudit& row) {
  if (row.code >= 300) {
    return "";
  }
  if (row.resource == "pods") {
    if (row.subresource == "binding" && row.verb == "create") {
      const std::string target = binding_target(row);
      return target.empty() ? "bound" : "bound to " + target;
    }
    if (row.subresource == "eviction" && row.verb == "create") {
      return "evicted";
    }
    if (row.subresource.empty() && row.verb == "delete") {
      return "deleted";
    }
    return "";
  }
  if (row.resource != "nodes" || !is_write(row.verb)) {
    return "";
  }
  if (row.subresource.empty() && row.verb == "create") {
    return "registered";
  }
  if (row.event.empty()) {
    return "";
  }
  rapidjson::Document doc;
  if (!json::parse(row.event, &doc).is_ok() || !doc.IsObject()) {
    return "";
  }
  const Value* request = member(&doc, "requestObject");
  const Value* response = member(&doc, "responseObject");
  std::string out;
  if (row.subresource == "status") {
    const Value* body = member(request, "status") != nullptr ? request : response;
    const Value* conditions = member(member(body, "status"), "conditions");
    if (conditions != nullptr && conditions->IsArray()) {
      for (const auto& c : conditions->GetArray()) {
        if (text(member(&c, "type")) == "Ready") {
          append(&out, "Ready=" + text(member(&c, "status")));
        }
      }
    }
    return out;
  }
  if (!row.subresource.empty()) {
    return "";
  }
  NodeState& state = nodes_[row.name];
  const Value* request_spec = member(request, "spec");
  const Value* response_spec = member(response, "spec");
  // Taints: a patch replaces the whole list (it has no merge key); an update sends the object.
  const Value* taints = member(request_spec, "taints");
  const bool requested = taints != nullptr;
  if (taints == nullptr && response != nullptr) {
    taints = member(response_spec, "taints");  // the object after the write: absent = none
  }
  if (taints != nullptr || response != nullptr) {
    const std::set<std::string> now =
        taints != nullptr ? taint_set(*taints) : std::set<std::string>{};
    if (state.taints) {
      for (const auto& t : now) {
        if (state.taints->count(t) == 0) {
          append(&out, "taint " + t + " added");
        }
      }
      for (const auto& t : *state.taints) {
        if (now.count(t) == 0) {
          append(&out, "taint " + t + " removed");
        }
      }
    } else if (requested) {
      append(&out, now.empty() ? "taints cleared" : "taints " + joined(now));
    }
    state.taints = now;
  }
  // Cordon: kubectl patches spec.unschedulable to true, and to null (or false) to uncordon.
  std::optional<bool> unschedulable;
  if (const Value* u = member(request_spec, "unschedulable"); u != nullptr) {
    unschedulable = u->IsBool() && u->GetBool();
  } else if (response != nullptr) {
    const Value* r = member(response_spec, "unschedulable");
    unschedulable = r != nullptr && r->IsBool() && r->GetBool();
  }
  if (unschedulable) {
    const bool explicit_patch = member(request_spec, "unschedulable") != nullptr;
    if (state.unschedulable ? *state.unschedulable != *unschedulable
                            : explicit_patch && row.verb == "patch") {
      append(&out, *unschedulable ? "cordoned" : "uncordoned");
    }
    state.unschedulable = unschedulable;
  }
  return out;
}

}  // namespace ktrail::query
