// Cutting top-level members out of a compact JSON object without parsing it into a tree.
//
// Lowering an event's level removes requestObject/responseObject, usually most of its bytes.
// Scanning for the members' byte ranges and copying the rest costs a fraction of a parse and
// re-serialisation, which keeps the policy stage cheap at ingest.
#pragma once

#include <string>
#include <string_view>

namespace ktrail {

struct SpliceEdit {
  // Top-level members to drop.
  bool drop_request_object = false;
  bool drop_response_object = false;
  // If not empty: the new value of the top-level "level" member (a bare level name).
  std::string_view level;
};

// Writes `json` with `edit` applied into `out`. Returns false (and leaves `out` unspecified)
// if `json` is not a well-formed object as far as the scan can tell, or has no "level" when
// one is to be set; the caller then falls back to a full parse.
bool splice_top_level(std::string_view json, const SpliceEdit& edit, std::string* out);

}  // namespace ktrail
