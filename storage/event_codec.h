// How an audit event is keyed and packed in the store.
//
// identity_hash: a 64-bit hash of what identifies an audit event (auditID, stage,
// requestReceivedTimestamp, stageTimestamp). auditID alone is not unique (it comes from a
// client header), so the hash covers all four; the store still compares the full identity on
// a key collision, so two distinct events never merge.
//
// Event blobs: one format byte, then the JSON (format 0) or its zstd frame (format 1).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/audit_event.h"
#include "core/status.h"

namespace ktrail::storage {

std::uint64_t identity_hash(std::string_view audit_id, Stage stage, Micros received,
                            Micros stage_time);

// Audit keys: (stageTimestamp << kSlotBits) + slot. Times after kMaxKeyTime do not fit.
constexpr int kSlotBits = 10;
constexpr Micros kMaxKeyTime = (INT64_MAX >> kSlotBits) - (1 << 20);
std::int64_t first_key(Micros stage_time, std::uint64_t hash);

enum class BlobFormat : std::uint8_t { kJson = 0, kZstd = 1 };

// Packs JSON into a blob; reuses its own compression context and buffer, so one packer per
// thread.
class BlobPacker {
 public:
  explicit BlobPacker(int zstd_level);  // level 0: store plain JSON
  ~BlobPacker();
  BlobPacker(const BlobPacker&) = delete;
  BlobPacker& operator=(const BlobPacker&) = delete;

  // The returned view is valid until the next call.
  Result<std::string_view> pack(std::string_view json);

 private:
  int level_;
  void* cctx_ = nullptr;  // ZSTD_CCtx
  std::string buffer_;
};

// Recovers the JSON text of a blob written by BlobPacker.
Result<std::string> unpack_blob(std::string_view blob);

// ["a","b"] for a list of strings (JSON-escaped), the form interned for groups and IPs.
std::string json_string_array(const std::vector<std::string>& items);

}  // namespace ktrail::storage
