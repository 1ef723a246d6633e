// How an audit event is keyed and packed in the store.
//
// identity_hash: a 64-bit hash of what identifies an audit event (auditID, stage,
// requestReceivedTimestamp, stageTimestamp, and the cluster's id when it is not the default
// cluster's 0). auditID alone is not unique (it comes from a client header, and repeats across
// clusters), so the hash covers them all; the store still compares the full identity on
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
                            Micros stage_time, std::int64_t cluster = 0);

// Audit keys: (stageTimestamp << kSlotBits) + slot. Times after kMaxKeyTime do not fit.
constexpr int kSlotBits = 10;
constexpr Micros kMaxKeyTime = (INT64_MAX >> kSlotBits) - (1 << 20);
std::int64_t first_key(Micros stage_time, std::uint64_t hash);

// Full events are stored in blocks of up to kBlockEvents consecutive stored events of one
// batch, compressed together (neighbouring audit events share most of their text, so a block
// compresses several times better than one event alone). An audit row points at its event
// with event_ref = (block id << kBlockIndexBits) | index in the block.
constexpr int kBlockIndexBits = 8;
constexpr std::size_t kBlockEvents = 128;
constexpr std::size_t kBlockBytes = 256 * 1024;

enum class BlockFormat : std::uint8_t { kPlain = 0, kZstd = 1 };

// Collects the events of one block (compression is storage/block_compressor.h's job); one per
// writer. It keeps views, not copies: the texts must stay valid until the block is compressed
// (BlockCompressor::collect or discard has returned), which keeps the copying off the writer.
class BlockPacker {
 public:
  // Adds one event; returns its index in the block.
  std::size_t add(std::string_view json);
  std::size_t size() const { return events_.size(); }
  bool full() const { return events_.size() >= kBlockEvents || bytes_ >= kBlockBytes; }
  // The collected events, in order; starts a new block.
  std::vector<std::string_view> take();
  void clear();

 private:
  std::vector<std::string_view> events_;
  std::size_t bytes_ = 0;
};

// Appends the plain layout (format kPlain) of a block of `events` to `out`.
void append_plain_layout(const std::vector<std::string_view>& events, std::string* out);

// The JSON of event `index` of a block written by BlockPacker.
Result<std::string> unpack_block_event(std::string_view block, BlockFormat format,
                                       std::size_t index);
// The same in two steps, to read several events of one block with one decompression:
// unpack_block gives the plain layout, plain_block_event one event of it.
Result<std::string> unpack_block(std::string_view block, BlockFormat format);
Result<std::string_view> plain_block_event(std::string_view plain, std::size_t index);

// ["a","b"] for a list of strings (JSON-escaped), the form interned for groups and IPs.
std::string json_string_array(const std::vector<std::string>& items);
// The same into `out` (reused by the writer to save an allocation per event).
void json_string_array(const std::vector<std::string>& items, std::string* out);

}  // namespace ktrail::storage
