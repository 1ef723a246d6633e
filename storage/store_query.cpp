// The read path of the store: audit search over the normalized columns.
#include <algorithm>
#include <array>
#include <unordered_map>

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

// Keys of an object name: the merged name index and the entries not merged yet (schema.cpp,
// version 5), each as one range of (name_id, key).
constexpr const char* kKeysOfName =
    "key IN (SELECT key FROM audit_names WHERE name_id = ? AND key BETWEEN ? AND ? "
    "UNION ALL SELECT key FROM audit_names_pending WHERE name_id = ? AND key BETWEEN ? AND ?)";

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

}  // namespace

Result<std::vector<StoredAudit>> Store::find_audit(const AuditFilter& f) {
  Impl& s = *impl_;
  std::vector<Condition> where;
  // Interned filters: a string the dictionary has never seen matches nothing.
  const std::pair<const std::optional<std::string>*, const char*> interned[] = {
      {&f.user, "user_id"},         {&f.verb, "verb_id"},
      {&f.resource, "resource_id"}, {&f.subresource, "subresource_id"},
      {&f.namespace_, "ns_id"},
  };
  // A name is the most selective filter there is: its keys (index range plus pending entries)
  // drive the search, and "+" keeps the planner from ranging over another index or the whole
  // key range of the window instead.
  const bool named = f.name && !f.name->empty();
  const std::string no_index = named ? "+" : "";
  for (const auto& [value, column] : interned) {
    if (!value->has_value()) {
      continue;
    }
    if ((*value)->empty()) {
      where.push_back({no_index + column + " IS NULL", {}});
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
  }
  if (f.code) {
    where.push_back({no_index + "code = ?", {*f.code}});
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
  if (f.name) {
    if (f.name->empty()) {
      where.push_back({"name IS NULL", {}});
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
    }
  }
  std::string sql =
      "SELECT ts, received, audit_id, stage, level, verb_id, user_id, groups_id, imp_user_id, "
      "resource_id, subresource_id, ns_id, name, code, ips_id, ua_id, "
      "coalesce(level_received, level)";
  sql += f.with_event ? ", event_ref FROM audit" : " FROM audit";
  for (std::size_t i = 0; i < where.size(); ++i) {
    sql += (i == 0 ? " WHERE " : " AND ") + where[i].sql;
  }
  sql += " ORDER BY key DESC";
  if (f.limit > 0) {
    sql += " LIMIT " + std::to_string(f.limit);
  }
  auto stmt = sqlite::Stmt::prepare(s.db, sql);
  if (!stmt) {
    return stmt.status();
  }
  int index = 1;
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
  int rc;
  while ((rc = stmt->step()) == SQLITE_ROW) {
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
    refs.push_back(f.with_event ? stmt->column_int(17) : 0);
  }
  if (rc != SQLITE_DONE) {
    return s.db.error("audit search");
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
  if (f.with_event) {
    KTRAIL_RETURN_IF_ERROR(load_events(s.db, refs, &rows));
  }
  std::reverse(rows.begin(), rows.end());
  return rows;
}

}  // namespace ktrail
