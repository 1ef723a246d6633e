// Finding and replacing Secret values in JSON: the one walk every stored object goes through
// (audit events, dead letters, and anything else that may carry a Secret, such as detection
// findings). A value is replaced by a marker that keeps what an investigator needs (which keys,
// how large) and nothing else:
//
//   "data": {"password": "<redacted: 12 bytes>"}
//
// The length is that of the value as it was: for `data` the base64 text, for `stringData` the
// UTF-8 text. A non-string value becomes "<redacted>".
//
// What is a Secret's value, in a value walked with a given scope:
//  * kByKind: the `data` and `stringData` members and the annotation
//    kubectl.kubernetes.io/last-applied-configuration (which holds the whole object, values
//    included) of every object, at any depth, with a `kind` member "Secret", and of every item
//    of an object of kind "SecretList".
//  * kAllObjects: the same members of every object at any depth, whatever its kind or whether
//    it has one; and in every array of JSON-patch operations (objects with a "path"), the
//    "value" of each operation whose path (an RFC 6901 pointer, ~1 and ~0 decoded) reaches
//    those members, or is the whole object, its metadata or its annotations. An operation whose
//    path cannot be read has its value redacted whole.
// Every member is visited, duplicates included: JSON with a key given twice (kube-apiserver
// keeps the last) has both redacted, and an object with two `kind` members is a Secret if
// either says so. Depth is bounded only by the parser's (json::kMaxDepth).
//
// An audit event is walked in its requestObject and responseObject members: with kAllObjects
// when any of its objectRef members names the resource `secrets` (so a merge or strategic patch
// without kind, an apply with "kind":"secret", a JSON patch, a Table or a watch event of Secrets
// are all covered, decided by the event's resource and not by what the object says it is), else
// with kByKind.
//
// All functions are pure (no I/O, no shared state) and may run on several threads at once.
#pragma once

#include <rapidjson/document.h>

#include <string>
#include <string_view>

#include "core/status.h"

namespace ktrail {

enum class SecretScope { kByKind, kAllObjects };

// Redacts `value` in place (strings are allocated with `alloc`); true if anything changed.
bool redact_secret_values(rapidjson::Value* value, SecretScope scope,
                          rapidjson::Document::AllocatorType& alloc);

// Redacts one audit event given as a JSON object (see above); true if anything changed.
bool redact_audit_event_value(rapidjson::Value* event, rapidjson::Document::AllocatorType& alloc);

// Whether the compact JSON text of an audit event may hold a Secret value at all: false means
// redact_audit_event_value would certainly change nothing, so the event need not be parsed.
bool may_hold_secret(std::string_view event_json);

// Redacts the audit event JSON text `json` in place. Error if it is not a JSON object.
Result<bool> redact_audit_event_text(std::string* json);

// Redacts a dead letter (an item kept aside with a reason, which may be any text): if it parses
// as a JSON object or array it is walked with kAllObjects (stricter than for stored events, since
// nothing about the item can be trusted) and kept, redacted, strings holding JSON text included
// (walked the same way; one that looks like JSON but does not parse is replaced by a marker of
// its size); otherwise nothing of it can be
// shown to be free of secrets, so only its size and SHA-256 are kept (as a small JSON object)
// and `reason` says so. True if `raw` changed.
bool redact_dead_letter(std::string* raw, std::string* reason);

// The marker for a value of `bytes` bytes.
std::string redaction_marker(std::size_t bytes);

}  // namespace ktrail
