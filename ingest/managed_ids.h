// Audit IDs for exported records that carry none: derived from the record's bytes, so the same
// record gives the same ID on every replay (and a replay adds nothing), and different records
// give different IDs.
#pragma once

#include <string>
#include <string_view>

namespace ktrail::ingest {

// The first 16 bytes of SHA-256(`record`), written as a UUID (8-4-4-4-12 lowercase hex).
std::string derived_audit_id(std::string_view record);

}  // namespace ktrail::ingest
