#include "core/kube_event_json.h"

#include <algorithm>

#include "core/json.h"

namespace ktrail {
namespace {

using rapidjson::Value;

const Value* member(const Value& obj, const char* key) {
  auto it = obj.FindMember(key);
  if (it == obj.MemberEnd() || it->value.IsNull()) {
    return nullptr;
  }
  return &it->value;
}

// Reads an optional string member; a member of another type is an error.
bool read_string(const Value& obj, const char* key, std::string* out, std::string* why) {
  const Value* v = member(obj, key);
  if (v == nullptr) {
    return true;
  }
  if (!v->IsString()) {
    *why = std::string("field '") + key + "' is not a string";
    return false;
  }
  out->assign(v->GetString(), v->GetStringLength());
  return true;
}

// Reads an optional timestamp (Time or MicroTime). Absent, null and "" leave `out` at 0.
bool read_time(const Value& obj, const char* key, Micros* out, std::string* why) {
  const Value* v = member(obj, key);
  if (v == nullptr) {
    return true;
  }
  if (!v->IsString()) {
    *why = std::string("field '") + key + "' is not a timestamp string";
    return false;
  }
  if (v->GetStringLength() == 0) {
    return true;
  }
  auto parsed = parse_rfc3339({v->GetString(), v->GetStringLength()});
  if (!parsed) {
    *why = std::string("bad '") + key + "': " + parsed.status().message();
    return false;
  }
  if (*parsed < kMinEventTime || *parsed >= kMaxEventTime) {
    *why = std::string("absurd '") + key + "': " + std::string(v->GetString());
    return false;
  }
  *out = *parsed;
  return true;
}

bool read_count(const Value& obj, const char* key, std::int64_t* out, std::string* why) {
  const Value* v = member(obj, key);
  if (v == nullptr) {
    return true;
  }
  if (!v->IsInt64()) {
    *why = std::string("field '") + key + "' is not an integer";
    return false;
  }
  std::int64_t n = v->GetInt64();
  if (n < 0 || n > kMaxEventCount) {
    *why = std::string("absurd '") + key + "': " + std::to_string(n);
    return false;
  }
  *out = n;
  return true;
}

bool read_object_ref(const Value& v, InvolvedObject* out, std::string* why) {
  if (!v.IsObject()) {
    *why = "involved object is not an object";
    return false;
  }
  return read_string(v, "kind", &out->kind, why) &&
         read_string(v, "namespace", &out->namespace_, why) &&
         read_string(v, "name", &out->name, why) && read_string(v, "uid", &out->uid, why) &&
         read_string(v, "apiVersion", &out->api_version, why) &&
         read_string(v, "fieldPath", &out->field_path, why);
}

bool is_watch_line(const Value& v) {
  if (!v.IsObject()) {
    return false;
  }
  const Value* type = member(v, "type");
  const Value* object = member(v, "object");
  return type != nullptr && type->IsString() && object != nullptr && object->IsObject();
}

bool is_list(const Value& v) {
  if (!v.IsObject()) {
    return false;
  }
  const Value* items = member(v, "items");
  return items != nullptr;
}

void decode_item(const Value& item, bool deleted, DecodedKubeEvents* out) {
  KubeEvent event;
  std::string why;
  if (decode_kube_event_object(item, &event, &why)) {
    event.deleted = deleted;
    out->events.push_back(std::move(event));
  } else {
    out->rejected.push_back({"not a Kubernetes Event: " + why, json::to_compact(item)});
  }
}

void decode_value(const Value& v, DecodedKubeEvents* out);

void decode_list(const Value& items, const Value& whole, DecodedKubeEvents* out) {
  if (!items.IsArray()) {
    out->rejected.push_back({"'items' of the list is not an array", json::to_compact(whole)});
    return;
  }
  for (const auto& item : items.GetArray()) {
    decode_item(item, false, out);
  }
}

void decode_value(const Value& v, DecodedKubeEvents* out) {
  if (v.IsArray()) {
    for (const auto& item : v.GetArray()) {
      if (is_watch_line(item)) {
        decode_value(item, out);
      } else {
        decode_item(item, false, out);
      }
    }
    return;
  }
  if (is_watch_line(v)) {
    std::string_view type = json::get_string(v, "type");
    const Value& object = v["object"];
    if (type == "ADDED" || type == "MODIFIED" || type == "DELETED") {
      decode_item(object, type == "DELETED", out);
    } else if (type == "BOOKMARK") {
      // A bookmark carries only a resourceVersion: nothing to store, nothing lost.
    } else {
      out->rejected.push_back(
          {"watch line with unknown type '" + std::string(type) + "'", json::to_compact(v)});
    }
    return;
  }
  if (is_list(v)) {
    decode_list(v["items"], v, out);
    return;
  }
  decode_item(v, false, out);
}

}  // namespace

bool decode_kube_event_object(const Value& v, KubeEvent* event, std::string* why) {
  if (!v.IsObject()) {
    *why = "item is not a JSON object";
    return false;
  }
  if (!read_string(v, "apiVersion", &event->api_version, why)) {
    return false;
  }
  std::string kind;
  if (!read_string(v, "kind", &kind, why)) {
    return false;
  }
  if (!kind.empty() && kind != "Event") {
    *why = "kind is '" + kind + "', not Event";
    return false;
  }
  const bool new_api = event->api_version.rfind("events.k8s.io/", 0) == 0;
  const Value* metadata = member(v, "metadata");
  Micros created = 0;
  if (metadata != nullptr) {
    if (!metadata->IsObject()) {
      *why = "field 'metadata' is not an object";
      return false;
    }
    if (!read_string(*metadata, "uid", &event->uid, why) ||
        !read_string(*metadata, "name", &event->name, why) ||
        !read_string(*metadata, "namespace", &event->namespace_, why) ||
        !read_time(*metadata, "creationTimestamp", &created, why)) {
      return false;
    }
  }
  // core/v1 names the object involvedObject; events.k8s.io/v1 names it regarding.
  const Value* object = member(v, "regarding");
  if (object == nullptr) {
    object = member(v, "involvedObject");
  }
  if (object == nullptr) {
    *why = "missing 'involvedObject' (or 'regarding')";
    return false;
  }
  if (!read_object_ref(*object, &event->object, why)) {
    return false;
  }
  // Real clusters record Events about a namespace alone ({"namespace":"kube-system"}); only
  // an object that names nothing at all is refused.
  if (event->object.kind.empty() && event->object.name.empty() && event->object.uid.empty() &&
      event->object.namespace_.empty()) {
    *why = "empty 'involvedObject' (no kind, name, namespace or uid)";
    return false;
  }
  if (!read_string(v, "reason", &event->reason, why) ||
      !read_string(v, new_api ? "note" : "message", &event->message, why) ||
      !read_string(v, "type", &event->type, why) ||
      !read_string(v, "action", &event->action, why)) {
    return false;
  }
  if (event->message.empty() &&
      !read_string(v, new_api ? "message" : "note", &event->message, why)) {
    return false;
  }
  std::string controller_key = new_api ? "reportingController" : "reportingComponent";
  if (!read_string(v, controller_key.c_str(), &event->reporting_controller, why) ||
      !read_string(v, "reportingInstance", &event->reporting_instance, why)) {
    return false;
  }
  const Value* source = member(v, new_api ? "deprecatedSource" : "source");
  if (source != nullptr) {
    if (!source->IsObject()) {
      *why = "field 'source' is not an object";
      return false;
    }
    if (!read_string(*source, "component", &event->source_component, why) ||
        !read_string(*source, "host", &event->source_host, why)) {
      return false;
    }
  }
  if (event->source_component.empty()) {
    event->source_component = event->reporting_controller;
  }
  Micros first = 0, last = 0, event_time = 0, series_last = 0;
  std::int64_t count = 0, series_count = 0;
  if (!read_time(v, new_api ? "deprecatedFirstTimestamp" : "firstTimestamp", &first, why) ||
      !read_time(v, new_api ? "deprecatedLastTimestamp" : "lastTimestamp", &last, why) ||
      !read_time(v, "eventTime", &event_time, why) ||
      !read_count(v, new_api ? "deprecatedCount" : "count", &count, why)) {
    return false;
  }
  const Value* series = member(v, "series");
  if (series != nullptr) {
    if (!series->IsObject()) {
      *why = "field 'series' is not an object";
      return false;
    }
    if (!read_count(*series, "count", &series_count, why) ||
        !read_time(*series, "lastObservedTime", &series_last, why)) {
      return false;
    }
  }
  event->first_time = first != 0 ? first : (event_time != 0 ? event_time : created);
  event->last_time = std::max({last, series_last, event_time, event->first_time});
  if (event->first_time == 0) {
    *why = "no timestamp (firstTimestamp, eventTime, lastTimestamp or creationTimestamp)";
    return false;
  }
  event->count = std::max<std::int64_t>({count, series_count, 1});
  if (event->uid.empty()) {
    // Without a uid, the Event is identified by its namespace and name, as the API does.
    if (event->name.empty()) {
      *why = "missing 'metadata.uid' and 'metadata.name'";
      return false;
    }
    event->uid = event->namespace_ + "/" + event->name;
  }
  event->json = json::to_compact(v);
  return true;
}

namespace {

// Returns whether the line was JSON at all (whatever became of its content).
bool decode_line(std::string_view line, DecodedKubeEvents* out) {
  rapidjson::Document doc;
  auto parsed = json::parse(line, &doc);
  if (!parsed.is_ok()) {
    out->rejected.push_back({parsed.message(), std::string(line)});
    return false;
  }
  decode_value(doc, out);
  return true;
}

}  // namespace

void decode_kube_event_line(std::string_view line, DecodedKubeEvents* out) {
  decode_line(line, out);
}

Result<DecodedKubeEvents> decode_kube_events(std::string_view body) {
  DecodedKubeEvents out;
  rapidjson::Document doc;
  auto whole = json::parse(body, &doc);
  if (whole.is_ok()) {
    // The same contract as audit bodies: a JSON scalar is not a document of events at all.
    if (!doc.IsObject() && !doc.IsArray()) {
      return invalid_argument(
          "expected a Kubernetes Event, a list or an array of them, got a JSON scalar");
    }
    decode_value(doc, &out);
    return out;
  }
  // Not one JSON value: JSON lines (an Event stream or a watch stream).
  std::size_t parsed_lines = 0;
  std::size_t pos = 0;
  while (pos <= body.size()) {
    std::size_t end = body.find('\n', pos);
    if (end == std::string_view::npos) {
      end = body.size();
    }
    std::string_view line = body.substr(pos, end - pos);
    pos = end + 1;
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ' || line.back() == '\t')) {
      line.remove_suffix(1);
    }
    if (line.find_first_not_of(" \t") == std::string_view::npos) {
      continue;
    }
    if (decode_line(line, &out)) {
      ++parsed_lines;
    }
  }
  if (parsed_lines == 0) {
    return whole;  // nothing in the body was JSON: the parse error of the whole says why
  }
  return out;
}

StreamKind detect_stream_kind(std::string_view head) {
  // Looks at the first JSON value (or first line): audit events carry auditID and stage;
  // Kubernetes Events carry involvedObject or regarding, or arrive in watch lines.
  std::size_t end = head.find('\n');
  rapidjson::Document doc;
  Status st = json::parse(head, &doc);
  if (!st.is_ok() && end != std::string_view::npos) {
    st = json::parse(head.substr(0, end), &doc);
  }
  if (!st.is_ok()) {
    return StreamKind::kUnknown;
  }
  const Value* probe = &doc;
  if (probe->IsArray()) {
    if (probe->Empty()) {
      return StreamKind::kUnknown;
    }
    probe = &(*probe)[0];
  }
  if (!probe->IsObject()) {
    return StreamKind::kUnknown;
  }
  if (is_watch_line(*probe)) {
    return StreamKind::kEvents;
  }
  std::string_view api = json::get_string(*probe, "apiVersion");
  if (api.rfind("audit.k8s.io/", 0) == 0) {
    return StreamKind::kAudit;
  }
  if (is_list(*probe)) {
    const Value& items = (*probe)["items"];
    if (!items.IsArray() || items.Empty()) {
      return StreamKind::kUnknown;
    }
    probe = &items[0];
    if (!probe->IsObject()) {
      return StreamKind::kUnknown;
    }
  }
  if (probe->HasMember("auditID")) {
    return StreamKind::kAudit;
  }
  if (probe->HasMember("involvedObject") || probe->HasMember("regarding")) {
    return StreamKind::kEvents;
  }
  return StreamKind::kUnknown;
}

}  // namespace ktrail
