#include "storage/segments.h"

#include <openssl/evp.h>

#include <algorithm>
#include <map>
#include <unordered_map>

#include "storage/event_codec.h"

namespace ktrail::storage {
namespace {

constexpr int kColumnsZstdLevel = 3;
// The original events are compressed harder: sealing runs on its own thread, and they are most of
// a segment's bytes.
constexpr int kFramesZstdLevel = 9;
constexpr std::size_t kCachedSegments = 4;

constexpr const char* kSelectHot = R"sql(
SELECT key, ts, received, audit_id, stage, level, coalesce(level_received, level), verb_id,
  user_id, groups_id, imp_user_id, resource_id, subresource_id, ns_id, name, ips_id, ua_id,
  code, event_ref, cluster
FROM audit WHERE key >= ?1 AND key < ?2 ORDER BY key LIMIT ?3)sql";

constexpr const char* kSegmentColumns =
    "id, range_start, range_end, first_key, last_key, min_ts, max_ts, count, prev_hash, hash";

SegmentInfo read_info(const sqlite::Stmt& st) {
  SegmentInfo s;
  s.id = st.column_int(0);
  s.range_start = st.column_int(1);
  s.range_end = st.column_int(2);
  s.first_key = st.column_int(3);
  s.last_key = st.column_int(4);
  s.min_ts = st.column_int(5);
  s.max_ts = st.column_int(6);
  s.count = st.column_int(7);
  s.prev_hash = std::string(st.column_blob(8));
  s.hash = std::string(st.column_blob(9));
  return s;
}

class Sha256 {
 public:
  Sha256() : ctx_(EVP_MD_CTX_new()) { EVP_DigestInit_ex(ctx_, EVP_sha256(), nullptr); }
  ~Sha256() { EVP_MD_CTX_free(ctx_); }
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  void add(std::string_view bytes) { EVP_DigestUpdate(ctx_, bytes.data(), bytes.size()); }
  void add_int(std::int64_t v) {
    char b[8];
    for (int i = 0; i < 8; ++i) {
      b[i] = static_cast<char>(static_cast<std::uint64_t>(v) >> (8 * i));
    }
    add(std::string_view(b, 8));
  }
  // A length-prefixed piece, so that moving bytes between pieces changes the hash.
  void add_piece(std::string_view bytes) {
    add_int(static_cast<std::int64_t>(bytes.size()));
    add(bytes);
  }
  std::string finish() {
    unsigned char out[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    EVP_DigestFinal_ex(ctx_, out, &n);
    return std::string(reinterpret_cast<const char*>(out), n);
  }

 private:
  EVP_MD_CTX* ctx_;
};

// Hashes the fixed part of a segment (everything but the frames, which follow).
void hash_head(Sha256* h, const SegmentInfo& s, std::string_view columns, std::string_view filter) {
  h->add_piece(s.prev_hash);
  for (const std::int64_t v : {s.range_start, s.range_end, s.first_key, s.last_key, s.min_ts,
                               s.max_ts, s.count}) {
    h->add_int(v);
  }
  h->add_piece(columns);
  h->add_piece(filter);
}

Status step_done(sqlite::Stmt& st, const sqlite::Db& db, const char* what) {
  const int rc = st.step();
  st.reset();
  return rc == SQLITE_DONE ? Status::ok() : db.error(what);
}

// The stored (hot) event an audit row's event_ref points at, reading each block once for the
// consecutive rows that point into it.
class HotEvents {
 public:
  static Result<HotEvents> open(const sqlite::Db& db) {
    auto st = sqlite::Stmt::prepare(db, "SELECT format, data FROM event_blocks WHERE id = ?1");
    if (!st) {
      return st.status();
    }
    return HotEvents(std::move(*st));
  }
  Result<std::string_view> event(std::int64_t ref) {
    const std::int64_t id = ref >> kBlockIndexBits;
    if (id != cached_) {
      block_.bind(1, id);
      if (block_.step() != SQLITE_ROW) {
        block_.reset();
        return database_error("event block " + std::to_string(id) + " is missing");
      }
      auto unpacked =
          unpack_block(block_.column_blob(1), static_cast<BlockFormat>(block_.column_int(0)));
      block_.reset();
      if (!unpacked) {
        return unpacked.status();
      }
      plain_ = std::move(*unpacked);
      cached_ = id;
    }
    return plain_block_event(plain_, static_cast<std::size_t>(ref & ((1 << kBlockIndexBits) - 1)));
  }

 private:
  explicit HotEvents(sqlite::Stmt block) : block_(std::move(block)) {}
  sqlite::Stmt block_;
  std::int64_t cached_ = -1;
  std::string plain_;
};

// What a segment under construction holds besides its columns.
struct Built {
  SegmentInfo info;
  SegmentColumns columns;
  std::vector<std::string> frames;
  std::map<std::int64_t, std::int64_t> block_rows;  // event block id -> rows sealed from it
};

// Reads the hot rows of [lo, hi) (at most kSegmentRows) and lays them out; count 0 when none.
Status build(const sqlite::Db& db, std::int64_t lo, std::int64_t hi, int zstd_level, Built* out) {
  auto select = sqlite::Stmt::prepare(db, kSelectHot);
  auto name_id = sqlite::Stmt::prepare(db, "SELECT id FROM dict WHERE value = ?1");
  auto hot = HotEvents::open(db);
  if (!select || !name_id || !hot) {
    return !select ? select.status() : !name_id ? name_id.status() : hot.status();
  }
  select->bind(1, lo);
  select->bind(2, hi);
  select->bind(3, static_cast<std::int64_t>(kSegmentRows));
  std::unordered_map<std::string, std::int64_t> names;
  std::vector<std::string> frame_events;
  DictCache dict(db);
  EventTexts texts;
  auto flush_frame = [&] {
    std::vector<std::string_view> views(frame_events.begin(), frame_events.end());
    auto frames = encode_frames(views, std::max(zstd_level, kFramesZstdLevel), /*remainders=*/true);
    for (auto& f : frames) {
      out->frames.push_back(std::move(f));
    }
    frame_events.clear();
  };
  SegmentColumns& c = out->columns;
  int rc;
  while ((rc = select->step()) == SQLITE_ROW) {
    c.key.push_back(select->column_int(0));
    c.ts.push_back(select->column_int(1));
    c.received.push_back(select->column_int(2));
    c.audit_id.emplace_back(select->column_text(3));
    c.stage.push_back(static_cast<std::uint8_t>(select->column_int(4)));
    c.level.push_back(static_cast<std::uint8_t>(select->column_int(5)));
    c.level_received.push_back(static_cast<std::uint8_t>(select->column_int(6)));
    c.cluster.push_back(select->column_int(19));
    const SegmentIdColumn id_columns[] = {kVerb,     kUser,        kGroups,   kImpUser,
                                          kResource, kSubresource, kNamespace};
    for (int i = 0; i < 7; ++i) {
      c.ids[id_columns[i]].push_back(select->column_int(7 + i));
    }
    const std::string name(select->column_text(14));
    std::int64_t nid = 0;
    if (!name.empty()) {
      auto found = names.find(name);
      if (found == names.end()) {
        name_id->bind(1, std::string_view(name));
        const int n = name_id->step();
        nid = n == SQLITE_ROW ? name_id->column_int(0) : 0;
        name_id->reset();
        if (nid == 0) {
          return database_error("object name '" + name + "' is not in the dictionary");
        }
        names.emplace(name, nid);
      } else {
        nid = found->second;
      }
    }
    c.ids[kName].push_back(nid);
    c.ids[kIps].push_back(select->column_int(15));
    c.ids[kUserAgent].push_back(select->column_int(16));
    c.code.push_back(static_cast<std::int32_t>(select->column_int(17)));
    const std::int64_t ref = select->column_int(18);
    const std::int64_t block_id = ref >> kBlockIndexBits;
    auto event = hot->event(ref);
    if (!event) {
      return event.status();
    }
    KTRAIL_RETURN_IF_ERROR(row_texts(dict, c, c.size() - 1, &texts));
    frame_events.push_back(strip_event(*event, texts));
    ++out->block_rows[block_id];
    if (frame_events.size() == kFrameEvents) {
      flush_frame();
    }
  }
  if (rc != SQLITE_DONE) {
    return db.error("read the rows to seal");
  }
  if (!frame_events.empty()) {
    flush_frame();
  }
  SegmentInfo& s = out->info;
  s.count = static_cast<std::int64_t>(c.size());
  if (s.count > 0) {
    s.first_key = c.key.front();
    s.last_key = c.key.back();
    s.min_ts = *std::min_element(c.ts.begin(), c.ts.end());
    s.max_ts = *std::max_element(c.ts.begin(), c.ts.end());
  }
  return Status::ok();
}

// Inserts `b` as the next segment and deletes its hot rows, inside the caller's write
// transaction. Sets *raced when the hot rows are no longer the ones read.
Status commit(sqlite::Db& db, Built& b, const std::string& columns,
              const std::string& filter, bool* raced) {
  SegmentInfo& s = b.info;
  auto last = sqlite::Stmt::prepare(db, "SELECT id, hash FROM segments ORDER BY id DESC LIMIT 1");
  if (!last) {
    return last.status();
  }
  s.id = 1;
  s.prev_hash.clear();
  if (last->step() == SQLITE_ROW) {
    s.id = last->column_int(0) + 1;
    s.prev_hash = std::string(last->column_blob(1));
  } else {
    // The chain goes on from the last segment pruned, when there was one.
    auto pruned = sqlite::Stmt::prepare(
        db, "SELECT value FROM store_meta WHERE key = 'segments_pruned_hash'");
    if (!pruned) {
      return pruned.status();
    }
    if (pruned->step() == SQLITE_ROW) {
      s.prev_hash = std::string(pruned->column_blob(0));
    }
    auto pruned_id =
        sqlite::query_int(db, "SELECT coalesce((SELECT value FROM store_meta WHERE key = "
                              "'segments_pruned_id'), 0)");
    if (!pruned_id) {
      return pruned_id.status();
    }
    s.id = *pruned_id + 1;
  }
  Sha256 h;
  hash_head(&h, s, columns, filter);
  for (const auto& f : b.frames) {
    h.add_piece(f);
  }
  s.hash = h.finish();

  // The hot rows first: if they are not exactly the ones read, nothing else is done.
  auto del = sqlite::Stmt::prepare(db, "DELETE FROM audit WHERE key >= ?1 AND key <= ?2");
  if (!del) {
    return del.status();
  }
  del->bind(1, s.first_key);
  del->bind(2, s.last_key);
  KTRAIL_RETURN_IF_ERROR(step_done(*del, db, "delete sealed rows"));
  if (sqlite3_changes(db.get()) != s.count) {
    *raced = true;
    return Status::ok();
  }
  auto insert = sqlite::Stmt::prepare(
      db,
      "INSERT INTO segments(id, range_start, range_end, first_key, last_key, min_ts, max_ts, "
      "count, prev_hash, hash) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)");
  auto insert_columns = sqlite::Stmt::prepare(
      db, "INSERT INTO segment_columns(segment_id, filter, columns) VALUES (?1, ?2, ?3)");
  auto insert_frame = sqlite::Stmt::prepare(
      db, "INSERT INTO segment_frames(segment_id, frame, data) VALUES (?1, ?2, ?3)");
  if (!insert || !insert_columns || !insert_frame) {
    return !insert ? insert.status() : !insert_columns ? insert_columns.status()
                                                       : insert_frame.status();
  }
  const std::int64_t values[] = {s.id,       s.range_start, s.range_end, s.first_key,
                                 s.last_key, s.min_ts,      s.max_ts,    s.count};
  for (int i = 0; i < 8; ++i) {
    insert->bind(i + 1, values[i]);
  }
  if (s.prev_hash.empty()) {
    insert->bind_null(9);
  } else {
    insert->bind_blob(9, s.prev_hash.data(), s.prev_hash.size());
  }
  insert->bind_blob(10, s.hash.data(), s.hash.size());
  KTRAIL_RETURN_IF_ERROR(step_done(*insert, db, "insert a segment"));
  insert_columns->bind(1, s.id);
  insert_columns->bind_blob(2, filter.data(), filter.size());
  insert_columns->bind_blob(3, columns.data(), columns.size());
  KTRAIL_RETURN_IF_ERROR(step_done(*insert_columns, db, "insert a segment's columns"));
  for (std::size_t f = 0; f < b.frames.size(); ++f) {
    insert_frame->bind(1, s.id);
    insert_frame->bind(2, static_cast<std::int64_t>(f));
    insert_frame->bind_blob(3, b.frames[f].data(), b.frames[f].size());
    KTRAIL_RETURN_IF_ERROR(step_done(*insert_frame, db, "insert a segment frame"));
  }

  // What pointed at the rows: pending entries, displaced entries, the name index, postings
  // rows wholly inside the segment's keys (keys of partly covered rows are skipped by readers,
  // which find no row), and the event blocks all of whose events are now sealed.
  const std::string range = std::to_string(s.first_key) + " AND " + std::to_string(s.last_key);
  KTRAIL_RETURN_IF_ERROR(db.exec("DELETE FROM audit_pending WHERE key BETWEEN " + range));
  KTRAIL_RETURN_IF_ERROR(db.exec("DELETE FROM audit_displaced WHERE ts BETWEEN " +
                                 std::to_string(s.min_ts) + " AND " + std::to_string(s.max_ts) +
                                 " AND key BETWEEN " + range));
  KTRAIL_RETURN_IF_ERROR(db.exec("DELETE FROM audit_postings WHERE first_key >= " +
                                 std::to_string(s.first_key) +
                                 " AND last_key <= " + std::to_string(s.last_key)));
  std::vector<std::int64_t> name_ids = b.columns.ids[kName];
  std::sort(name_ids.begin(), name_ids.end());
  name_ids.erase(std::unique(name_ids.begin(), name_ids.end()), name_ids.end());
  auto del_name = sqlite::Stmt::prepare(
      db, "DELETE FROM audit_names WHERE name_id = ?1 AND key BETWEEN ?2 AND ?3");
  auto seal_block =
      sqlite::Stmt::prepare(db, "UPDATE event_blocks SET sealed = sealed + ?2 WHERE id = ?1");
  auto drop_block =
      sqlite::Stmt::prepare(db, "DELETE FROM event_blocks WHERE id = ?1 AND sealed >= count");
  if (!del_name || !seal_block || !drop_block) {
    return !del_name ? del_name.status() : !seal_block ? seal_block.status() : drop_block.status();
  }
  for (const std::int64_t id : name_ids) {
    if (id == 0) {
      continue;
    }
    del_name->bind(1, id);
    del_name->bind(2, s.first_key);
    del_name->bind(3, s.last_key);
    KTRAIL_RETURN_IF_ERROR(step_done(*del_name, db, "delete sealed names"));
  }
  for (const auto& [id, n] : b.block_rows) {
    seal_block->bind(1, id);
    seal_block->bind(2, n);
    KTRAIL_RETURN_IF_ERROR(step_done(*seal_block, db, "count sealed events of a block"));
    drop_block->bind(1, id);
    KTRAIL_RETURN_IF_ERROR(step_done(*drop_block, db, "drop a sealed block"));
  }
  return Status::ok();
}

}  // namespace

std::string to_hex(std::string_view bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (const char ch : bytes) {
    const auto b = static_cast<unsigned char>(ch);
    out.push_back(kHex[b >> 4]);
    out.push_back(kHex[b & 15]);
  }
  return out;
}

Result<std::vector<SegmentInfo>> list_segments(const sqlite::Db& db) {
  auto st = sqlite::Stmt::prepare(
      db, std::string("SELECT ") + kSegmentColumns + " FROM segments ORDER BY id");
  if (!st) {
    return st.status();
  }
  std::vector<SegmentInfo> out;
  int rc;
  while ((rc = st->step()) == SQLITE_ROW) {
    out.push_back(read_info(*st));
  }
  if (rc != SQLITE_DONE) {
    return db.error("list segments");
  }
  return out;
}

Result<std::vector<Micros>> due_partitions(const sqlite::Db& db, Micros partition,
                                           Micros seal_after) {
  std::vector<Micros> due;
  if (partition <= 0) {
    return due;
  }
  auto newest = sqlite::query_int(db, "SELECT coalesce(max(key), -1) FROM audit");
  if (!newest) {
    return newest.status();
  }
  if (*newest < 0) {
    return due;
  }
  const Micros cutoff = (*newest >> kSlotBits) - seal_after;
  auto next = sqlite::Stmt::prepare(db, "SELECT min(key) FROM audit WHERE key >= ?1");
  if (!next) {
    return next.status();
  }
  std::int64_t from = 0;
  for (;;) {
    next->bind(1, from);
    const int rc = next->step();
    const bool none = rc != SQLITE_ROW || next->column_null(0);
    const std::int64_t key = none ? 0 : next->column_int(0);
    next->reset();
    if (rc != SQLITE_ROW) {
      return db.error("find partitions to seal");
    }
    if (none) {
      return due;
    }
    const Micros start = (key >> kSlotBits) / partition * partition;
    if (start + partition > cutoff) {
      return due;
    }
    due.push_back(start);
    from = (start + partition) << kSlotBits;
  }
}

Result<SealResult> seal_partition(sqlite::Db& db, Micros start, Micros partition, int zstd_level) {
  SealResult result;
  const std::int64_t lo = start << kSlotBits;
  const std::int64_t hi = (start + partition) << kSlotBits;
  std::int64_t from = lo;
  while (from < hi) {
    Built b;
    b.info.range_start = start;
    b.info.range_end = start + partition;
    {
      sqlite::ReadSnapshot snapshot(db);
      KTRAIL_RETURN_IF_ERROR(snapshot.status());
      KTRAIL_RETURN_IF_ERROR(build(db, from, hi, zstd_level, &b));
    }
    if (b.info.count == 0) {
      break;
    }
    const std::string columns = encode_columns(b.columns, std::max(zstd_level, kColumnsZstdLevel));
    const std::string filter = SegmentFilter::build(b.columns).encode();
    KTRAIL_RETURN_IF_ERROR(db.exec("BEGIN IMMEDIATE"));
    bool raced = false;
    Status s = commit(db, b, columns, filter, &raced);
    if (s.is_ok() && !raced) {
      s = db.exec("COMMIT");
    }
    if (!s.is_ok() || raced) {
      (void)db.exec("ROLLBACK");
      KTRAIL_RETURN_IF_ERROR(s);
      result.raced = true;
      return result;
    }
    ++result.segments;
    result.rows += b.info.count;
    from = b.info.last_key + 1;
  }
  return result;
}

Result<SegmentFilter> load_filter(const sqlite::Db& db, std::int64_t id) {
  auto st = sqlite::Stmt::prepare(db, "SELECT filter FROM segment_columns WHERE segment_id = ?1");
  if (!st) {
    return st.status();
  }
  st->bind(1, id);
  if (st->step() != SQLITE_ROW) {
    return database_error("segment " + std::to_string(id) + " has no columns");
  }
  return SegmentFilter::decode(st->column_blob(0));
}

Result<std::unique_ptr<LoadedSegment>> load_segment(const sqlite::Db& db, const SegmentInfo& info) {
  auto st = sqlite::Stmt::prepare(db, "SELECT columns FROM segment_columns WHERE segment_id = ?1");
  if (!st) {
    return st.status();
  }
  st->bind(1, info.id);
  if (st->step() != SQLITE_ROW) {
    return database_error("segment " + std::to_string(info.id) + " has no columns");
  }
  auto columns = decode_columns(st->column_blob(0));
  if (!columns) {
    return columns.status();
  }
  if (static_cast<std::int64_t>(columns->size()) != info.count) {
    return database_error("segment " + std::to_string(info.id) + " holds " +
                          std::to_string(columns->size()) + " rows, not " +
                          std::to_string(info.count));
  }
  auto loaded = std::make_unique<LoadedSegment>();
  loaded->info = info;
  loaded->columns = std::move(*columns);
  return loaded;
}

Result<const std::string*> DictCache::value(std::int64_t id) {
  auto found = values_.find(id);
  if (found != values_.end()) {
    return &found->second;
  }
  if (!select_.get()) {
    auto st = sqlite::Stmt::prepare(*db_, "SELECT value FROM dict WHERE id = ?1");
    if (!st) {
      return st.status();
    }
    select_ = std::move(*st);
  }
  select_.bind(1, id);
  if (select_.step() != SQLITE_ROW) {
    select_.reset();
    return database_error("dictionary id " + std::to_string(id) + " is missing");
  }
  if (values_.size() > 200000) {
    values_.clear();
  }
  auto inserted = values_.emplace(id, std::string(select_.column_text(0)));
  select_.reset();
  return &inserted.first->second;
}

Status row_texts(DictCache& dict, const SegmentColumns& c, std::size_t row, EventTexts* out) {
  auto& t = out->text;
  t[kTextAuditId] = c.audit_id[row];
  t[kTextStageTime] = format_rfc3339(c.ts[row]);
  t[kTextReceived] = format_rfc3339(c.received[row]);
  // Whole seconds are also written without a fraction ("...T10:00:00Z").
  auto seconds = [](const std::string& full, Micros at) {
    return at % 1000000 == 0 ? full.substr(0, full.size() - 8) + "Z" : std::string();
  };
  t[kTextStageSeconds] = seconds(t[kTextStageTime], c.ts[row]);
  t[kTextReceivedSeconds] = seconds(t[kTextReceived], c.received[row]);
  const std::pair<EventText, SegmentIdColumn> ids[] = {
      {kTextUser, kUser},         {kTextImpUser, kImpUser},   {kTextNamespace, kNamespace},
      {kTextName, kName},         {kTextResource, kResource}, {kTextUserAgent, kUserAgent},
      {kTextVerb, kVerb},         {kTextSubresource, kSubresource}, {kTextGroups, kGroups},
      {kTextSourceIps, kIps}};
  for (const auto& [text, column] : ids) {
    const std::int64_t id = c.ids[column][row];
    if (id <= 0) {
      t[text].clear();
      continue;
    }
    auto value = dict.value(id);
    if (!value) {
      return value.status();
    }
    t[text] = **value;
  }
  t[kTextCode] = c.code[row] == 0 ? std::string() : std::to_string(c.code[row]);
  t[kTextStage] = c.stage[row] <= 3 ? to_string(static_cast<Stage>(c.stage[row])) : "";
  t[kTextLevel] = c.level[row] <= 3 ? to_string(static_cast<Level>(c.level[row])) : "";
  return Status::ok();
}

Result<std::string> FrameReader::event(const LoadedSegment& segment, std::size_t row) {
  const std::int64_t id = segment.info.id;
  if (row >= segment.columns.size()) {
    return database_error("row " + std::to_string(row) + " is outside segment " +
                          std::to_string(id));
  }
  const auto frame = static_cast<std::int64_t>(row / kFrameEvents);
  if (id != segment_ || frame != frame_) {
    auto st = sqlite::Stmt::prepare(
        *db_, "SELECT data FROM segment_frames WHERE segment_id = ?1 AND frame = ?2");
    if (!st) {
      return st.status();
    }
    st->bind(1, id);
    st->bind(2, frame);
    if (st->step() != SQLITE_ROW) {
      return database_error("frame " + std::to_string(frame) + " of segment " +
                            std::to_string(id) + " is missing");
    }
    segment_ = -1;
    KTRAIL_RETURN_IF_ERROR(unpack_frame(st->column_blob(0), &unpacked_));
    segment_ = id;
    frame_ = frame;
  }
  const std::size_t at = row % kFrameEvents;
  if (at >= unpacked_.events.size()) {
    return database_error("frame " + std::to_string(frame) + " of segment " + std::to_string(id) +
                          " holds fewer events than its rows");
  }
  const std::string_view entry = unpacked_.events[at];
  if (!unpacked_.remainders) {
    return std::string(entry);
  }
  KTRAIL_RETURN_IF_ERROR(row_texts(dict_, segment.columns, row, &texts_));
  std::string out;
  KTRAIL_RETURN_IF_ERROR(rebuild_event(entry, texts_, &out));
  return out;
}

Result<bool> SealedIdentities::holds(const sqlite::Db& db, std::string_view audit_id, int stage,
                                     Micros received, Micros stage_time, std::int64_t cluster) {
  if (!loaded_) {
    auto list = list_segments(db);
    if (!list) {
      return list.status();
    }
    segments_ = std::move(*list);
    loaded_ = true;
  }
  for (const SegmentInfo& info : segments_) {
    if (stage_time < info.min_ts || stage_time > info.max_ts) {
      continue;
    }
    auto cached = std::find_if(cached_.begin(), cached_.end(),
                               [&](const auto& l) { return l->info.id == info.id; });
    const LoadedSegment* seg = nullptr;
    if (cached != cached_.end()) {
      seg = cached->get();
    } else {
      auto loaded = load_segment(db, info);
      if (!loaded) {
        return loaded.status();
      }
      if (cached_.size() >= kCachedSegments) {
        cached_.erase(cached_.begin());
      }
      LoadedSegment& l = **loaded;
      l.by_ts.reserve(l.columns.size());
      for (std::size_t i = 0; i < l.columns.size(); ++i) {
        l.by_ts.emplace_back(l.columns.ts[i], static_cast<std::uint32_t>(i));
      }
      std::sort(l.by_ts.begin(), l.by_ts.end());
      cached_.push_back(std::move(*loaded));
      seg = cached_.back().get();
    }
    // Every row of that stageTimestamp is compared, wherever its key put it.
    const SegmentColumns& c = seg->columns;
    auto it = std::lower_bound(seg->by_ts.begin(), seg->by_ts.end(),
                               std::make_pair(stage_time, std::uint32_t{0}));
    for (; it != seg->by_ts.end() && it->first == stage_time; ++it) {
      const std::uint32_t i = it->second;
      if (c.audit_id[i] == audit_id && c.stage[i] == stage && c.received[i] == received &&
          c.cluster[i] == cluster) {
        return true;
      }
    }
  }
  return false;
}

Result<VerifyResult> verify_segments(const sqlite::Db& db, std::optional<Micros> since) {
  VerifyResult r;
  auto list = list_segments(db);
  if (!list) {
    return list.status();
  }
  auto pruned = sqlite::Stmt::prepare(
      db, "SELECT value FROM store_meta WHERE key = 'segments_pruned_hash'");
  if (!pruned) {
    return pruned.status();
  }
  std::string expected_prev;
  if (pruned->step() == SQLITE_ROW) {
    expected_prev = std::string(pruned->column_blob(0));
  }
  auto columns = sqlite::Stmt::prepare(
      db, "SELECT filter, columns FROM segment_columns WHERE segment_id = ?1");
  auto frames = sqlite::Stmt::prepare(
      db, "SELECT frame, data FROM segment_frames WHERE segment_id = ?1 ORDER BY frame");
  if (!columns || !frames) {
    return !columns ? columns.status() : frames.status();
  }
  auto fail = [&](const SegmentInfo& s, std::string why) {
    r.bad_segment = s.id;
    r.bad_range_start = s.range_start;
    r.bad_range_end = s.range_end;
    r.reason = std::move(why);
    return r;
  };
  for (const SegmentInfo& s : *list) {
    ++r.segments;
    r.events += s.count;
    r.hashes.push_back(to_hex(s.hash));
    if (s.prev_hash != expected_prev) {
      return fail(s, "its link to the previous segment does not match (a segment before it was "
                     "removed, replaced or reordered)");
    }
    expected_prev = s.hash;
    if (since && s.max_ts < *since) {
      continue;
    }
    columns->bind(1, s.id);
    if (columns->step() != SQLITE_ROW) {
      columns->reset();
      return fail(s, "its columns are missing");
    }
    Sha256 h;
    hash_head(&h, s, columns->column_blob(1), columns->column_blob(0));
    columns->reset();
    frames->bind(1, s.id);
    std::int64_t expected_frame = 0;
    int rc;
    while ((rc = frames->step()) == SQLITE_ROW) {
      if (frames->column_int(0) != expected_frame++) {
        frames->reset();
        return fail(s, "a frame of its events is missing");
      }
      h.add_piece(frames->column_blob(1));
    }
    frames->reset();
    if (rc != SQLITE_DONE) {
      return db.error("read segment frames");
    }
    const auto want_frames =
        static_cast<std::int64_t>((static_cast<std::size_t>(s.count) + kFrameEvents - 1) / kFrameEvents);
    if (expected_frame != want_frames) {
      return fail(s, "it has " + std::to_string(expected_frame) + " frames of events, not " +
                         std::to_string(want_frames));
    }
    if (h.finish() != s.hash) {
      return fail(s, "its content does not match its hash (rows or events were changed)");
    }
  }
  if (!list->empty()) {
    r.head = to_hex(list->back().hash);
  }
  return r;
}

}  // namespace ktrail::storage

namespace ktrail::storage {

Result<PruneResult> prune_segments(sqlite::Db& db, Micros before) {
  PruneResult r;
  KTRAIL_RETURN_IF_ERROR(db.exec("BEGIN IMMEDIATE"));
  auto body = [&]() -> Status {
    auto list = list_segments(db);
    if (!list) {
      return list.status();
    }
    const SegmentInfo* last = nullptr;
    for (const SegmentInfo& s : *list) {
      if (s.max_ts >= before) {
        break;
      }
      last = &s;
      ++r.segments;
      r.events += s.count;
    }
    for (const SegmentInfo& s : *list) {
      if (s.max_ts < before && (last == nullptr || s.id > last->id)) {
        r.sealed_kept += s.count;
      }
    }
    auto hot = sqlite::Stmt::prepare(db, "SELECT count(*) FROM audit WHERE key < ?1");
    if (!hot) {
      return hot.status();
    }
    hot->bind(1, std::max<Micros>(0, std::min(before, kMaxKeyTime)) << kSlotBits);
    if (hot->step() != SQLITE_ROW) {
      return db.error("count hot events");
    }
    r.hot_kept = hot->column_int(0);
    if (last == nullptr) {
      return Status::ok();
    }
    const std::string upto = std::to_string(last->id);
    KTRAIL_RETURN_IF_ERROR(db.exec("DELETE FROM segment_frames WHERE segment_id <= " + upto));
    KTRAIL_RETURN_IF_ERROR(db.exec("DELETE FROM segment_columns WHERE segment_id <= " + upto));
    KTRAIL_RETURN_IF_ERROR(db.exec("DELETE FROM segments WHERE id <= " + upto));
    auto meta = sqlite::Stmt::prepare(
        db, "INSERT INTO store_meta(key, value) VALUES (?1, ?2) "
            "ON CONFLICT(key) DO UPDATE SET value = excluded.value");
    if (!meta) {
      return meta.status();
    }
    meta->bind(1, std::string_view("segments_pruned_hash"));
    meta->bind_blob(2, last->hash.data(), last->hash.size());
    KTRAIL_RETURN_IF_ERROR(step_done(*meta, db, "record the pruned chain"));
    meta->bind(1, std::string_view("segments_pruned_id"));
    meta->bind(2, last->id);
    return step_done(*meta, db, "record the pruned chain");
  };
  Status s = body();
  if (s.is_ok()) {
    s = db.exec("COMMIT");
  }
  if (!s.is_ok()) {
    (void)db.exec("ROLLBACK");
    return s;
  }
  return r;
}

namespace {

// One sealed segment being streamed by export_events.
struct OpenSegment {
  std::unique_ptr<LoadedSegment> seg;
  std::size_t next = 0;
  std::unique_ptr<FrameReader> frames;
};

}  // namespace

Status export_events(const sqlite::Db& db, Micros since, Micros until,
                     const std::function<Status(std::string_view)>& sink) {
  auto list = list_segments(db);
  if (!list) {
    return list.status();
  }
  std::vector<SegmentInfo> segments;
  for (const SegmentInfo& s : *list) {
    if (s.max_ts >= since && s.min_ts <= until) {
      segments.push_back(s);
    }
  }
  std::sort(segments.begin(), segments.end(),
            [](const auto& a, const auto& b) { return a.first_key < b.first_key; });
  const std::int64_t lo = std::max<Micros>(0, std::min(since, kMaxKeyTime)) << kSlotBits;
  // Keys of a crowded microsecond spill past it (store_query.cpp allows the same bound).
  const std::int64_t hi =
      until >= kMaxKeyTime
          ? INT64_MAX
          : ((std::max<Micros>(0, until) + 1) << kSlotBits) + (std::int64_t{1} << 30);
  auto hot = sqlite::Stmt::prepare(
      db, "SELECT key, ts, event_ref FROM audit WHERE key >= ?1 AND key <= ?2 ORDER BY key");
  auto hot_events = HotEvents::open(db);
  if (!hot || !hot_events) {
    return !hot ? hot.status() : hot_events.status();
  }
  hot->bind(1, lo);
  hot->bind(2, hi);
  bool hot_row = false;
  auto advance_hot = [&]() -> Status {
    const int rc = hot->step();
    hot_row = rc == SQLITE_ROW;
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? Status::ok() : db.error("read hot events");
  };
  KTRAIL_RETURN_IF_ERROR(advance_hot());
  std::vector<OpenSegment> open;
  std::size_t unopened = 0;
  for (;;) {
    // The smallest key not yet written; segments are opened once the merge reaches them.
    std::int64_t best = INT64_MAX;
    if (hot_row) {
      best = hot->column_int(0);
    }
    for (const auto& o : open) {
      best = std::min(best, o.seg->columns.key[o.next]);
    }
    if (unopened < segments.size() && segments[unopened].first_key <= best) {
      auto seg = load_segment(db, segments[unopened]);
      if (!seg) {
        return seg.status();
      }
      ++unopened;
      OpenSegment o;
      o.seg = std::move(*seg);
      o.frames = std::make_unique<FrameReader>(db);
      if (o.seg->columns.size() > 0) {
        open.push_back(std::move(o));
      }
      continue;
    }
    if (best == INT64_MAX || best > hi) {
      return Status::ok();
    }
    bool from_hot = hot_row && hot->column_int(0) == best;
    if (from_hot) {
      const Micros ts = hot->column_int(1);
      if (ts >= since && ts <= until) {
        auto event = hot_events->event(hot->column_int(2));
        if (!event) {
          return event.status();
        }
        KTRAIL_RETURN_IF_ERROR(sink(*event));
      }
      KTRAIL_RETURN_IF_ERROR(advance_hot());
      continue;
    }
    for (std::size_t k = 0; k < open.size(); ++k) {
      OpenSegment& o = open[k];
      const SegmentColumns& c = o.seg->columns;
      if (c.key[o.next] != best) {
        continue;
      }
      if (c.ts[o.next] >= since && c.ts[o.next] <= until) {
        auto event = o.frames->event(*o.seg, o.next);
        if (!event) {
          return event.status();
        }
        KTRAIL_RETURN_IF_ERROR(sink(*event));
      }
      if (++o.next == c.size()) {
        open.erase(open.begin() + static_cast<std::ptrdiff_t>(k));
      }
      break;
    }
  }
}

}  // namespace ktrail::storage
