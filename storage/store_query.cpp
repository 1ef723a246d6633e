// The read path of the store: audit search over the normalized columns.
#include <algorithm>
#include <array>
#include <functional>
#include <optional>
#include <unordered_map>

#include "storage/clusters.h"
#include "storage/postings.h"
#include "storage/store_impl.h"

namespace ktrail {
namespace {

// Keys of events of one microsecond can spill past the next microsecond's first key when
// more than 2^kSlotBits share it; an upper bound on keys allows this much spill.
constexpr std::int64_t kKeySpill = std::int64_t{1} << 30;

struct Condition {
  std::string sql;
  std::vector<std::int64_t> values;  // one per `?` in sql
};

// Keys of an object name: the merged name index and the rows not merged yet (schema.cpp,
// versions 5 and 7), each as one range of (name_id, key).
constexpr const char* kKeysOfName =
    "key IN (SELECT key FROM audit_names WHERE name_id = ? AND key BETWEEN ? AND ? "
    "UNION ALL SELECT key FROM audit_pending WHERE name_id = ? AND key BETWEEN ? AND ?)";

// Keys of any of several names (ids sorted): the same two ranges per name as kKeysOfName.
Condition keys_of_names(const std::vector<std::int64_t>& ids, std::int64_t lo, std::int64_t hi) {
  std::string list;
  for (std::size_t i = 0; i < ids.size(); ++i) {
    list += (i == 0 ? "" : ",") + std::to_string(ids[i]);
  }
  Condition c;
  c.sql = "key IN (SELECT key FROM audit_names WHERE name_id IN (" + list +
          ") AND key BETWEEN ? AND ? UNION ALL SELECT key FROM audit_pending WHERE name_id IN (" +
          list + ") AND key BETWEEN ? AND ?)";
  c.values = {lo, hi, lo, hi};
  return c;
}

// A user, namespace or resource filter: its postings term and its column in audit_pending.
// `impersonated_id` (a user filter that also matches the impersonated user): the keys of the
// events that impersonated that user join the term's keys (index audit_by_impersonated).
struct TermFilter {
  std::int64_t term;
  std::int64_t id;
  const char* pending_column;
  std::int64_t impersonated_id = 0;
};

// How many merged keys `term` has in [lo, hi] at most (the rows overlapping the range).
Result<std::int64_t> estimate_term_keys(const sqlite::Db& db, std::int64_t term, std::int64_t lo,
                                        std::int64_t hi) {
  auto stmt = sqlite::Stmt::prepare(db,
                                    "SELECT coalesce(sum(count), 0) FROM audit_postings "
                                    "WHERE term = ?1 AND last_key >= ?2 AND first_key <= ?3");
  if (!stmt) {
    return stmt.status();
  }
  stmt->bind(1, term);
  stmt->bind(2, lo);
  stmt->bind(3, hi);
  if (stmt->step() != SQLITE_ROW) {
    return db.error("estimate a search");
  }
  return stmt->column_int(0);
}

// The keys of one term in [lo, hi], merged (audit_postings) and pending, newest first. A postings
// row is read and decoded only when the keys above its last key are used up, so a search with a
// limit reads the newest rows of a frequent term, not all of them.
class TermKeys {
 public:
  static Result<TermKeys> open(const sqlite::Db& db, const TermFilter& t, std::int64_t lo,
                               std::int64_t hi) {
    auto merged = sqlite::Stmt::prepare(
        db,
        "SELECT first_key, last_key, count FROM audit_postings "
        "WHERE term = ?1 AND last_key >= ?2 AND first_key <= ?3 ORDER BY last_key");
    auto blob = sqlite::Stmt::prepare(
        db, "SELECT keys FROM audit_postings WHERE term = ?1 AND last_key = ?2");
    if (!merged || !blob) {
      return !merged ? merged.status() : blob.status();
    }
    TermKeys k(db, std::move(*blob), t.term, lo, hi);
    k.dedupe_ = t.impersonated_id != 0;
    merged->bind(1, t.term);
    merged->bind(2, lo);
    merged->bind(3, hi);
    int rc;
    while ((rc = merged->step()) == SQLITE_ROW) {
      k.rows_.push_back({merged->column_int(0), merged->column_int(1), merged->column_int(2)});
    }
    if (rc != SQLITE_DONE) {
      return db.error("read audit postings");
    }
    auto pending = sqlite::Stmt::prepare(db, std::string("SELECT key FROM audit_pending WHERE ") +
                                                 t.pending_column +
                                                 " = ?1 AND key BETWEEN ?2 AND ?3 ORDER BY key");
    if (!pending) {
      return pending.status();
    }
    pending->bind(1, t.id);
    pending->bind(2, lo);
    pending->bind(3, hi);
    while ((rc = pending->step()) == SQLITE_ROW) {
      k.pool_.push_back(pending->column_int(0));
    }
    if (rc != SQLITE_DONE) {
      return db.error("read pending audit rows");
    }
    if (t.impersonated_id != 0) {
      auto imp = sqlite::Stmt::prepare(
          db, "SELECT key FROM audit WHERE imp_user_id = ?1 AND key BETWEEN ?2 AND ?3");
      if (!imp) {
        return imp.status();
      }
      imp->bind(1, t.impersonated_id);
      imp->bind(2, lo);
      imp->bind(3, hi);
      while ((rc = imp->step()) == SQLITE_ROW) {
        k.pool_.push_back(imp->column_int(0));
      }
      if (rc != SQLITE_DONE) {
        return db.error("read impersonated audit rows");
      }
      std::sort(k.pool_.begin(), k.pool_.end());
      k.pool_.erase(std::unique(k.pool_.begin(), k.pool_.end()), k.pool_.end());
    }
    return k;
  }

  // The next key, newest first; false when there are no more.
  Result<bool> next(std::int64_t* key) {
    for (;;) {
      if (!pool_.empty() && (rows_.empty() || pool_.back() > rows_.back().last_key)) {
        *key = pool_.back();
        pool_.pop_back();
        return true;
      }
      if (rows_.empty()) {
        return false;
      }
      const Row& row = rows_.back();
      blob_.bind(1, term_);
      blob_.bind(2, row.last_key);
      const int rc = blob_.step();
      decoded_.clear();
      const Status decoded = rc == SQLITE_ROW
                                 ? storage::decode_postings(row.first_key, row.last_key, row.count,
                                                            blob_.column_blob(0), &decoded_)
                                 : db_->error("read audit postings");
      blob_.reset();
      KTRAIL_RETURN_IF_ERROR(decoded);
      rows_.pop_back();
      const std::size_t middle = pool_.size();
      for (const std::int64_t k : decoded_) {
        if (k >= lo_ && k <= hi_) {
          pool_.push_back(k);
        }
      }
      std::inplace_merge(pool_.begin(), pool_.begin() + static_cast<std::ptrdiff_t>(middle),
                         pool_.end());
      if (dedupe_) {  // impersonation keys may also be the term's own
        pool_.erase(std::unique(pool_.begin(), pool_.end()), pool_.end());
      }
    }
  }

 private:
  TermKeys(const sqlite::Db& db, sqlite::Stmt blob, std::int64_t term, std::int64_t lo,
           std::int64_t hi)
      : db_(&db), blob_(std::move(blob)), term_(term), lo_(lo), hi_(hi) {}

  struct Row {
    std::int64_t first_key, last_key, count;
  };
  const sqlite::Db* db_;
  sqlite::Stmt blob_;  // one row's key list, read when the row is decoded
  std::int64_t term_;
  std::int64_t lo_;
  std::int64_t hi_;
  std::vector<Row> rows_;              // not decoded yet, by last_key ascending
  std::vector<std::int64_t> pool_;     // decoded and pending keys, ascending
  std::vector<std::int64_t> decoded_;  // scratch
  bool dedupe_ = false;
};

// Of several term filters, the one with the fewest keys in [lo, hi]: it drives the search.
Result<TermFilter> most_selective(const sqlite::Db& db, const std::vector<TermFilter>& terms,
                                  std::int64_t lo, std::int64_t hi) {
  TermFilter best = terms.front();
  if (terms.size() == 1) {
    return best;
  }
  std::int64_t fewest = INT64_MAX;
  for (const TermFilter& t : terms) {
    auto n = estimate_term_keys(db, t.term, lo, hi);
    if (!n) {
      return n.status();
    }
    if (*n < fewest) {
      fewest = *n;
      best = t;
    }
  }
  return best;
}

// Fills the full event of each row from its block, reading each block once.
Status load_events(const sqlite::Db& db, const std::vector<std::int64_t>& refs,
                   std::vector<StoredAudit>* rows) {
  auto select = sqlite::Stmt::prepare(db, "SELECT format, data FROM event_blocks WHERE id = ?1");
  if (!select) {
    return select.status();
  }
  // Rows come newest first, so consecutive rows usually share a block: keep the last one.
  std::int64_t cached_id = -1;
  std::string plain;
  for (std::size_t i = 0; i < refs.size(); ++i) {
    const std::int64_t block = refs[i] >> storage::kBlockIndexBits;
    const auto index = static_cast<std::size_t>(refs[i] & ((1 << storage::kBlockIndexBits) - 1));
    if (block != cached_id) {
      select->bind(1, block);
      const int rc = select->step();
      if (rc != SQLITE_ROW) {
        select->reset();
        return database_error("event block " + std::to_string(block) + " is missing");
      }
      auto unpacked = storage::unpack_block(
          select->column_blob(1), static_cast<storage::BlockFormat>(select->column_int(0)));
      select->reset();
      if (!unpacked) {
        return unpacked.status();
      }
      plain = std::move(*unpacked);
      cached_id = block;
    }
    auto json = storage::plain_block_event(plain, index);
    if (!json) {
      return json.status();
    }
    (*rows)[i].event = std::string(*json);
  }
  return Status::ok();
}

// The interned columns of the audit query below (their result column) and where each goes.
struct InternedColumn {
  int column;
  std::string StoredAudit::*field;
};
constexpr std::array<InternedColumn, 9> kInternedColumns = {{
    {5, &StoredAudit::verb},
    {6, &StoredAudit::user},
    {7, &StoredAudit::groups},
    {8, &StoredAudit::impersonated_user},
    {9, &StoredAudit::resource},
    {10, &StoredAudit::subresource},
    {11, &StoredAudit::namespace_},
    {14, &StoredAudit::source_ips},
    {15, &StoredAudit::user_agent},
}};
using InternedIds = std::array<std::int64_t, kInternedColumns.size()>;

// The strings of every distinct non-zero id in `ids`, read with one statement. An id the
// dictionary does not hold is an error (the store is damaged).
Result<std::unordered_map<std::int64_t, std::string>> resolve_ids(
    const sqlite::Db& db, const std::vector<InternedIds>& ids) {
  std::vector<std::int64_t> wanted;
  for (const auto& row : ids) {
    for (std::int64_t id : row) {
      if (id != 0) {
        wanted.push_back(id);
      }
    }
  }
  std::sort(wanted.begin(), wanted.end());
  wanted.erase(std::unique(wanted.begin(), wanted.end()), wanted.end());
  std::unordered_map<std::int64_t, std::string> values;
  if (wanted.empty()) {
    return values;
  }
  std::string list = "[";
  for (std::size_t i = 0; i < wanted.size(); ++i) {
    list += (i == 0 ? "" : ",") + std::to_string(wanted[i]);
  }
  list += "]";
  auto stmt = sqlite::Stmt::prepare(
      db, "SELECT id, value FROM dict WHERE id IN (SELECT value FROM json_each(?1))");
  if (!stmt) {
    return stmt.status();
  }
  stmt->bind(1, std::string_view(list));
  int rc;
  while ((rc = stmt->step()) == SQLITE_ROW) {
    values.emplace(stmt->column_int(0), std::string(stmt->column_text(1)));
  }
  if (rc != SQLITE_DONE) {
    return db.error("dictionary lookup");
  }
  for (std::int64_t id : wanted) {
    if (values.count(id) == 0) {
      return database_error("dictionary id " + std::to_string(id) + " is missing");
    }
  }
  return values;
}

// How many audit rows satisfy every condition of `where` (the same conditions as the search).
Result<std::int64_t> count_matches(const sqlite::Db& db, const std::vector<Condition>& where) {
  std::string sql = "SELECT count(*) FROM audit";
  for (std::size_t i = 0; i < where.size(); ++i) {
    sql += (i == 0 ? " WHERE " : " AND ") + where[i].sql;
  }
  auto stmt = sqlite::Stmt::prepare(db, sql);
  if (!stmt) {
    return stmt.status();
  }
  int index = 1;
  for (const auto& c : where) {
    for (const std::int64_t v : c.values) {
      stmt->bind(index++, v);
    }
  }
  if (stmt->step() != SQLITE_ROW) {
    return db.error("count audit matches");
  }
  return stmt->column_int(0);
}

// The filter of a search, for the rows of sealed segments (the same conditions as the SQL of
// the hot rows). Ids are dictionary ids; 0 means "absent".
struct SealedPredicate {
  std::vector<std::pair<storage::SegmentIdColumn, std::int64_t>> equal;
  std::int64_t user_or_impersonated = 0;  // user or impersonated user is this id
  std::vector<std::int64_t> verbs;        // any of these, when not empty
  std::optional<int> code;
  std::vector<std::pair<int, int>> code_ranges;
  std::optional<Micros> since;
  std::optional<Micros> until;
  std::vector<std::int64_t> clusters;  // any of these, when not empty

  bool may_hold(const storage::SegmentFilter& filter) const {
    for (const auto& [column, id] : equal) {
      if (id != 0 && !filter.may_hold(column, id)) {
        return false;
      }
    }
    if (user_or_impersonated != 0 && !filter.may_hold(storage::kUser, user_or_impersonated) &&
        !filter.may_hold(storage::kImpUser, user_or_impersonated)) {
      return false;
    }
    if (!verbs.empty() && std::none_of(verbs.begin(), verbs.end(), [&](std::int64_t v) {
          return filter.may_hold(storage::kVerb, v);
        })) {
      return false;
    }
    return true;
  }

  bool matches(const storage::SegmentColumns& c, std::size_t i) const {
    if ((since && c.ts[i] < *since) || (until && c.ts[i] > *until)) {
      return false;
    }
    if (!clusters.empty() &&
        std::find(clusters.begin(), clusters.end(), c.cluster[i]) == clusters.end()) {
      return false;
    }
    for (const auto& [column, id] : equal) {
      if (c.ids[column][i] != id) {
        return false;
      }
    }
    if (user_or_impersonated != 0 && c.ids[storage::kUser][i] != user_or_impersonated &&
        c.ids[storage::kImpUser][i] != user_or_impersonated) {
      return false;
    }
    if (!verbs.empty() && std::find(verbs.begin(), verbs.end(), c.ids[storage::kVerb][i]) ==
                              verbs.end()) {
      return false;
    }
    const int code_i = c.code[i];
    if (code && (code_i == 0 || code_i != *code)) {
      return false;
    }
    if (!code_ranges.empty() &&
        (code_i == 0 || std::none_of(code_ranges.begin(), code_ranges.end(), [&](const auto& r) {
           return code_i >= r.first && code_i <= r.second;
         }))) {
      return false;
    }
    return true;
  }
};

// Rows found so far, newest first per source, with what is needed to merge and resolve them.
struct Found {
  std::vector<StoredAudit> rows;
  std::vector<InternedIds> ids;
  std::vector<std::int64_t> keys;
  std::vector<std::int64_t> name_ids;  // sealed rows: the name's dictionary id
};

// The sealed rows matching `p`: at most `limit` (0: all) of the newest of each segment are
// kept in `out`; *matched counts all of them. Segments whose times or filter exclude the search
// are not decoded. With a limit and no count wanted, segments older than the limit-th newest
// key kept are not read.
Status search_segments(const sqlite::Db& db, const SealedPredicate& p, std::size_t limit,
                       bool count_all, bool with_event, bool non_resource_events_only,
                       std::int64_t newest_hot_floor,
                       const std::unordered_map<std::int64_t, std::string>& cluster_names,
                       Found* out, std::size_t* matched) {
  auto list = storage::list_segments(db);
  if (!list) {
    return list.status();
  }
  std::vector<storage::SegmentInfo>& segments = *list;
  std::sort(segments.begin(), segments.end(),
            [](const auto& a, const auto& b) { return a.last_key > b.last_key; });
  storage::FrameReader frames(db);
  std::vector<std::int64_t> kept_keys;  // of rows kept, to know when older segments cannot matter
  for (const storage::SegmentInfo& info : segments) {
    if ((p.since && info.max_ts < *p.since) || (p.until && info.min_ts > *p.until)) {
      continue;
    }
    if (limit > 0 && !count_all) {
      // Below the limit-th newest key of the hot rows, or of the sealed rows kept so far,
      // nothing can make the answer.
      std::int64_t floor = newest_hot_floor;
      if (kept_keys.size() >= limit) {
        std::vector<std::int64_t> kth = kept_keys;
        std::nth_element(kth.begin(), kth.begin() + static_cast<std::ptrdiff_t>(limit - 1),
                         kth.end(), std::greater<>());
        floor = std::max(floor, kth[limit - 1]);
      }
      if (info.last_key < floor) {
        continue;
      }
    }
    auto filter = storage::load_filter(db, info.id);
    if (!filter) {
      return filter.status();
    }
    if (!p.may_hold(*filter)) {
      continue;
    }
    auto seg = storage::load_segment(db, info);
    if (!seg) {
      return seg.status();
    }
    const storage::SegmentColumns& c = (*seg)->columns;
    std::size_t kept = 0;
    for (std::size_t i = c.size(); i-- > 0;) {
      if (!p.matches(c, i)) {
        continue;
      }
      ++*matched;
      if (limit > 0 && kept >= limit) {
        if (!count_all) {
          break;
        }
        continue;
      }
      ++kept;
      StoredAudit r;
      r.cluster = storage::cluster_name_of(cluster_names, c.cluster[i]);
      r.time = c.ts[i];
      r.received = c.received[i];
      r.audit_id = c.audit_id[i];
      r.stage = static_cast<Stage>(c.stage[i]);
      r.level = static_cast<Level>(c.level[i]);
      r.level_received = static_cast<Level>(c.level_received[i]);
      r.code = c.code[i];
      InternedIds& row_ids = out->ids.emplace_back();
      const storage::SegmentIdColumn order[] = {
          storage::kVerb,     storage::kUser,        storage::kGroups,
          storage::kImpUser,  storage::kResource,    storage::kSubresource,
          storage::kNamespace, storage::kIps,        storage::kUserAgent};
      for (std::size_t k = 0; k < row_ids.size(); ++k) {
        row_ids[k] = c.ids[order[k]][i];
      }
      // The name is resolved with the other ids (kept in the name slot below).
      if (with_event && (!non_resource_events_only || c.ids[storage::kResource][i] == 0)) {
        auto event = frames.event(**seg, i);
        if (!event) {
          return event.status();
        }
        r.event = std::move(*event);
      }
      out->rows.push_back(std::move(r));
      out->keys.push_back(c.key[i]);
      kept_keys.push_back(c.key[i]);
      out->name_ids.push_back(c.ids[storage::kName][i]);
    }
  }
  return Status::ok();
}

}  // namespace

Result<std::vector<StoredAudit>> Store::find_audit(const AuditFilter& f) {
  return find_audit(f, nullptr);
}

Result<std::vector<StoredAudit>> Store::find_audit(const AuditFilter& f, std::size_t* matched) {
  Impl& s = *impl_;
  if (matched != nullptr) {
    *matched = 0;
  }
  // The postings, the pending rows and the audit rows are read in one snapshot.
  sqlite::ReadSnapshot snapshot(s.db);
  KTRAIL_RETURN_IF_ERROR(snapshot.status());
  std::vector<Condition> where;
  // Interned filters: a string the dictionary has never seen matches nothing.
  SealedPredicate sealed;
  sealed.since = f.since;
  sealed.until = f.until;
  sealed.code = f.code;
  sealed.code_ranges = f.code_ranges;
  auto cluster_names = storage::cluster_names(s.db);
  if (!cluster_names) {
    return cluster_names.status();
  }
  if (!f.clusters.empty()) {
    auto ids = storage::cluster_ids(s.db, f.clusters);
    if (!ids) {
      return ids.status();
    }
    if (ids->empty()) {
      return std::vector<StoredAudit>{};
    }
    where.push_back({storage::cluster_condition(*ids, ""), {}});
    sealed.clusters = *ids;
  }
  struct Interned {
    const std::optional<std::string>* value;
    const char* column;
    int term_column;  // a storage::TermColumn, 0 if the column has no postings
    storage::SegmentIdColumn sealed_column;
  };
  const Interned interned[] = {
      {&f.user, "user_id", static_cast<int>(storage::TermColumn::kUser), storage::kUser},
      {&f.verb, "verb_id", 0, storage::kVerb},
      {&f.resource, "resource_id", static_cast<int>(storage::TermColumn::kResource),
       storage::kResource},
      {&f.subresource, "subresource_id", 0, storage::kSubresource},
      {&f.namespace_, "ns_id", static_cast<int>(storage::TermColumn::kNamespace),
       storage::kNamespace},
  };
  // A name is the most selective filter there is: its keys (index range plus pending entries)
  // drive the search, and "+" keeps the planner from ranging over the whole key range of the
  // window instead. Without a name, the keys of a user, namespace or resource drive it.
  const bool named = (f.name && !f.name->empty()) || (!f.name && !f.names.empty());
  const std::string no_index = named ? "+" : "";
  std::vector<TermFilter> terms;
  for (const auto& [value, column, term_column, sealed_column] : interned) {
    if (!value->has_value()) {
      continue;
    }
    if ((*value)->empty()) {
      where.push_back({no_index + column + " IS NULL", {}});
      sealed.equal.emplace_back(sealed_column, 0);
      continue;
    }
    auto id = s.dict->find(**value);
    if (!id) {
      return id.status();
    }
    if (*id == 0) {
      return std::vector<StoredAudit>{};
    }
    where.push_back({no_index + column + " = ?", {*id}});
    sealed.equal.emplace_back(sealed_column, *id);
    if (term_column != 0) {
      terms.push_back(
          {storage::term_of(static_cast<storage::TermColumn>(term_column), *id), *id, column});
    }
  }
  if (f.user_or_impersonated) {
    // One string, one dictionary id, whichever column holds it.
    auto id = s.dict->find(*f.user_or_impersonated);
    if (!id) {
      return id.status();
    }
    if (*id == 0) {
      return std::vector<StoredAudit>{};
    }
    where.push_back({no_index + "(user_id = ? OR imp_user_id = ?)", {*id, *id}});
    sealed.user_or_impersonated = *id;
    terms.push_back({storage::term_of(storage::TermColumn::kUser, *id), *id, "user_id", *id});
  }
  if (!f.verbs.empty()) {
    Condition in{no_index + "verb_id IN (", {}};
    for (const std::string& verb : f.verbs) {
      auto id = s.dict->find(verb);
      if (!id) {
        return id.status();
      }
      if (*id != 0) {
        in.sql += in.values.empty() ? "?" : ",?";
        in.values.push_back(*id);
      }
    }
    if (in.values.empty()) {
      return std::vector<StoredAudit>{};
    }
    in.sql += ")";
    sealed.verbs = in.values;
    where.push_back(std::move(in));
  }
  if (f.code) {
    where.push_back({no_index + "code = ?", {*f.code}});
  }
  if (!f.code_ranges.empty()) {
    Condition any{no_index + "(", {}};
    for (const auto& [lo, hi] : f.code_ranges) {
      any.sql += any.values.empty() ? "code BETWEEN ? AND ?" : " OR code BETWEEN ? AND ?";
      any.values.push_back(lo);
      any.values.push_back(hi);
    }
    any.sql += ")";
    where.push_back(std::move(any));
  }
  std::int64_t lowest_key = 0;
  std::int64_t highest_key = INT64_MAX;
  if (f.since) {
    lowest_key = std::max<Micros>(0, std::min(*f.since, storage::kMaxKeyTime))
                 << storage::kSlotBits;
    where.push_back({no_index + "key >= ?", {lowest_key}});
    where.push_back({"ts >= ?", {*f.since}});
  }
  if (f.until) {
    const Micros until = std::max<Micros>(0, std::min(*f.until, storage::kMaxKeyTime));
    highest_key = ((until + 1) << storage::kSlotBits) + kKeySpill;
    where.push_back({no_index + "key <= ?", {highest_key}});
    where.push_back({"ts <= ?", {*f.until}});
  }
  if (!f.name && !f.names.empty()) {
    // Several names: their ids (names never stored match nothing), then one range per id.
    std::vector<std::int64_t> ids;
    for (const std::string& name : f.names) {
      auto id = name.empty() ? Result<std::int64_t>(0) : s.dict->find(name);
      if (!id) {
        return id.status();
      }
      if (*id != 0) {
        ids.push_back(*id);
      }
    }
    std::sort(ids.begin(), ids.end());
    ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
    if (ids.empty()) {
      return std::vector<StoredAudit>{};
    }
    where.push_back(keys_of_names(ids, lowest_key, highest_key));
  }
  if (f.name) {
    if (f.name->empty()) {
      where.push_back({"name IS NULL", {}});
      sealed.equal.emplace_back(storage::kName, 0);
    } else {
      // Names are interned when stored: a name the dictionary lacks was never stored.
      auto id = s.dict->find(*f.name);
      if (!id) {
        return id.status();
      }
      if (*id == 0) {
        return std::vector<StoredAudit>{};
      }
      where.push_back({kKeysOfName, {*id, lowest_key, highest_key, *id, lowest_key, highest_key}});
      sealed.equal.emplace_back(storage::kName, *id);
    }
  }
  // Driven by a term, the statement reads one row by key; else it searches the key range.
  const bool by_term = !named && !terms.empty();
  std::string sql =
      "SELECT ts, received, audit_id, stage, level, verb_id, user_id, groups_id, imp_user_id, "
      "resource_id, subresource_id, ns_id, name, code, ips_id, ua_id, "
      "coalesce(level_received, level), key, cluster";
  sql += f.with_event ? ", event_ref FROM audit" : " FROM audit";
  if (by_term) {
    sql += " WHERE key = ?";
  }
  for (std::size_t i = 0; i < where.size(); ++i) {
    sql += (i == 0 && !by_term ? " WHERE " : " AND ") + where[i].sql;
  }
  if (!by_term) {
    sql += " ORDER BY key DESC";
    if (f.limit > 0) {
      sql += " LIMIT " + std::to_string(f.limit);
    }
  }
  auto stmt = sqlite::Stmt::prepare(s.db, sql);
  if (!stmt) {
    return stmt.status();
  }
  int index = by_term ? 2 : 1;
  for (const auto& c : where) {
    for (const std::int64_t v : c.values) {
      stmt->bind(index++, v);
    }
  }

  // Rows first, with their interned ids; then every distinct id is resolved in one statement,
  // instead of a lookup per row and column.
  std::vector<StoredAudit> rows;
  std::vector<InternedIds> ids;
  std::vector<std::int64_t> refs;
  std::vector<std::int64_t> keys;
  auto read_row = [&] {
    StoredAudit r;
    r.time = stmt->column_int(0);
    r.received = stmt->column_int(1);
    r.audit_id = stmt->column_text(2);
    r.stage = static_cast<Stage>(stmt->column_int(3));
    r.level = static_cast<Level>(stmt->column_int(4));
    r.name = stmt->column_text(12);
    r.code = static_cast<int>(stmt->column_int(13));
    r.level_received = static_cast<Level>(stmt->column_int(16));
    InternedIds& row_ids = ids.emplace_back();
    for (std::size_t i = 0; i < kInternedColumns.size(); ++i) {
      row_ids[i] = stmt->column_int(kInternedColumns[i].column);  // NULL reads as 0
    }
    rows.push_back(std::move(r));
    keys.push_back(stmt->column_int(17));
    rows.back().cluster = storage::cluster_name_of(*cluster_names, stmt->column_int(18));
    refs.push_back(f.with_event ? stmt->column_int(19) : 0);
  };
  if (by_term) {
    auto driver = most_selective(s.db, terms, lowest_key, highest_key);
    if (!driver) {
      return driver.status();
    }
    auto keys = TermKeys::open(s.db, *driver, lowest_key, highest_key);
    if (!keys) {
      return keys.status();
    }
    std::int64_t key = 0;
    std::size_t found = 0;
    // Past the limit, the keys are still checked when the caller wants the number matched.
    while (f.limit == 0 || rows.size() < f.limit || matched != nullptr) {
      auto more = keys->next(&key);
      if (!more) {
        return more.status();
      }
      if (!*more) {
        break;
      }
      stmt->bind(1, key);
      const int rc = stmt->step();
      if (rc == SQLITE_ROW) {
        ++found;
        if (f.limit == 0 || rows.size() < f.limit) {
          read_row();
        }
      }
      sqlite3_reset(stmt->get());  // keeps the other bindings
      if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        return s.db.error("audit search");
      }
    }
    if (matched != nullptr) {
      *matched = found;
    }
  } else {
    int rc;
    while ((rc = stmt->step()) == SQLITE_ROW) {
      read_row();
    }
    if (rc != SQLITE_DONE) {
      return s.db.error("audit search");
    }
    if (matched != nullptr) {
      *matched = rows.size();
      if (f.limit > 0 && rows.size() == f.limit) {
        auto n = count_matches(s.db, where);
        if (!n) {
          return n.status();
        }
        *matched = static_cast<std::size_t>(*n);
      }
    }
  }
  auto values = resolve_ids(s.db, ids);
  if (!values) {
    return values.status();
  }
  for (std::size_t r = 0; r < rows.size(); ++r) {
    for (std::size_t i = 0; i < kInternedColumns.size(); ++i) {
      if (ids[r][i] != 0) {
        rows[r].*kInternedColumns[i].field = values->at(ids[r][i]);
      }
    }
  }
  if (f.with_event && (f.event_wanted || f.events_of_non_resource_only)) {
    // Only the wanted rows are read: the others keep an empty event.
    std::vector<std::size_t> wanted;
    for (std::size_t r = 0; r < rows.size(); ++r) {
      if ((!f.events_of_non_resource_only || rows[r].resource.empty()) &&
          (!f.event_wanted || f.event_wanted(rows[r]))) {
        wanted.push_back(r);
      }
    }
    std::vector<std::int64_t> wanted_refs;
    std::vector<StoredAudit> loaded(wanted.size());
    for (std::size_t w : wanted) {
      wanted_refs.push_back(refs[w]);
    }
    KTRAIL_RETURN_IF_ERROR(load_events(s.db, wanted_refs, &loaded));
    for (std::size_t i = 0; i < wanted.size(); ++i) {
      rows[wanted[i]].event = std::move(loaded[i].event);
    }
  } else if (f.with_event) {
    KTRAIL_RETURN_IF_ERROR(load_events(s.db, refs, &rows));
  }

  // The sealed rows, merged with the hot ones by key, newest first, up to the limit.
  Found found;
  found.rows = std::move(rows);
  found.ids = std::move(ids);
  found.keys = std::move(keys);
  found.name_ids.assign(found.rows.size(), -1);  // hot rows carry their name as text
  std::size_t sealed_matched = 0;
  const std::int64_t hot_floor =
      f.limit > 0 && found.keys.size() >= f.limit ? found.keys.back() : INT64_MIN;
  KTRAIL_RETURN_IF_ERROR(search_segments(s.db, sealed, f.limit, matched != nullptr, f.with_event,
                                         f.events_of_non_resource_only, hot_floor,
                                         *cluster_names, &found, &sealed_matched));
  if (matched != nullptr) {
    *matched += sealed_matched;
  }
  std::vector<std::size_t> order(found.rows.size());
  for (std::size_t i = 0; i < order.size(); ++i) {
    order[i] = i;
  }
  std::stable_sort(order.begin(), order.end(),
                   [&](std::size_t a, std::size_t b) { return found.keys[a] > found.keys[b]; });
  if (f.limit > 0 && order.size() > f.limit) {
    order.resize(f.limit);
  }
  // Hot rows were resolved above; the sealed rows kept (name_ids >= 0) are resolved here.
  std::vector<InternedIds> sealed_ids;
  for (const std::size_t i : order) {
    if (found.name_ids[i] < 0) {
      continue;
    }
    sealed_ids.push_back(found.ids[i]);
    if (found.name_ids[i] > 0) {  // a sealed row's name, resolved like the other ids
      InternedIds extra{};
      extra[0] = found.name_ids[i];
      sealed_ids.push_back(extra);
    }
  }
  auto sealed_values = resolve_ids(s.db, sealed_ids);
  if (!sealed_values) {
    return sealed_values.status();
  }
  std::vector<StoredAudit> out;
  out.reserve(order.size());
  for (const std::size_t r : order) {
    StoredAudit& row = found.rows[r];
    if (found.name_ids[r] >= 0) {
      for (std::size_t i = 0; i < kInternedColumns.size(); ++i) {
        if (found.ids[r][i] != 0) {
          row.*kInternedColumns[i].field = sealed_values->at(found.ids[r][i]);
        }
      }
    }
    if (found.name_ids[r] > 0) {
      row.name = sealed_values->at(found.name_ids[r]);
    }
    // A sealed row's event was read with it; only the wanted ones keep it, as for hot rows.
    if (found.name_ids[r] >= 0 && f.with_event && f.event_wanted && !f.event_wanted(row)) {
      row.event.clear();
    }
    out.push_back(std::move(row));
  }
  std::reverse(out.begin(), out.end());
  return out;
}

}  // namespace ktrail
