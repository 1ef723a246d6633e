#include "processors/carried_events.h"

#include <algorithm>

#include "core/json.h"
#include "core/kube_event_json.h"

namespace ktrail {
namespace {

using rapidjson::Value;

const Value* member(const Value& obj, const char* key) {
  if (!obj.IsObject()) {
    return nullptr;
  }
  auto it = obj.FindMember(key);
  return it == obj.MemberEnd() ? nullptr : &it->value;
}

std::string text(const Value* v) {
  return v != nullptr && v->IsString() ? std::string(v->GetString(), v->GetStringLength()) : "";
}

// A usable time from a patch: absurd ones are ignored, as decoding an Event ignores them.
void later_time(const Value* v, Micros* time) {
  auto t = parse_rfc3339(text(v));
  if (t && *t >= kMinEventTime && *t < kMaxEventTime) {
    *time = std::max(*time, *t);
  }
}

}  // namespace

bool CarriedEvents::may_carry(const AuditEvent& a) {
  if (!a.object_ref || a.stage != Stage::kResponseComplete || a.object_ref->resource != "events" ||
      !a.object_ref->subresource.empty()) {
    return false;
  }
  if (a.response_code != 0 && (a.response_code < 200 || a.response_code >= 300)) {
    return false;  // a refused write stored no Event
  }
  if (!a.has_request_object && !a.has_response_object) {
    return false;
  }
  return a.verb == "create" || a.verb == "update" || a.verb == "patch";
}

bool CarriedEvents::extract(const AuditEvent& a, KubeEvent* out) {
  if (!may_carry(a)) {
    return false;
  }
  rapidjson::Document doc;
  if (!json::parse(a.json, &doc).is_ok() || !doc.IsObject()) {
    return false;
  }
  const Value* request = member(doc, "requestObject");
  const Value* response = member(doc, "responseObject");
  return extract(a, request, response, out);
}

bool CarriedEvents::extract(const AuditEvent& a, const Value* request, const Value* response,
                            KubeEvent* out) {
  if (!may_carry(a)) {
    return false;
  }
  if (request != nullptr && !request->IsObject()) {
    request = nullptr;
  }
  if (response != nullptr && !response->IsObject()) {
    response = nullptr;
  }
  const Value* body = response != nullptr ? response : request;
  KubeEvent ev;
  std::string why;
  if (body != nullptr && decode_kube_event_object(*body, &ev, &why)) {
    if (ev.namespace_.empty() && !a.object_ref->namespace_.empty()) {
      ev.namespace_ = a.object_ref->namespace_;  // a create's body may leave it to the URL
    }
    if (ev.name.empty() && ev.uid.empty()) {
      return false;
    }
  } else if (request != nullptr && a.verb == "patch") {
    // A Request-level patch carries only what changed: it applies to the Event as last seen.
    auto it = bodies_.find(a.object_ref->namespace_ + "/" + a.object_ref->name);
    if (it == bodies_.end()) {
      return false;
    }
    ev = it->second;
    if (const Value* c = member(*request, "count"); c != nullptr && c->IsInt64()) {
      const std::int64_t n = c->GetInt64();
      if (n < 0 || n > kMaxEventCount) {
        return false;
      }
      ev.count = n;
    }
    if (const Value* series = member(*request, "series"); series != nullptr) {
      if (const Value* c = member(*series, "count"); c != nullptr && c->IsInt64()) {
        ev.count = std::max(ev.count, std::min(c->GetInt64(), kMaxEventCount));
      }
      later_time(member(*series, "lastObservedTime"), &ev.last_time);
    }
    later_time(member(*request, "lastTimestamp"), &ev.last_time);
    later_time(member(*request, "deprecatedLastTimestamp"), &ev.last_time);
    if (std::string m = text(member(*request, "message")); !m.empty()) {
      ev.message = std::move(m);
    }
  } else {
    return false;
  }
  ev.carried = true;
  if (bodies_.size() >= max_bodies_) {
    bodies_.clear();
  }
  bodies_[ev.namespace_ + "/" + ev.name] = ev;
  *out = std::move(ev);
  return true;
}

void CarriedEventsProcessor::process(Batch& batch, BatchOutcome& /*outcome*/) {
  if (batch.audit.empty()) {
    return;
  }
  CarriedEvents& events = by_cluster_[batch.cluster];
  for (const AuditEvent& a : batch.audit) {
    KubeEvent ev;
    if (events.extract(a, &ev)) {
      batch.events.push_back(std::move(ev));
    }
  }
}

void CarriedEventsProcessor::remember(const AuditEvent& audit, const std::string& cluster) {
  KubeEvent ignored;
  by_cluster_[cluster].extract(audit, &ignored);
}

}  // namespace ktrail
