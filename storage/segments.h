// Sealed segments: time partitions of the audit table rewritten in columnar form
// (storage/segment_codec.h), and the chain of SHA-256 hashes that makes them tamper-evident.
//
// Contract:
// - The audit rows are divided into partitions of `partition` µs of key time (the audit key's
//   time, storage/event_codec.h: the stageTimestamp, or a few µs after it for crowded
//   microseconds). A partition is due once the newest stored event is `seal_after` past its
//   end. seal_partition() rewrites the hot rows of one partition as one segment (up to
//   kSegmentRows rows: a larger partition gives several) and, in ONE transaction on a writable
//   connection, inserts the segment and its event frames and deletes the rows, their pending,
//   displaced and name-index entries, the postings rows wholly inside the partition and the
//   event blocks all of whose events are sealed. If the rows changed between reading and
//   committing (a late event arrived), it commits nothing and says so: the next pass retries.
//   A crash at any point leaves either the rows or the segment, never both, never neither.
// - A late event for a partition already sealed is stored as a hot row again (the writer first
//   checks the sealed identities: find_sealed_identity) and is sealed into a further segment of
//   the same partition by a later pass.
// - Hash chain: each segment's hash is SHA-256 over the previous segment's hash and the
//   segment's content (partition, keys, count, columns, filter, frames). verify_segments()
//   recomputes the chain in id order and names the first segment that does not match.
#pragma once

#include <cstdint>
#include <functional>
#include <string_view>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/status.h"
#include "core/time.h"
#include "storage/event_remainder.h"
#include "storage/segment_codec.h"
#include "storage/sqlite_util.h"

namespace ktrail::storage {

constexpr std::size_t kSegmentRows = 1 << 20;

struct SegmentInfo {
  std::int64_t id = 0;
  Micros range_start = 0;  // the partition [range_start, range_end) of key time
  Micros range_end = 0;
  std::int64_t first_key = 0;
  std::int64_t last_key = 0;
  Micros min_ts = 0;  // stageTimestamps of its rows
  Micros max_ts = 0;
  std::int64_t count = 0;
  std::string prev_hash;  // 32 bytes, empty for the first segment
  std::string hash;       // 32 bytes
};

// Every segment, by id (sealing order).
Result<std::vector<SegmentInfo>> list_segments(const sqlite::Db& db);

// The partition starts (ascending) that hold hot rows and are due.
Result<std::vector<Micros>> due_partitions(const sqlite::Db& db, Micros partition,
                                           Micros seal_after);

struct SealResult {
  std::int64_t segments = 0;  // written
  std::int64_t rows = 0;      // moved into them
  bool raced = false;         // the rows changed meanwhile: nothing committed
};

// Seals the hot rows of partition [start, start + partition) (see the contract). `db` must be a
// writable connection with no transaction open.
Result<SealResult> seal_partition(sqlite::Db& db, Micros start, Micros partition, int zstd_level);

// A segment's columns, decoded, and its filter.
struct LoadedSegment {
  SegmentInfo info;
  SegmentColumns columns;
  // (stageTimestamp, row) sorted: built by SealedIdentities for its lookups.
  std::vector<std::pair<std::int64_t, std::uint32_t>> by_ts;
};
Result<SegmentFilter> load_filter(const sqlite::Db& db, std::int64_t id);
Result<std::unique_ptr<LoadedSegment>> load_segment(const sqlite::Db& db, const SegmentInfo& info);
// Dictionary values by id, read once each (the strings of a segment's id columns).
class DictCache {
 public:
  explicit DictCache(const sqlite::Db& db) : db_(&db) {}
  // The value of `id` (> 0), or an error naming a missing id.
  Result<const std::string*> value(std::int64_t id);

 private:
  const sqlite::Db* db_;
  sqlite::Stmt select_;
  std::unordered_map<std::int64_t, std::string> values_;
};

// The texts row `row` of `c` gives (storage/event_remainder.h): what a sealed original leaves out.
Status row_texts(DictCache& dict, const SegmentColumns& c, std::size_t row, EventTexts* out);

// The original event of row `row` of a loaded segment, byte for byte as stored hot: frames of
// segments sealed before remainders hold the whole events; later ones hold remainders
// (storage/event_remainder.h), rebuilt from the row's columns.
class FrameReader {
 public:
  explicit FrameReader(const sqlite::Db& db) : db_(&db), dict_(db) {}
  Result<std::string> event(const LoadedSegment& segment, std::size_t row);

 private:
  const sqlite::Db* db_;
  DictCache dict_;
  std::int64_t segment_ = -1;
  std::int64_t frame_ = -1;
  UnpackedFrame unpacked_;
  EventTexts texts_;
};

// Whether a sealed segment holds the identity (auditID, stage, received, stageTimestamp).
// `cache` keeps the last segments decoded (the writer checks many late events of one segment).
class SealedIdentities {
 public:
  // Call after a segment was written by another connection.
  void forget() { segments_.clear(), cached_.clear(), loaded_ = false; }
  // `cluster`: the clusters.id of the event (core/cluster.h), part of its identity.
  Result<bool> holds(const sqlite::Db& db, std::string_view audit_id, int stage, Micros received,
                     Micros stage_time, std::int64_t cluster);

 private:
  bool loaded_ = false;
  std::vector<SegmentInfo> segments_;
  std::vector<std::unique_ptr<LoadedSegment>> cached_;  // most recent last
};

struct PruneResult {
  std::int64_t segments = 0;  // removed
  std::int64_t events = 0;    // in them
  // Hot (not yet sealed) events before the time, left in place, and sealed events before it
  // kept because an older-numbered segment after the time comes first in the chain.
  std::int64_t hot_kept = 0;
  std::int64_t sealed_kept = 0;
};
// Removes the sealed segments whose events are all before `before`, in chain order (a prefix of
// the chain, so what is left still verifies: the last removed hash is kept in store_meta), in
// one transaction. Rows are never deleted one by one: a segment goes with its three rows.
Result<PruneResult> prune_segments(sqlite::Db& db, Micros before);

// Calls `sink` with every stored audit event whose stageTimestamp is in [since, until], sealed
// or hot, as received (the stored bytes), in key order (stageTimestamp order). Streams: holds
// the segments whose keys overlap the point reached, not the whole range.
Status export_events(const sqlite::Db& db, Micros since, Micros until,
                     const std::function<Status(std::string_view)>& sink);

struct VerifyResult {
  std::int64_t segments = 0;
  std::int64_t events = 0;
  // The first segment that does not match, with why; nullopt when the chain holds.
  std::optional<std::int64_t> bad_segment;
  Micros bad_range_start = 0;  // its partition
  Micros bad_range_end = 0;
  std::string reason;
  std::vector<std::string> hashes;  // hex of every segment's hash, in order
  std::string head;  // hex of the last segment's hash ("" without segments)
};
// Recomputes the chain. Segments whose rows all end before `since` are checked only for their
// link (their stored hash is taken as given).
Result<VerifyResult> verify_segments(const sqlite::Db& db, std::optional<Micros> since);

std::string to_hex(std::string_view bytes);

}  // namespace ktrail::storage
