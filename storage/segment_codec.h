// The layout of a sealed segment: the audit rows of one time range, stored column by column.
//
// Contract:
// - SegmentColumns holds the rows of a segment as parallel arrays, in key order (the audit
//   key of storage/event_codec.h). encode_columns() writes them as one zstd frame:
//   keys as deltas, stageTimestamps as their difference to the key's time (nearly always 0),
//   received times as their distance to stageTimestamp, auditIDs as 16 bytes when they are
//   canonical lower-case UUIDs (text otherwise), stage, level and codes as small integers,
//   dictionary ids and cluster ids (layout 3) as LEB128 varints. decode_columns() gives back
//   exactly what was encoded,
//   or an error naming what is wrong for bytes that were not written by encode_columns().
//   Layout 2 (written since the columnar path) compresses each column (the times together, the
//   auditIDs, stage and levels, codes, each dictionary-id column) as its own zstd frame, so an
//   aggregation over two columns decompresses those two; layout 1 (one frame for all) is still
//   read. Layout 3 (written since clusters) is layout 2 with one more section, each row's
//   cluster id (core/cluster.h); segments of layouts 1 and 2 read as cluster 0, "default".
// - SegmentFilter says which rows a segment can hold: the distinct dictionary ids of the
//   filterable columns (exact), and a Bloom filter of the object names (no false negatives).
//   A search skips a segment whose filter excludes it without decoding its columns.
// - Event frames: the original event bytes, in order, up to kFrameEvents per frame, in the
//   block layout of storage/event_codec.h (zstd).
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace ktrail::storage {

// Original events per zstd frame of a segment (larger frames compress better than the hot
// blocks of 128; a search that wants one event decompresses one frame).
constexpr std::size_t kFrameEvents = 2048;

// The dictionary-id columns of a segment, in this order.
enum SegmentIdColumn : std::size_t {
  kVerb = 0,
  kUser,
  kGroups,
  kImpUser,
  kResource,
  kSubresource,
  kNamespace,
  kName,
  kIps,
  kUserAgent,
  kIdColumns
};

struct SegmentColumns {
  std::vector<std::int64_t> key;
  std::vector<std::int64_t> ts;
  std::vector<std::int64_t> received;
  std::vector<std::string> audit_id;
  std::vector<std::uint8_t> stage;
  std::vector<std::uint8_t> level;
  std::vector<std::uint8_t> level_received;
  std::vector<std::int32_t> code;  // 0: none
  std::array<std::vector<std::int64_t>, kIdColumns> ids;  // 0: absent
  // The cluster of each row (clusters.id, 0 for "default"). Segments sealed before clusters
  // existed decode as all 0; encoding treats missing entries as 0.
  std::vector<std::int64_t> cluster;

  std::size_t size() const { return key.size(); }
  void reserve(std::size_t n);
};

// `layout` 3 (the default) keeps the clusters; 1 and 2 (what earlier versions wrote, for tests of
// reading them) leave them out, so that they decode as cluster 0.
std::string encode_columns(const SegmentColumns& columns, int zstd_level, int layout = 3);
Result<SegmentColumns> decode_columns(std::string_view blob);

// The columns an analytic reader needs from a segment (decode_selected_columns).
struct ColumnSelection {
  bool ts = false;           // fills key and ts
  bool stage_level = false;  // fills stage, level and level_received
  bool code = false;
  std::array<bool, kIdColumns> ids{};
  bool cluster = false;  // fills cluster (all 0 for a segment of layout 1)
};

// Decodes only the selected columns of a blob written by encode_columns() into `out`, whose
// other columns are left empty (its buffers are reused between calls, as is `plain`, scratch
// space for the decompressed bytes). In layout 2 the columns not selected are not even
// decompressed; in layout 1 they are skipped without being converted. Returns the number of
// rows; errors as decode_columns().
Result<std::size_t> decode_selected_columns(std::string_view blob, const ColumnSelection& wanted,
                                            SegmentColumns* out, std::string* plain);

// Layout 2 keeps the small columns' frames first and the times and auditIDs last, so a reader
// of a few columns needs only a prefix of the blob. selected_columns_extent() says how many
// leading bytes of a blob of `whole_size` bytes the selection needs, from its first bytes
// `head` (at least kColumnsHeadBytes of them, or all when the blob is smaller): `whole_size` for
// layout 1. decode_selected_columns() then takes that prefix and the whole size.
constexpr std::size_t kColumnsHeadBytes = 512;
Result<std::size_t> selected_columns_extent(std::string_view head, std::size_t whole_size,
                                            const ColumnSelection& wanted);
Result<std::size_t> decode_selected_columns(std::string_view prefix, std::size_t whole_size,
                                            const ColumnSelection& wanted, SegmentColumns* out,
                                            std::string* plain);

// Columns whose distinct ids a segment's filter lists exactly.
constexpr std::array<SegmentIdColumn, 5> kFilteredColumns = {kVerb, kUser, kImpUser, kResource,
                                                             kNamespace};

class SegmentFilter {
 public:
  static SegmentFilter build(const SegmentColumns& columns);
  static Result<SegmentFilter> decode(std::string_view blob);
  std::string encode() const;

  // Whether the segment may hold a row with `id` in `column` (one of kFilteredColumns, or kName).
  bool may_hold(SegmentIdColumn column, std::int64_t id) const;

 private:
  std::array<std::vector<std::int64_t>, kFilteredColumns.size()> distinct_;  // sorted
  std::vector<std::uint64_t> name_bloom_;                                    // bits
};

// The frames of `events` (in order), each compressed with zstd at `zstd_level`, in the block
// layout of storage/event_codec.h (segments sealed before remainders). With `remainders` the
// events are entries of storage/event_remainder.h, and a frame is the byte kRemainderFrame
// (never the first byte of zstd's magic number) and a zstd frame of: the entry count, each
// entry's length (LEB128 varints) and the entries.
constexpr char kRemainderFrame = 0x01;
std::vector<std::string> encode_frames(const std::vector<std::string_view>& events, int zstd_level,
                                       bool remainders = false);

// A frame written by encode_frames, decompressed: `plain` holds the bytes, `events` views of
// each event or entry in it, `remainders` which of the two they are.
struct UnpackedFrame {
  std::string plain;
  std::vector<std::string_view> events;
  bool remainders = false;
};
// Errors for a frame encode_frames did not write (damaged, truncated, counts that do not add up).
Status unpack_frame(std::string_view frame, UnpackedFrame* out);

}  // namespace ktrail::storage
