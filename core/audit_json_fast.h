// The fast path of audit decoding (used by core/audit_json.cpp only): one streaming pass over
// the text that fills AuditEvents directly, without building a JSON document, and keeps each
// event's own text as its stored JSON.
//
// Contract: it either decodes exactly what the document path (decode_event over a parsed
// document) would, or it declines, and the caller then takes the document path. It declines on
// anything out of the ordinary: invalid JSON or UTF-8, nesting past json::kMaxDepth, a field of
// interest that is null, of another type or given twice, a missing or unknown auditID, stage,
// level or timestamp, a v1beta1 event without v1 timestamps, text that is not already in the
// compact form json::to_compact writes (json::is_compact_object). Within an EventList, such an
// item alone is marked for the document path; its neighbours keep the fast path.
#pragma once

#include <string_view>
#include <vector>

#include "core/audit_json.h"

namespace ktrail::fast_audit {

// One JSON line of an audit log, holding one Event. True when `event` was filled.
bool decode_line(std::string_view line, AuditEvent* event);

// A whole body or file: an EventList, a JSON array of events, or one Event.
struct DocumentResult {
  // One entry per item in order: the decoded event, or, when `slow`, the item's text span for
  // the document path.
  struct Item {
    AuditEvent event;
    std::string_view slow;
    bool is_slow = false;
  };
  std::vector<Item> items;
};

// True when the document's shape was understood; items that need the document path are marked.
bool decode_document(std::string_view text, DocumentResult* out);

}  // namespace ktrail::fast_audit
