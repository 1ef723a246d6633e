// Decoding audit events from JSON: one Event object, an EventList, or JSON lines.
//
// A body that is not JSON at all is an error (with the parse error and its byte offset).
// Inside valid JSON, an item that is not an audit event (no auditID, no stage, missing or
// unparsable timestamps, wrong types) is not an error of the whole: it is returned among
// `rejected`, whole, with the reason, so the caller can keep it aside and store the rest.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/audit_event.h"
#include "core/status.h"

namespace ktrail {

struct RejectedItem {
  std::string reason;
  std::string raw;  // the item as received (compact JSON, or the raw line)
};

struct DecodedAudit {
  std::vector<AuditEvent> events;
  std::vector<RejectedItem> rejected;
};

// Decodes an HTTP body or a whole file: an EventList ({"kind":"EventList","items":[...]}), a
// single Event object, or a JSON array of events.
Result<DecodedAudit> decode_audit_document(std::string_view json);

// Decodes one JSON line of an audit log. An unparsable line yields a rejected item, never an
// error, so one bad line in a log does not stop a replay.
void decode_audit_line(std::string_view line, DecodedAudit* out);

// The same two without the streaming fast path (core/audit_json_fast.h): the text is always
// parsed into a document first. Results are identical by contract; tests and bench/decode_bench
// compare the two.
Result<DecodedAudit> decode_audit_document_via_dom(std::string_view json);
void decode_audit_line_via_dom(std::string_view line, DecodedAudit* out);

}  // namespace ktrail
