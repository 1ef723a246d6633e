// Differential: the audit decoder's fast path (core/audit_json_fast.h) must decode exactly what
// the document path decodes, or decline, whatever the bytes; and whatever either path keeps is
// valid UTF-8 and valid JSON. The input is tried as a whole body and as one log line.
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "core/audit_json.h"
#include "core/json.h"

namespace {

[[noreturn]] void differ(const char* what) {
  std::fprintf(stderr, "fast path and document path differ: %s\n", what);
  std::abort();
}

void same_user(const ktrail::UserInfo& a, const ktrail::UserInfo& b) {
  if (a.username != b.username || a.uid != b.uid || a.groups != b.groups) differ("user");
}

void same_event(const ktrail::AuditEvent& a, const ktrail::AuditEvent& b) {
  if (a.audit_id != b.audit_id || a.stage != b.stage || a.level != b.level ||
      a.level_received != b.level_received || a.verb != b.verb ||
      a.request_uri != b.request_uri || a.source_ips != b.source_ips ||
      a.user_agent != b.user_agent || a.response_code != b.response_code ||
      a.request_received != b.request_received || a.stage_time != b.stage_time ||
      a.has_request_object != b.has_request_object ||
      a.has_response_object != b.has_response_object) {
    differ("event fields");
  }
  same_user(a.user, b.user);
  if (a.impersonated_user.has_value() != b.impersonated_user.has_value()) differ("impersonated");
  if (a.impersonated_user) same_user(*a.impersonated_user, *b.impersonated_user);
  if (a.object_ref.has_value() != b.object_ref.has_value()) differ("objectRef");
  if (a.object_ref) {
    const auto& x = *a.object_ref;
    const auto& y = *b.object_ref;
    if (x.resource != y.resource || x.namespace_ != y.namespace_ || x.name != y.name ||
        x.uid != y.uid || x.api_group != y.api_group || x.api_version != y.api_version ||
        x.resource_version != y.resource_version || x.subresource != y.subresource) {
      differ("objectRef fields");
    }
  }
  if (a.json != b.json) differ("stored JSON");
  rapidjson::Document doc;
  if (!ktrail::json::valid_utf8(a.json) || !ktrail::json::parse(a.json, &doc).is_ok()) {
    differ("stored JSON is not valid JSON in UTF-8");
  }
}

void same(const ktrail::DecodedAudit& a, const ktrail::DecodedAudit& b) {
  if (a.events.size() != b.events.size()) differ("number of events");
  for (std::size_t i = 0; i < a.events.size(); ++i) same_event(a.events[i], b.events[i]);
  if (a.rejected.size() != b.rejected.size()) differ("number of rejected items");
  for (std::size_t i = 0; i < a.rejected.size(); ++i) {
    if (a.rejected[i].reason != b.rejected[i].reason || a.rejected[i].raw != b.rejected[i].raw) {
      differ("rejected item");
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto fast = ktrail::decode_audit_document(text);
  auto dom = ktrail::decode_audit_document_via_dom(text);
  if (fast.is_ok() != dom.is_ok()) differ("accepted by one path only");
  if (fast.is_ok()) {
    same(*fast, *dom);
  } else if (fast.status().message() != dom.status().message()) {
    differ("error message");
  }
  ktrail::DecodedAudit line_fast;
  ktrail::DecodedAudit line_dom;
  ktrail::decode_audit_line(text, &line_fast);
  ktrail::decode_audit_line_via_dom(text, &line_dom);
  same(line_fast, line_dom);
  return 0;
}
