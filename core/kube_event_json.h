// Decoding Kubernetes Events from JSON: core/v1 Event and events.k8s.io/v1 Event, as single
// objects, List/EventList documents, JSON arrays, JSON lines and watch-stream lines
// ({"type":"ADDED|MODIFIED|DELETED","object":{...}}).
//
// Both API versions are normalised into one KubeEvent (see core/kube_event.h for the field
// mapping). A body that is not JSON at all is an error. Inside valid JSON, an item that is not
// a usable Event (no involvedObject/regarding, no identity, unparsable or absurd timestamps, a
// negative or absurd count) is returned among `rejected` with the reason, and the rest is kept.
#pragma once

#include <rapidjson/document.h>

#include <string>
#include <string_view>
#include <vector>

#include "core/audit_json.h"
#include "core/kube_event.h"
#include "core/status.h"

namespace ktrail {

struct DecodedKubeEvents {
  std::vector<KubeEvent> events;
  std::vector<RejectedItem> rejected;
};

// Bounds outside which an Event is refused as absurd.
constexpr std::int64_t kMaxEventCount = 100'000'000;
constexpr Micros kMinEventTime = 946'684'800LL * kMicrosPerSecond;    // 2000-01-01
constexpr Micros kMaxEventTime = 4'102'444'800LL * kMicrosPerSecond;  // 2100-01-01

// Decodes an HTTP body or a whole file: one Event, a List/EventList, a JSON array, one watch
// line, or several JSON lines (each an Event, a watch line or a list). Fails only when nothing
// in the body is JSON.
Result<DecodedKubeEvents> decode_kube_events(std::string_view body);

// Decodes one line of an Event stream; a bad line becomes a rejected item, never an error.
void decode_kube_event_line(std::string_view line, DecodedKubeEvents* out);

// Decodes one already-parsed JSON value that should be an Event (core/v1 or events.k8s.io/v1).
// Returns false with `why` set when it is not a usable Event.
bool decode_kube_event_object(const rapidjson::Value& v, KubeEvent* event, std::string* why);

// What a document or a first line holds, for `ktrail ingest --kind auto`.
enum class StreamKind { kAudit, kEvents, kUnknown };
StreamKind detect_stream_kind(std::string_view head);

}  // namespace ktrail
