#include "processors/redact_processor.h"

#include <string_view>

#include "core/json.h"
#include "processors/event_json.h"

namespace ktrail {
namespace {

using rapidjson::Value;
using Allocator = rapidjson::Document::AllocatorType;

constexpr std::string_view kLastApplied = "kubectl.kubernetes.io/last-applied-configuration";

std::string_view kind_of(const Value& v) {
  auto it = v.FindMember("kind");
  if (it == v.MemberEnd() || !it->value.IsString()) {
    return {};
  }
  return {it->value.GetString(), it->value.GetStringLength()};
}

bool redact_value(Value* v, Allocator& alloc) {
  if (v->IsNull()) {
    return false;
  }
  const std::string marker =
      v->IsString() ? redaction_marker(v->GetStringLength()) : std::string("<redacted>");
  v->SetString(marker.data(), static_cast<rapidjson::SizeType>(marker.size()), alloc);
  return true;
}

bool redact_map(Value* map, Allocator& alloc) {
  if (!map->IsObject()) {
    return map->IsNull() ? false : redact_value(map, alloc);
  }
  bool changed = false;
  for (auto& m : map->GetObject()) {
    changed = redact_value(&m.value, alloc) || changed;
  }
  return changed;
}

bool redact_secret(Value* secret, Allocator& alloc) {
  bool changed = false;
  for (const char* key : {"data", "stringData"}) {
    auto it = secret->FindMember(key);
    if (it != secret->MemberEnd()) {
      changed = redact_map(&it->value, alloc) || changed;
    }
  }
  auto meta = secret->FindMember("metadata");
  if (meta != secret->MemberEnd() && meta->value.IsObject()) {
    auto ann = meta->value.FindMember("annotations");
    if (ann != meta->value.MemberEnd() && ann->value.IsObject()) {
      auto last = ann->value.FindMember(
          Value(kLastApplied.data(), static_cast<rapidjson::SizeType>(kLastApplied.size())));
      if (last != ann->value.MemberEnd()) {
        changed = redact_value(&last->value, alloc) || changed;
      }
    }
  }
  return changed;
}

// JSON patch: [{"op":"add","path":"/data/key","value":"..."}, ...].
bool redact_json_patch(Value* ops, Allocator& alloc) {
  bool changed = false;
  for (auto& op : ops->GetArray()) {
    if (!op.IsObject()) {
      continue;
    }
    auto path = op.FindMember("path");
    auto value = op.FindMember("value");
    if (path == op.MemberEnd() || !path->value.IsString() || value == op.MemberEnd()) {
      continue;
    }
    const std::string_view p(path->value.GetString(), path->value.GetStringLength());
    for (std::string_view field : {"/data", "/stringData"}) {
      if (p == field) {
        changed = redact_map(&value->value, alloc) || changed;
      } else if (p.size() > field.size() && p.substr(0, field.size()) == field &&
                 p[field.size()] == '/') {
        changed = redact_value(&value->value, alloc) || changed;
      }
    }
  }
  return changed;
}

// `secret_context`: objects without a kind are Secrets (a secrets event, a SecretList's items).
bool redact_object(Value* v, bool secret_context, Allocator& alloc, int depth = 0) {
  if (depth > 4) {
    return false;
  }
  if (v->IsArray()) {
    return secret_context && redact_json_patch(v, alloc);
  }
  if (!v->IsObject()) {
    return false;
  }
  const std::string_view kind = kind_of(*v);
  bool changed = false;
  if (kind == "Secret" || (kind.empty() && secret_context)) {
    changed = redact_secret(v, alloc);
  }
  auto items = v->FindMember("items");
  if (items != v->MemberEnd() && items->value.IsArray() && kind != "Secret") {
    const bool items_are_secrets = secret_context || kind == "SecretList";
    for (auto& item : items->value.GetArray()) {
      changed = redact_object(&item, items_are_secrets, alloc, depth + 1) || changed;
    }
  }
  if (kind == "Table") {
    auto rows = v->FindMember("rows");
    if (rows != v->MemberEnd() && rows->value.IsArray()) {
      for (auto& row : rows->value.GetArray()) {
        if (row.IsObject()) {
          auto obj = row.FindMember("object");
          if (obj != row.MemberEnd()) {
            changed = redact_object(&obj->value, false, alloc, depth + 1) || changed;
          }
        }
      }
    }
  }
  return changed;
}

bool is_secrets_event(const AuditEvent& e) {
  return e.object_ref && e.object_ref->resource == "secrets" && e.object_ref->api_group.empty();
}

}  // namespace

std::string redaction_marker(std::size_t bytes) {
  return "<redacted: " + std::to_string(bytes) + " bytes>";
}

Result<bool> redact_secrets(AuditEvent* event) {
  if (!event->has_request_object && !event->has_response_object) {
    return false;
  }
  const bool secrets_event = is_secrets_event(*event);
  if (!secrets_event && !contains(event->json, "\"Secret")) {
    return false;  // no Secret kind anywhere: nothing to look at
  }
  rapidjson::Document doc;
  Status s = parse_event_json(*event, &doc);
  if (!s.is_ok()) {
    return s;
  }
  bool changed = false;
  for (const char* key : {"requestObject", "responseObject"}) {
    auto it = doc.FindMember(key);
    if (it != doc.MemberEnd()) {
      changed = redact_object(&it->value, secrets_event, doc.GetAllocator()) || changed;
    }
  }
  if (changed) {
    store_event_json(doc, event);
  }
  return changed;
}

RedactProcessor::RedactProcessor(RedactProcessorOptions options) {
  redacted_ = &options.metrics->get("ktrail_redacted_events_total", MetricType::kCounter,
                                    "Audit events whose Secret values were redacted");
  rejected_ = &options.metrics->get("ktrail_processor_rejected_total", MetricType::kCounter,
                                    "Audit events dead-lettered by a processing stage, by stage",
                                    "stage=\"redact\"");
}

void RedactProcessor::process(Batch& batch, BatchOutcome& /*outcome*/) {
  std::size_t kept = 0;
  for (std::size_t i = 0; i < batch.audit.size(); ++i) {
    AuditEvent& e = batch.audit[i];
    auto r = redact_secrets(&e);
    if (!r) {
      // Storing it unredacted is not an option: keep it aside, with its value cut out.
      rapidjson::Document stub(rapidjson::kObjectType);
      stub.AddMember("auditID", rapidjson::StringRef(e.audit_id.data(), e.audit_id.size()),
                     stub.GetAllocator());
      batch.rejected.push_back(
          {"secret redaction failed: " + r.status().message(), json::to_compact(stub)});
      rejected_->add();
      continue;
    }
    if (*r) {
      redacted_->add();
    }
    if (kept != i) {
      batch.audit[kept] = std::move(e);
    }
    ++kept;
  }
  batch.audit.resize(kept);
}

}  // namespace ktrail
