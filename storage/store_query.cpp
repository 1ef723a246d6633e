// The read path of the store: audit search over the normalized columns.
#include <algorithm>
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
  for (const auto& [value, column] : interned) {
    if (!value->has_value()) {
      continue;
    }
    if ((*value)->empty()) {
      where.push_back({std::string(column) + " IS NULL", {}});
      continue;
    }
    auto id = s.dict->find(**value);
    if (!id) {
      return id.status();
    }
    if (*id == 0) {
      return std::vector<StoredAudit>{};
    }
    where.push_back({std::string(column) + " = ?", {*id}});
  }
  if (f.code) {
    where.push_back({"code = ?", {*f.code}});
  }
  std::int64_t lowest_key = 0;
  std::int64_t highest_key = INT64_MAX;
  if (f.since) {
    lowest_key = std::max<Micros>(0, std::min(*f.since, storage::kMaxKeyTime))
                 << storage::kSlotBits;
    where.push_back({"key >= ?", {lowest_key}});
    where.push_back({"ts >= ?", {*f.since}});
  }
  if (f.until) {
    const Micros until = std::max<Micros>(0, std::min(*f.until, storage::kMaxKeyTime));
    highest_key = ((until + 1) << storage::kSlotBits) + kKeySpill;
    where.push_back({"key <= ?", {highest_key}});
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
      where.push_back(
          {kKeysOfName, {*id, lowest_key, highest_key, *id, lowest_key, highest_key}});
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

  auto lookup = sqlite::Stmt::prepare(s.db, "SELECT value FROM dict WHERE id = ?1");
  if (!lookup) {
    return lookup.status();
  }
  std::unordered_map<std::int64_t, std::string> names;
  auto name_of = [&](int column, std::string* out) -> Status {
    if (stmt->column_null(column)) {
      return Status::ok();
    }
    const std::int64_t id = stmt->column_int(column);
    auto it = names.find(id);
    if (it == names.end()) {
      lookup->bind(1, id);
      const int rc = lookup->step();
      std::string value = rc == SQLITE_ROW ? std::string(lookup->column_text(0)) : "";
      lookup->reset();
      if (rc != SQLITE_ROW) {
        return database_error("dictionary id " + std::to_string(id) + " is missing");
      }
      it = names.emplace(id, std::move(value)).first;
    }
    *out = it->second;
    return Status::ok();
  };

  std::vector<StoredAudit> rows;
  std::vector<std::int64_t> refs;
  int rc;
  while ((rc = stmt->step()) == SQLITE_ROW) {
    StoredAudit r;
    r.time = stmt->column_int(0);
    r.received = stmt->column_int(1);
    r.audit_id = stmt->column_text(2);
    r.stage = static_cast<Stage>(stmt->column_int(3));
    r.level = static_cast<Level>(stmt->column_int(4));
    KTRAIL_RETURN_IF_ERROR(name_of(5, &r.verb));
    KTRAIL_RETURN_IF_ERROR(name_of(6, &r.user));
    KTRAIL_RETURN_IF_ERROR(name_of(7, &r.groups));
    KTRAIL_RETURN_IF_ERROR(name_of(8, &r.impersonated_user));
    KTRAIL_RETURN_IF_ERROR(name_of(9, &r.resource));
    KTRAIL_RETURN_IF_ERROR(name_of(10, &r.subresource));
    KTRAIL_RETURN_IF_ERROR(name_of(11, &r.namespace_));
    r.name = stmt->column_text(12);
    r.code = static_cast<int>(stmt->column_int(13));
    KTRAIL_RETURN_IF_ERROR(name_of(14, &r.source_ips));
    KTRAIL_RETURN_IF_ERROR(name_of(15, &r.user_agent));
    r.level_received = static_cast<Level>(stmt->column_int(16));
    rows.push_back(std::move(r));
    refs.push_back(f.with_event ? stmt->column_int(17) : 0);
  }
  if (rc != SQLITE_DONE) {
    return s.db.error("audit search");
  }
  if (f.with_event) {
    KTRAIL_RETURN_IF_ERROR(load_events(s.db, refs, &rows));
  }
  std::reverse(rows.begin(), rows.end());
  return rows;
}

}  // namespace ktrail
