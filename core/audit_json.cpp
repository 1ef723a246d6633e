#include "core/audit_json.h"

#include <rapidjson/document.h>
#include <rapidjson/error/en.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "core/audit_json_fast.h"
#include "core/json.h"

namespace ktrail {
namespace {

using rapidjson::Value;

// Reads an optional string member; a member of another type is an error.
bool read_string(const Value& obj, const char* key, std::string* out, std::string* why) {
  auto it = obj.FindMember(key);
  if (it == obj.MemberEnd() || it->value.IsNull()) {
    return true;
  }
  if (!it->value.IsString()) {
    *why = std::string("field '") + key + "' is not a string";
    return false;
  }
  out->assign(it->value.GetString(), it->value.GetStringLength());
  return true;
}

bool read_string_array(const Value& obj, const char* key, std::vector<std::string>* out,
                       std::string* why) {
  auto it = obj.FindMember(key);
  if (it == obj.MemberEnd() || it->value.IsNull()) {
    return true;
  }
  if (!it->value.IsArray()) {
    *why = std::string("field '") + key + "' is not an array of strings";
    return false;
  }
  for (const auto& item : it->value.GetArray()) {
    if (!item.IsString()) {
      *why = std::string("field '") + key + "' is not an array of strings";
      return false;
    }
    out->emplace_back(item.GetString(), item.GetStringLength());
  }
  return true;
}

bool read_user(const Value& obj, const char* key, std::optional<UserInfo>* out, std::string* why) {
  auto it = obj.FindMember(key);
  if (it == obj.MemberEnd() || it->value.IsNull()) {
    return true;
  }
  if (!it->value.IsObject()) {
    *why = std::string("field '") + key + "' is not an object";
    return false;
  }
  UserInfo user;
  if (!read_string(it->value, "username", &user.username, why) ||
      !read_string(it->value, "uid", &user.uid, why) ||
      !read_string_array(it->value, "groups", &user.groups, why)) {
    return false;
  }
  *out = std::move(user);
  return true;
}

bool read_time(const Value& obj, const char* key, Micros* out, std::string* why) {
  auto it = obj.FindMember(key);
  if (it == obj.MemberEnd() || !it->value.IsString()) {
    *why = std::string("missing or non-string '") + key + "'";
    return false;
  }
  auto parsed = parse_rfc3339({it->value.GetString(), it->value.GetStringLength()});
  if (!parsed) {
    *why = std::string("bad '") + key + "': " + parsed.status().message();
    return false;
  }
  *out = *parsed;
  return true;
}

// v1 events carry requestReceivedTimestamp and stageTimestamp. v1beta1 events of old clusters
// (before 1.10) carry only `timestamp` and `metadata.creationTimestamp`; both stand in then.
bool read_event_times(const Value& v, AuditEvent* event, std::string* why) {
  const bool has_received = v.HasMember("requestReceivedTimestamp");
  const bool has_stage = v.HasMember("stageTimestamp");
  if (has_received || has_stage) {
    return read_time(v, "requestReceivedTimestamp", &event->request_received, why) &&
           read_time(v, "stageTimestamp", &event->stage_time, why);
  }
  if (v.HasMember("timestamp")) {
    if (!read_time(v, "timestamp", &event->request_received, why)) {
      return false;
    }
    event->stage_time = event->request_received;
    auto meta = v.FindMember("metadata");
    if (meta != v.MemberEnd() && meta->value.IsObject() &&
        meta->value.HasMember("creationTimestamp")) {
      return read_time(meta->value, "creationTimestamp", &event->stage_time, why);
    }
    return true;
  }
  *why = "missing 'requestReceivedTimestamp' and 'stageTimestamp'";
  return false;
}

// `raw`: the source text of `v` when known (else empty), kept as the event's JSON when it is
// already compact.
bool decode_event(const Value& v, std::string_view raw, AuditEvent* event, std::string* why) {
  if (!v.IsObject()) {
    *why = "item is not a JSON object";
    return false;
  }
  if (!read_string(v, "auditID", &event->audit_id, why)) {
    return false;
  }
  if (event->audit_id.empty()) {
    *why = "missing 'auditID'";
    return false;
  }
  std::string text;
  if (!read_string(v, "stage", &text, why)) {
    return false;
  }
  auto stage = parse_stage(text);
  if (!stage) {
    *why = text.empty() ? "missing 'stage'" : "unknown stage '" + text + "'";
    return false;
  }
  event->stage = *stage;
  text.clear();
  if (!read_string(v, "level", &text, why)) {
    return false;
  }
  bool known = false;
  event->level = parse_level(text, &known);
  event->level_received = event->level;
  if (!known) {
    *why = text.empty() ? "missing 'level'" : "unknown level '" + text + "'";
    return false;
  }
  if (!read_event_times(v, event, why)) {
    return false;
  }
  std::optional<UserInfo> user;
  if (!read_string(v, "verb", &event->verb, why) ||
      !read_string(v, "requestURI", &event->request_uri, why) ||
      !read_user(v, "user", &user, why) ||
      !read_user(v, "impersonatedUser", &event->impersonated_user, why) ||
      !read_string_array(v, "sourceIPs", &event->source_ips, why) ||
      !read_string(v, "userAgent", &event->user_agent, why)) {
    return false;
  }
  if (user) {
    event->user = std::move(*user);
  }
  auto ref = v.FindMember("objectRef");
  if (ref != v.MemberEnd() && !ref->value.IsNull()) {
    if (!ref->value.IsObject()) {
      *why = "field 'objectRef' is not an object";
      return false;
    }
    ObjectRef r;
    const Value& o = ref->value;
    if (!read_string(o, "resource", &r.resource, why) ||
        !read_string(o, "namespace", &r.namespace_, why) || !read_string(o, "name", &r.name, why) ||
        !read_string(o, "uid", &r.uid, why) || !read_string(o, "apiGroup", &r.api_group, why) ||
        !read_string(o, "apiVersion", &r.api_version, why) ||
        !read_string(o, "resourceVersion", &r.resource_version, why) ||
        !read_string(o, "subresource", &r.subresource, why)) {
      return false;
    }
    event->object_ref = std::move(r);
  }
  auto status = v.FindMember("responseStatus");
  if (status != v.MemberEnd() && !status->value.IsNull()) {
    if (!status->value.IsObject()) {
      *why = "field 'responseStatus' is not an object";
      return false;
    }
    auto code = status->value.FindMember("code");
    if (code != status->value.MemberEnd()) {
      if (!code->value.IsInt()) {
        *why = "field 'responseStatus.code' is not an integer";
        return false;
      }
      event->response_code = code->value.GetInt();
    }
  }
  auto has = [&](const char* key) {
    auto it = v.FindMember(key);
    return it != v.MemberEnd() && !it->value.IsNull();
  };
  event->has_request_object = has("requestObject");
  event->has_response_object = has("responseObject");
  if (!raw.empty() && json::is_compact_object(raw)) {
    event->json.assign(raw);
  } else {
    event->json = json::to_compact(v);
  }
  return true;
}

void decode_item(const Value& item, DecodedAudit* out, std::string_view raw = {}) {
  AuditEvent event;
  std::string why;
  if (decode_event(item, raw, &event, &why)) {
    out->events.push_back(std::move(event));
  } else {
    out->rejected.push_back({"not an audit event: " + why, json::to_compact(item)});
  }
}

// The fast path over the whole text; nullopt when it declined (the document path then runs).
std::optional<DecodedAudit> decode_fast(std::string_view text) {
  fast_audit::DocumentResult fast;
  if (!fast_audit::decode_document(text, &fast)) {
    return std::nullopt;
  }
  DecodedAudit out;
  out.events.reserve(fast.items.size());
  for (auto& item : fast.items) {
    if (!item.is_slow) {
      out.events.push_back(std::move(item.event));
      continue;
    }
    // One unusual item: decoded as the document path decodes items (its text re-serialised).
    rapidjson::Document doc;
    if (!json::parse(item.slow, &doc).is_ok()) {
      return std::nullopt;
    }
    decode_item(doc, &out);
  }
  return out;
}

}  // namespace

Result<DecodedAudit> decode_audit_document(std::string_view text) {
  if (auto fast = decode_fast(text)) {
    return std::move(*fast);
  }
  return decode_audit_document_via_dom(text);
}

Result<DecodedAudit> decode_audit_document_via_dom(std::string_view text) {
  rapidjson::Document doc;
  auto parsed = json::parse(text, &doc);
  if (!parsed.is_ok()) {
    return parsed;
  }
  DecodedAudit out;
  if (doc.IsArray()) {
    for (const auto& item : doc.GetArray()) {
      decode_item(item, &out);
    }
    return out;
  }
  if (!doc.IsObject()) {
    return invalid_argument("expected an audit EventList or Event object, got a JSON scalar");
  }
  auto items = doc.FindMember("items");
  if (items != doc.MemberEnd()) {
    if (!items->value.IsArray()) {
      return invalid_argument("'items' of the EventList is not an array");
    }
    for (const auto& item : items->value.GetArray()) {
      decode_item(item, &out);
    }
    return out;
  }
  if (json::get_string(doc, "kind") == "EventList") {
    return out;  // an EventList with no items: nothing to store
  }
  // A single Event: the text is the event, kept as is when already compact (Kafka messages).
  decode_item(doc, &out, text);
  return out;
}

void decode_audit_line(std::string_view line, DecodedAudit* out) {
  AuditEvent event;
  if (fast_audit::decode_line(line, &event)) {
    out->events.push_back(std::move(event));
    return;
  }
  decode_audit_line_via_dom(line, out);
}

void decode_audit_line_via_dom(std::string_view line, DecodedAudit* out) {
  rapidjson::Document doc;
  auto parsed = json::parse(line, &doc);
  if (!parsed.is_ok()) {
    out->rejected.push_back({parsed.message(), std::string(line)});
    return;
  }
  decode_item(doc, out, line);
}

}  // namespace ktrail
