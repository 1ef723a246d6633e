#include "processors/event_json.h"

#include <cstring>

#include "core/json.h"

namespace ktrail {

Status parse_event_json(const AuditEvent& event, rapidjson::Document* doc) {
  Status s = json::parse(event.json, doc);
  if (!s.is_ok()) {
    return s;
  }
  if (!doc->IsObject()) {
    return internal_error("audit event JSON is not an object");
  }
  return Status::ok();
}

void store_event_json(const rapidjson::Document& doc, AuditEvent* event) {
  auto has = [&](const char* key) {
    auto it = doc.FindMember(key);
    return it != doc.MemberEnd() && !it->value.IsNull();
  };
  event->has_request_object = has("requestObject");
  event->has_response_object = has("responseObject");
  event->json = json::to_compact(doc);
}

namespace {

bool remove_from_one(rapidjson::Value* object) {
  if (!object->IsObject()) {
    return false;
  }
  auto meta = object->FindMember("metadata");
  if (meta == object->MemberEnd() || !meta->value.IsObject()) {
    return false;
  }
  return meta->value.RemoveMember("managedFields");
}

}  // namespace

bool remove_managed_fields(rapidjson::Value* object) {
  if (!object->IsObject()) {
    return false;
  }
  bool removed = remove_from_one(object);
  auto items = object->FindMember("items");
  if (items != object->MemberEnd() && items->value.IsArray()) {
    for (auto& item : items->value.GetArray()) {
      removed = remove_from_one(&item) || removed;
    }
  }
  auto rows = object->FindMember("rows");
  if (rows != object->MemberEnd() && rows->value.IsArray()) {
    for (auto& row : rows->value.GetArray()) {
      if (!row.IsObject()) {
        continue;
      }
      auto inner = row.FindMember("object");
      if (inner != row.MemberEnd()) {
        removed = remove_from_one(&inner->value) || removed;
      }
    }
  }
  return removed;
}

bool contains(std::string_view haystack, std::string_view needle) {
  return haystack.find(needle) != std::string_view::npos;
}

}  // namespace ktrail
