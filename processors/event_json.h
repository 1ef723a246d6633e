// Editing an AuditEvent's JSON in place of the whole event: the processors parse `json` only
// when they change the event, and keep the decoded fields (level, has_*_object) in step.
#pragma once

#include <rapidjson/document.h>

#include "core/audit_event.h"
#include "core/status.h"

namespace ktrail {

// Parses event.json (which ktrail produced, so failure means a bug upstream of the stage).
Status parse_event_json(const AuditEvent& event, rapidjson::Document* doc);

// Writes `doc` back as event.json and refreshes has_request_object / has_response_object.
void store_event_json(const rapidjson::Document& doc, AuditEvent* event);

// Removes `metadata.managedFields` from a Kubernetes object, from every item of a list
// (`items[]`), and from the objects of Table rows (`rows[].object`). Returns true if
// anything was removed.
bool remove_managed_fields(rapidjson::Value* object);

// Whether `haystack` contains `needle` (a cheap pre-check before parsing an event).
bool contains(std::string_view haystack, std::string_view needle);

}  // namespace ktrail
