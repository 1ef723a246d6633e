#include "processors/secret_redaction.h"

#include <openssl/evp.h>

#include <cstdio>
#include <optional>
#include <vector>

#include "core/json.h"

namespace ktrail {
namespace {

using rapidjson::Value;
using Allocator = rapidjson::Document::AllocatorType;

constexpr std::string_view kLastApplied = "kubectl.kubernetes.io/last-applied-configuration";

std::string_view view(const Value& v) { return {v.GetString(), v.GetStringLength()}; }

bool is_secret_data_key(std::string_view key) { return key == "data" || key == "stringData"; }

// Whether any `kind` member of the object `v` is `kind` (duplicates count).
bool has_kind(const Value& v, std::string_view kind) {
  for (const auto& m : v.GetObject()) {
    if (view(m.name) == "kind" && m.value.IsString() && view(m.value) == kind) {
      return true;
    }
  }
  return false;
}

// Exactly a marker this file writes, "<redacted>" or "<redacted: N bytes>".
bool is_marker(std::string_view s) {
  if (s == "<redacted>") {
    return true;
  }
  constexpr std::string_view kOpen = "<redacted: ";
  constexpr std::string_view kClose = " bytes>";
  if (s.size() <= kOpen.size() + kClose.size() || !s.starts_with(kOpen) || !s.ends_with(kClose)) {
    return false;
  }
  const std::string_view digits = s.substr(kOpen.size(), s.size() - kOpen.size() - kClose.size());
  for (char c : digits) {
    if (c < '0' || c > '9') {
      return false;
    }
  }
  return digits.size() <= 20;
}

bool redact_value(Value* v, Allocator& alloc) {
  if (v->IsNull()) {
    return false;
  }
  if (v->IsString() && is_marker(view(*v))) {
    return false;  // redacting twice changes nothing (dead letters of redacted events)
  }
  const std::string marker =
      v->IsString() ? redaction_marker(v->GetStringLength()) : std::string("<redacted>");
  v->SetString(marker.data(), static_cast<rapidjson::SizeType>(marker.size()), alloc);
  return true;
}

// The value of a data or stringData member: each entry's value, or the whole if not a map.
bool redact_map(Value* map, Allocator& alloc) {
  if (!map->IsObject()) {
    return redact_value(map, alloc);
  }
  bool changed = false;
  for (auto& m : map->GetObject()) {
    changed = redact_value(&m.value, alloc) || changed;
  }
  return changed;
}

// An annotations map: its last-applied-configuration members (all of them).
bool redact_annotations(Value* annotations, Allocator& alloc) {
  if (!annotations->IsObject()) {
    return false;
  }
  bool changed = false;
  for (auto& m : annotations->GetObject()) {
    if (view(m.name) == kLastApplied) {
      changed = redact_value(&m.value, alloc) || changed;
    }
  }
  return changed;
}

// A metadata object: its annotations members (all of them).
bool redact_metadata(Value* metadata, Allocator& alloc) {
  if (!metadata->IsObject()) {
    return false;
  }
  bool changed = false;
  for (auto& m : metadata->GetObject()) {
    if (view(m.name) == "annotations") {
      changed = redact_annotations(&m.value, alloc) || changed;
    }
  }
  return changed;
}

// RFC 6901: "/a~1b/c" -> {"a/b", "c"}; nullopt if it is not a pointer.
std::optional<std::vector<std::string>> decode_pointer(std::string_view p) {
  std::vector<std::string> tokens;
  if (p.empty()) {
    return tokens;
  }
  if (p.front() != '/') {
    return std::nullopt;
  }
  std::string token;
  for (std::size_t i = 1; i <= p.size(); ++i) {
    if (i == p.size() || p[i] == '/') {
      tokens.push_back(std::move(token));
      token.clear();
      continue;
    }
    if (p[i] == '~') {
      if (i + 1 == p.size() || (p[i + 1] != '0' && p[i + 1] != '1')) {
        return std::nullopt;
      }
      token.push_back(p[i + 1] == '0' ? '~' : '/');
      ++i;
      continue;
    }
    token.push_back(p[i]);
  }
  return tokens;
}

bool walk(Value* v, SecretScope scope, bool is_secret, Allocator& alloc);

// The value a JSON-patch operation writes at `path` in a Secret.
bool redact_patch_value(Value* value, std::string_view path, Allocator& alloc) {
  const auto tokens = decode_pointer(path);
  if (!tokens) {
    return redact_value(value, alloc);
  }
  const auto& t = *tokens;
  if (t.empty()) {
    return walk(value, SecretScope::kAllObjects, true, alloc);  // the whole object
  }
  if (is_secret_data_key(t[0])) {
    return t.size() == 1 ? redact_map(value, alloc) : redact_value(value, alloc);
  }
  if (t[0] == "metadata") {
    if (t.size() == 1) {
      return redact_metadata(value, alloc);
    }
    if (t[1] == "annotations") {
      if (t.size() == 2) {
        return redact_annotations(value, alloc);
      }
      if (t[2] == kLastApplied) {
        return redact_value(value, alloc);
      }
    }
    return false;
  }
  // Anywhere else: whatever object it writes is walked as the rest of the event is.
  return walk(value, SecretScope::kAllObjects, false, alloc);
}

// One element of an array that may be a JSON patch: an object with "path" members.
bool redact_patch_op(Value* op, Allocator& alloc) {
  int paths = 0;
  std::string_view path;
  bool readable = true;
  for (const auto& m : op->GetObject()) {
    if (view(m.name) == "path") {
      ++paths;
      if (m.value.IsString()) {
        path = view(m.value);
      } else {
        readable = false;
      }
    }
  }
  if (paths == 0) {
    return false;
  }
  bool changed = false;
  for (auto& m : op->GetObject()) {
    if (view(m.name) != "value") {
      continue;
    }
    // Two paths (a key given twice) or one that is not a string: the target is unknown.
    changed = (paths == 1 && readable ? redact_patch_value(&m.value, path, alloc)
                                      : redact_value(&m.value, alloc)) ||
              changed;
  }
  return changed;
}

// `is_secret`: `v` is known to be a Secret (an item of a SecretList, or any object in scope
// kAllObjects).
bool walk(Value* v, SecretScope scope, bool is_secret, Allocator& alloc) {
  const bool all = scope == SecretScope::kAllObjects;
  bool changed = false;
  if (v->IsArray()) {
    for (auto& element : v->GetArray()) {
      if (all && element.IsObject()) {
        changed = redact_patch_op(&element, alloc) || changed;
      }
      changed = walk(&element, scope, all, alloc) || changed;
    }
    return changed;
  }
  if (!v->IsObject()) {
    return false;
  }
  const bool secret = is_secret || all || has_kind(*v, "Secret");
  const bool secret_list = all || has_kind(*v, "SecretList");
  for (auto& m : v->GetObject()) {
    const std::string_view key = view(m.name);
    if (secret && is_secret_data_key(key)) {
      changed = redact_map(&m.value, alloc) || changed;
      continue;
    }
    if (secret && key == "metadata") {
      changed = redact_metadata(&m.value, alloc) || changed;
    }
    if (secret_list && key == "items" && m.value.IsArray()) {
      for (auto& item : m.value.GetArray()) {
        changed = walk(&item, scope, true, alloc) || changed;
      }
      continue;
    }
    changed = walk(&m.value, scope, all, alloc) || changed;
  }
  return changed;
}

bool names_secrets(const Value& object_ref) {
  if (!object_ref.IsObject()) {
    return false;
  }
  for (const auto& m : object_ref.GetObject()) {
    if (view(m.name) == "resource" && m.value.IsString() && view(m.value) == "secrets") {
      return true;
    }
  }
  return false;
}

std::string sha256_hex(std::string_view text) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  EVP_Digest(text.data(), text.size(), digest, &size, EVP_sha256(), nullptr);
  std::string hex;
  hex.reserve(2 * size);
  for (unsigned int i = 0; i < size; ++i) {
    char byte[3];
    std::snprintf(byte, sizeof byte, "%02x", digest[i]);
    hex.append(byte, 2);
  }
  return hex;
}

// Strings that hold JSON text: records of managed services' exports carry the audit event as a
// string (AKS' properties.log, an EKS log event's message), and so may anything else a dead
// letter holds, even encoded twice over. Each such string is parsed and walked like the dead
// letter itself; one that looks like JSON but does not parse (cut short) cannot be shown free of
// secrets and is replaced by a marker of its size, as is embedding deeper than a few levels.
bool redact_embedded(Value* v, Allocator& alloc, int depth) {
  constexpr int kMaxDepth = 8;
  bool changed = false;
  if (v->IsObject()) {
    for (auto& m : v->GetObject()) {
      changed = redact_embedded(&m.value, alloc, depth) || changed;
    }
    return changed;
  }
  if (v->IsArray()) {
    for (auto& item : v->GetArray()) {
      changed = redact_embedded(&item, alloc, depth) || changed;
    }
    return changed;
  }
  if (!v->IsString()) {
    return false;
  }
  const std::string_view text = view(*v);
  const std::size_t first = text.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos ||
      (text[first] != '{' && text[first] != '[' && text[first] != '"')) {
    return false;
  }
  rapidjson::Document inner;
  if (depth < kMaxDepth && json::parse(text, &inner).is_ok()) {
    // A JSON string literal inside the string: JSON encoded twice over.
    bool inner_changed =
        !inner.IsString() &&
        redact_secret_values(&inner, SecretScope::kAllObjects, inner.GetAllocator());
    inner_changed = redact_embedded(&inner, inner.GetAllocator(), depth + 1) || inner_changed;
    if (!inner_changed) {
      return false;
    }
    const std::string redacted = json::to_compact(inner);
    v->SetString(redacted.c_str(), static_cast<rapidjson::SizeType>(redacted.size()), alloc);
    return true;
  }
  const std::string marker = redaction_marker(text.size());
  v->SetString(marker.c_str(), static_cast<rapidjson::SizeType>(marker.size()), alloc);
  return true;
}

}  // namespace

std::string redaction_marker(std::size_t bytes) {
  return "<redacted: " + std::to_string(bytes) + " bytes>";
}

bool redact_secret_values(Value* value, SecretScope scope, Allocator& alloc) {
  return walk(value, scope, scope == SecretScope::kAllObjects, alloc);
}

bool redact_audit_event_value(Value* event, Allocator& alloc) {
  if (!event->IsObject()) {
    return false;
  }
  bool secrets_event = false;
  for (const auto& m : event->GetObject()) {
    if (view(m.name) == "objectRef" && names_secrets(m.value)) {
      secrets_event = true;
    }
  }
  const SecretScope scope = secrets_event ? SecretScope::kAllObjects : SecretScope::kByKind;
  bool changed = false;
  for (auto& m : event->GetObject()) {
    const std::string_view key = view(m.name);
    if (key == "requestObject" || key == "responseObject") {
      changed = redact_secret_values(&m.value, scope, alloc) || changed;
    }
  }
  return changed;
}

bool may_hold_secret(std::string_view event_json) {
  // "Secret" and "SecretList" kinds, the resource "secrets", and any \u escape (which could
  // spell either) are the only ways in.
  return event_json.find("Secret") != std::string_view::npos ||
         event_json.find("secrets") != std::string_view::npos ||
         event_json.find("\\u") != std::string_view::npos;
}

Result<bool> redact_audit_event_text(std::string* json) {
  if (!may_hold_secret(*json)) {
    return false;
  }
  rapidjson::Document doc;
  KTRAIL_RETURN_IF_ERROR(json::parse(*json, &doc));
  if (!doc.IsObject()) {
    return internal_error("audit event JSON is not an object");
  }
  if (!redact_audit_event_value(&doc, doc.GetAllocator())) {
    return false;
  }
  *json = json::to_compact(doc);
  return true;
}

bool redact_dead_letter(std::string* raw, std::string* reason) {
  rapidjson::Document doc;
  if (json::parse(*raw, &doc).is_ok() && (doc.IsObject() || doc.IsArray())) {
    bool changed = redact_secret_values(&doc, SecretScope::kAllObjects, doc.GetAllocator());
    changed = redact_embedded(&doc, doc.GetAllocator(), 0) || changed;
    if (!changed) {
      return false;
    }
    *raw = json::to_compact(doc);
    return true;
  }
  const std::size_t bytes = raw->size();
  const std::string hash = sha256_hex(*raw);
  *raw = "{\"bytes\":" + std::to_string(bytes) + ",\"sha256\":\"" + hash + "\"}";
  reason->append(" (content not kept: it is not a JSON object or array, so it cannot be "
                 "shown to be free of secret values; kept its size and SHA-256)");
  return true;
}

}  // namespace ktrail
