// The write path of the store: one audit event, Kubernetes Event or dead letter at a time,
// inside the transaction that Store::write_batch opened.
#include <algorithm>
#include <cstdint>

#include "storage/postings.h"
#include "storage/store_impl.h"

namespace ktrail {
namespace {

constexpr const char* kInsertAudit = R"sql(
INSERT INTO audit(key, ts, received, audit_id, stage, level, verb_id, user_id, groups_id,
  imp_user_id, resource_id, subresource_id, ns_id, name, code, ips_id, ua_id, event_ref,
  level_received, cluster)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20)
ON CONFLICT DO NOTHING)sql";

constexpr const char* kSelectIdentity =
    "SELECT audit_id, stage, received, ts, cluster FROM audit WHERE key = ?1";

// The largest key used in [?1, ?2]: one seek to the end of the range (rowid order).
constexpr const char* kMaxKeyInRange =
    "SELECT key FROM audit WHERE key BETWEEN ?1 AND ?2 ORDER BY key DESC LIMIT 1";

// Where a displaced row of an identity (ts, hash) sits (schema.cpp, version 9).
constexpr const char* kFindDisplaced =
    "SELECT key FROM audit_displaced WHERE ts = ?1 AND hash = ?2";

// The last displaced row of a microsecond: where its crowded run ends (or nearly).
constexpr const char* kLastDisplaced =
    "SELECT key FROM audit_displaced WHERE ts = ?1 ORDER BY key DESC LIMIT 1";

constexpr const char* kInsertDisplaced =
    "INSERT INTO audit_displaced(ts, hash, key) VALUES (?1, ?2, ?3)";

constexpr const char* kUpsertKubeEvent = R"sql(
INSERT INTO kube_events(uid, namespace, name, object_kind, object_namespace, object_name,
  object_uid, reason, message, type, source_component, source_host, first_time, last_time,
  count, event, received, cluster)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18)
ON CONFLICT(cluster, uid) DO UPDATE SET
  namespace = excluded.namespace, name = excluded.name, object_kind = excluded.object_kind,
  object_namespace = excluded.object_namespace, object_name = excluded.object_name,
  object_uid = excluded.object_uid, reason = excluded.reason, message = excluded.message,
  type = excluded.type, source_component = excluded.source_component,
  source_host = excluded.source_host, first_time = min(first_time, excluded.first_time),
  last_time = excluded.last_time, count = excluded.count, event = excluded.event,
  received = max(received, excluded.received)
WHERE excluded.count > kube_events.count OR excluded.last_time > kube_events.last_time)sql";

// An Event known so far only from the audit events that carried it arrives as an Event, with
// nothing newer than what they said: it is now received (and a new received item).
constexpr const char* kMarkReceived =
    "UPDATE kube_events SET received = 1 WHERE cluster = ?2 AND uid = ?1 AND received = 0";

// The row of an Event by its namespace and name, the most recently observed if the name was
// ever reused; ?2 NULL for a cluster-scoped name.
constexpr const char* kUidByName = R"sql(
SELECT uid FROM kube_events INDEXED BY kube_events_by_name
WHERE name = ?1 AND namespace IS ?2 AND cluster = ?3 ORDER BY last_time DESC LIMIT 1)sql";

// A row stored by namespace/name (its uid was not known then) takes the uid now known.
constexpr const char* kAdoptUid =
    "UPDATE OR IGNORE kube_events SET uid = ?1 WHERE cluster = ?3 AND uid = ?2";

constexpr const char* kInsertBlock =
    "INSERT INTO event_blocks(id, format, count, data) VALUES (?1, ?2, ?3, ?4)";

constexpr int kPendingColumns = 5;
constexpr int kPendingRowsPerInsert = 64;

// INSERT INTO audit_pending(...) VALUES (?,?,?,?,?),(...),... for `rows` rows.
std::string insert_pending_sql(int rows) {
  std::string sql = "INSERT INTO audit_pending(key, name_id, user_id, ns_id, resource_id) VALUES ";
  for (int i = 0; i < rows; ++i) {
    sql += i == 0 ? "(?,?,?,?,?)" : ",(?,?,?,?,?)";
  }
  return sql;
}

// Moves the pending names into the name index in one sorted pass (schema.cpp, v5); the rest of
// the pending rows become postings (storage/postings.h) before the table is emptied.
constexpr const char* kMergeNames = R"sql(
INSERT OR IGNORE INTO audit_names(name_id, key)
  SELECT name_id, key FROM audit_pending WHERE name_id IS NOT NULL ORDER BY name_id, key)sql";

constexpr const char* kPendingTerms =
    "SELECT key, user_id, ns_id, resource_id FROM audit_pending ORDER BY key";

constexpr const char* kInsertFinding = R"sql(
INSERT INTO findings(rule, priority, severity, audit_id, stage, time, user, impersonated_user,
  namespace, resource, name, output, tags, cluster)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)
ON CONFLICT(cluster, rule, audit_id, stage) DO NOTHING)sql";

constexpr const char* kInsertDeadLetter =
    "INSERT INTO dead_letters(received, origin, reason, raw, cluster) VALUES (?1, ?2, ?3, ?4, ?5)";

constexpr const char* kInsertCluster = "INSERT OR IGNORE INTO clusters(id, name) VALUES (?1, ?2)";

// Binds `text`, or NULL when empty (absent and empty mean the same in these columns).
void bind_text_or_null(sqlite::Stmt& stmt, int i, std::string_view text) {
  if (text.empty()) {
    stmt.bind_null(i);
  } else {
    stmt.bind(i, text);
  }
}

}  // namespace

Status Store::Impl::prepare_writer() {
  auto prepare = [&](const char* sql, sqlite::Stmt* out) -> Status {
    auto stmt = sqlite::Stmt::prepare(db, sql);
    if (!stmt) {
      return stmt.status();
    }
    *out = std::move(*stmt);
    return Status::ok();
  };
  KTRAIL_RETURN_IF_ERROR(prepare(kInsertAudit, &insert_audit));
  KTRAIL_RETURN_IF_ERROR(prepare(kSelectIdentity, &select_identity));
  KTRAIL_RETURN_IF_ERROR(prepare(kMaxKeyInRange, &max_key_in_range));
  KTRAIL_RETURN_IF_ERROR(prepare(kFindDisplaced, &find_displaced));
  KTRAIL_RETURN_IF_ERROR(prepare(kLastDisplaced, &last_displaced));
  KTRAIL_RETURN_IF_ERROR(prepare(kInsertDisplaced, &insert_displaced));
  KTRAIL_RETURN_IF_ERROR(prepare(kUpsertKubeEvent, &upsert_kube_event));
  KTRAIL_RETURN_IF_ERROR(prepare(kUidByName, &uid_by_name));
  KTRAIL_RETURN_IF_ERROR(prepare(kAdoptUid, &adopt_uid));
  KTRAIL_RETURN_IF_ERROR(prepare(kMarkReceived, &mark_received));
  KTRAIL_RETURN_IF_ERROR(prepare(kInsertDeadLetter, &insert_dead_letter));
  KTRAIL_RETURN_IF_ERROR(prepare(kInsertBlock, &insert_block));
  KTRAIL_RETURN_IF_ERROR(prepare(insert_pending_sql(1).c_str(), &insert_pending));
  KTRAIL_RETURN_IF_ERROR(
      prepare(insert_pending_sql(kPendingRowsPerInsert).c_str(), &insert_pending_many));
  KTRAIL_RETURN_IF_ERROR(prepare_incident_writer());
  KTRAIL_RETURN_IF_ERROR(prepare(kInsertFinding, &insert_finding));
  KTRAIL_RETURN_IF_ERROR(prepare(kInsertCluster, &insert_cluster));
  return load_next_block_id();
}

Result<std::int64_t> Store::Impl::cluster_id_of(const std::string& name) {
  if (auto it = cluster_ids.find(name); it != cluster_ids.end()) {
    return it->second;
  }
  std::int64_t id = 0;
  if (name != kDefaultCluster) {
    KTRAIL_RETURN_IF_ERROR(check_cluster_name(name, "cluster name"));
    auto interned = dict->intern(name);
    if (!interned) {
      return interned.status();
    }
    id = *interned;
  }
  insert_cluster.bind(1, id);
  insert_cluster.bind(2, std::string_view(name));
  const int rc = insert_cluster.step();
  insert_cluster.reset();
  if (rc != SQLITE_DONE) {
    return db.error("record a cluster");
  }
  cluster_ids.emplace(name, id);
  return id;
}

Status Store::Impl::count_pending_rows() {
  auto pending = sqlite::query_int(db, "SELECT count(*) FROM audit_pending");
  if (!pending) {
    return pending.status();
  }
  pending_rows = *pending;
  return Status::ok();
}

Status Store::Impl::merge_pending_if_due() {
  if (pending_rows < static_cast<std::int64_t>(options.index_merge_rows)) {
    return Status::ok();
  }
  KTRAIL_RETURN_IF_ERROR(db.exec(kMergeNames));
  KTRAIL_RETURN_IF_ERROR(storage::write_postings_of(db, kPendingTerms, SIZE_MAX));
  KTRAIL_RETURN_IF_ERROR(db.exec("DELETE FROM audit_pending"));
  pending_rows = 0;
  return Status::ok();
}

Status Store::Impl::load_next_block_id() {
  auto max = sqlite::query_int(db, "SELECT coalesce(max(id), 0) FROM event_blocks");
  if (!max) {
    return max.status();
  }
  next_block_id = *max + 1;
  return Status::ok();
}

Status Store::Impl::flush_block() {
  compressor->submit(next_block_id, packer->take());
  ++next_block_id;
  return Status::ok();
}

Status Store::Impl::insert_blocks() {
  auto blocks = compressor->collect();
  if (!blocks) {
    return blocks.status();
  }
  for (const auto& block : *blocks) {
    insert_block.bind(1, block.id);
    insert_block.bind(2, static_cast<std::int64_t>(block.format));
    insert_block.bind(3, block.count);
    insert_block.bind_blob(4, block.data.data(), block.data.size());
    const int rc = insert_block.step();
    insert_block.reset();
    if (rc != SQLITE_DONE) {
      return db.error("insert event block");
    }
  }
  return Status::ok();
}

Status Store::Impl::write_audit(const AuditEvent& e, const std::string& origin, Micros now,
                                BatchOutcome* outcome) {
  if (e.stage_time < 0 || e.stage_time > storage::kMaxKeyTime) {
    KTRAIL_RETURN_IF_ERROR(
        write_dead_letter("stageTimestamp out of the storable range", e.json, origin, now));
    ++outcome->rejected;
    return Status::ok();
  }
  std::int64_t ids[10] = {};
  storage::json_string_array(e.user.groups, &groups_text);
  storage::json_string_array(e.source_ips, &ips_text);
  const std::string& groups = groups_text;
  const std::string& ips = ips_text;
  const std::string_view values[10] = {
      e.verb,
      e.user.username,
      groups,
      e.impersonated_user ? std::string_view(e.impersonated_user->username) : std::string_view(),
      e.object_ref ? std::string_view(e.object_ref->resource) : std::string_view(),
      e.object_ref ? std::string_view(e.object_ref->subresource) : std::string_view(),
      e.object_ref ? std::string_view(e.object_ref->namespace_) : std::string_view(),
      ips,
      e.user_agent,
      e.object_ref ? std::string_view(e.object_ref->name) : std::string_view(),
  };
  for (int i = 0; i < 10; ++i) {
    auto id = dict->intern(values[i]);
    if (!id) {
      return id.status();
    }
    ids[i] = *id;
  }
  sqlite::Stmt& st = insert_audit;
  st.bind(2, e.stage_time);
  st.bind(3, e.request_received);
  st.bind(4, e.audit_id);
  st.bind(5, static_cast<std::int64_t>(e.stage));
  st.bind(6, static_cast<std::int64_t>(e.level));
  if (e.level_received != e.level) {
    st.bind(19, static_cast<std::int64_t>(e.level_received));
  } else {
    st.bind_null(19);
  }
  st.bind_id(7, ids[0]);
  st.bind_id(8, ids[1]);
  st.bind_id(9, ids[2]);
  st.bind_id(10, ids[3]);
  st.bind_id(11, ids[4]);
  st.bind_id(12, ids[5]);
  st.bind_id(13, ids[6]);
  bind_text_or_null(st, 14, e.object_ref ? std::string_view(e.object_ref->name) : "");
  if (e.response_code != 0) {
    st.bind(15, std::int64_t{e.response_code});
  } else {
    st.bind_null(15);
  }
  st.bind_id(16, ids[7]);
  st.bind_id(17, ids[8]);
  st.bind(20, cluster_id);
  st.bind(18,
          (next_block_id << storage::kBlockIndexBits) | static_cast<std::int64_t>(packer->size()));

  // Insert at the identity's first key: nearly always free, and then this is the only
  // statement. On a conflict, an equal identity there is a duplicate; otherwise the identity
  // may be stored displaced (one seek in audit_displaced), and if not, the event goes past the
  // occupied run, found from the microsecond's last displaced row with one range seek per
  // microsecond crossed. Each step is a seek, whatever the number of events on one microsecond.
  // An event of a sealed time may already be in a segment (a late retry, a replayed log).
  if (e.stage_time <= sealed_max_ts) {
    auto held = sealed.holds(db, e.audit_id, static_cast<int>(e.stage), e.request_received,
                             e.stage_time, cluster_id);
    if (!held) {
      return held.status();
    }
    if (*held) {
      ++outcome->duplicates;
      return Status::ok();
    }
  }
  const std::uint64_t hash =
      storage::identity_hash(e.audit_id, e.stage, e.request_received, e.stage_time, cluster_id);
  const std::int64_t first = storage::first_key(e.stage_time, hash);
  std::int64_t key = first;
  for (;;) {
    st.bind(1, key);
    const int rc = st.step();
    sqlite3_reset(st.get());
    if (rc != SQLITE_DONE) {
      st.reset();
      return db.error("insert audit event");
    }
    if (sqlite3_changes(db.get()) == 1) {
      st.reset();
      if (key != first) {
        KTRAIL_RETURN_IF_ERROR(add_displaced(e.stage_time, hash, key));
      }
      ++outcome->stored;
      packer->add(e.json);
      rows_to_add.push_back({key, ids[9], ids[1], ids[6], ids[4]});
      if (options.rollups) {
        rollups.add_event(e, {ids[0], ids[1], ids[3], ids[4], ids[5], ids[6], ids[9], ids[7]},
                          source_id, cluster_id);
      }
      return packer->full() ? flush_block() : Status::ok();
    }
    IdentityAt at = IdentityAt::kFree;
    KTRAIL_RETURN_IF_ERROR(identity_at(key, e, &at));
    bool stored = at == IdentityAt::kSame;
    if (!stored && key == first) {
      KTRAIL_RETURN_IF_ERROR(stored_displaced(e, hash, &stored));
    }
    if (stored) {
      ++outcome->duplicates;
      break;
    }
    KTRAIL_RETURN_IF_ERROR(free_key_after(e.stage_time, std::max(key, first), &key));
  }
  st.reset();
  return Status::ok();
}

Status Store::Impl::stored_displaced(const AuditEvent& e, std::uint64_t hash, bool* stored) {
  *stored = false;
  find_displaced.bind(1, e.stage_time);
  find_displaced.bind(2, static_cast<std::int64_t>(hash));
  int rc;
  while (!*stored && (rc = find_displaced.step()) == SQLITE_ROW) {
    // Two identities with one 64-bit hash are possible in principle: each row is compared.
    IdentityAt at = IdentityAt::kFree;
    const Status s = identity_at(find_displaced.column_int(0), e, &at);
    if (!s.is_ok()) {
      find_displaced.reset();
      return s;
    }
    *stored = at == IdentityAt::kSame;
  }
  find_displaced.reset();
  if (!*stored && rc != SQLITE_DONE) {
    return db.error("find a displaced audit row");
  }
  return Status::ok();
}

Status Store::Impl::free_key_after(Micros stage_time, std::int64_t from, std::int64_t* key) {
  // Start at the microsecond's last displaced row when it lies further: the run before it is
  // occupied (it was when that row was placed, and rows are never removed).
  std::int64_t next = from;
  last_displaced.bind(1, stage_time);
  const int rc = last_displaced.step();
  if (rc == SQLITE_ROW) {
    next = std::max(next, last_displaced.column_int(0));
  }
  last_displaced.reset();
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
    return db.error("find the last displaced audit row");
  }
  for (;;) {
    std::int64_t last = next;
    KTRAIL_RETURN_IF_ERROR(last_key_in_slots(next, &last));
    next = last + 1;
    select_identity.bind(1, next);
    const int found = select_identity.step();
    select_identity.reset();
    if (found == SQLITE_DONE) {
      *key = next;
      return Status::ok();
    }
    if (found != SQLITE_ROW) {
      return db.error("read audit identity");
    }
  }
}

Status Store::Impl::add_displaced(Micros stage_time, std::uint64_t hash, std::int64_t key) {
  insert_displaced.bind(1, stage_time);
  insert_displaced.bind(2, static_cast<std::int64_t>(hash));
  insert_displaced.bind(3, key);
  const int rc = insert_displaced.step();
  insert_displaced.reset();
  return rc == SQLITE_DONE ? Status::ok() : db.error("index a displaced audit row");
}

Status Store::Impl::insert_pending_rows() {
  std::sort(rows_to_add.begin(), rows_to_add.end());
  const std::size_t n = rows_to_add.size();
  auto bind_row = [](sqlite::Stmt& st, int first, const PendingRow& row) {
    st.bind(first, row.key);
    st.bind_id(first + 1, row.name_id);
    st.bind_id(first + 2, row.user_id);
    st.bind_id(first + 3, row.ns_id);
    st.bind_id(first + 4, row.resource_id);
  };
  auto step = [&](sqlite::Stmt& st) -> Status {
    const int rc = st.step();
    st.reset();
    return rc == SQLITE_DONE ? Status::ok() : db.error("insert pending audit rows");
  };
  std::size_t i = 0;
  for (; i + kPendingRowsPerInsert <= n; i += kPendingRowsPerInsert) {
    for (int r = 0; r < kPendingRowsPerInsert; ++r) {
      bind_row(insert_pending_many, kPendingColumns * r + 1, rows_to_add[i + r]);
    }
    KTRAIL_RETURN_IF_ERROR(step(insert_pending_many));
  }
  for (; i < n; ++i) {
    bind_row(insert_pending, 1, rows_to_add[i]);
    KTRAIL_RETURN_IF_ERROR(step(insert_pending));
  }
  pending_rows += static_cast<std::int64_t>(n);
  rows_to_add.clear();
  return Status::ok();
}

Status Store::Impl::identity_at(std::int64_t key, const AuditEvent& e, IdentityAt* at) {
  select_identity.bind(1, key);
  const int found = select_identity.step();
  *at = IdentityAt::kFree;
  if (found == SQLITE_ROW) {
    const bool same = select_identity.column_text(0) == e.audit_id &&
                      select_identity.column_int(1) == static_cast<std::int64_t>(e.stage) &&
                      select_identity.column_int(2) == e.request_received &&
                      select_identity.column_int(3) == e.stage_time &&
                      select_identity.column_int(4) == cluster_id;
    *at = same ? IdentityAt::kSame : IdentityAt::kOther;
  }
  select_identity.reset();
  if (found != SQLITE_ROW && found != SQLITE_DONE) {
    return db.error("read audit identity");
  }
  return Status::ok();
}

Status Store::Impl::last_key_in_slots(std::int64_t key, std::int64_t* last) {
  // The slots of key's microsecond from `key` on.
  max_key_in_range.bind(1, key);
  max_key_in_range.bind(2, key | ((std::int64_t{1} << storage::kSlotBits) - 1));
  const int rc = max_key_in_range.step();
  if (rc == SQLITE_ROW) {
    *last = max_key_in_range.column_int(0);
  } else {
    *last = key - 1;
  }
  max_key_in_range.reset();
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
    return db.error("find the last audit key");
  }
  return Status::ok();
}

Status Store::Impl::kube_event_identity(const KubeEvent& e, std::string* uid) {
  uid->clear();
  if (e.name.empty()) {
    *uid = e.uid;
    return Status::ok();
  }
  // The identity of an Event without a uid: what the decoder gives it (core/kube_event_json.h).
  const std::string by_name = e.namespace_ + "/" + e.name;
  if (!e.uid.empty() && e.uid != by_name) {
    // Arrived without its uid first (carried in an audit event): that row is this Event.
    adopt_uid.bind(1, e.uid);
    adopt_uid.bind(2, by_name);
    adopt_uid.bind(3, cluster_id);
    const int rc = adopt_uid.step();
    adopt_uid.reset();
    if (rc != SQLITE_DONE) {
      return db.error("identify Kubernetes Event");
    }
    *uid = e.uid;
    return Status::ok();
  }
  uid_by_name.bind(1, e.name);
  uid_by_name.bind(3, cluster_id);
  if (e.namespace_.empty()) {
    uid_by_name.bind_null(2);
  } else {
    uid_by_name.bind(2, e.namespace_);
  }
  const int rc = uid_by_name.step();
  if (rc == SQLITE_ROW) {
    *uid = uid_by_name.column_text(0);
  }
  uid_by_name.reset();
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
    return db.error("identify Kubernetes Event");
  }
  if (uid->empty()) {
    *uid = by_name;
  }
  return Status::ok();
}

Status Store::Impl::write_kube_event(const KubeEvent& e, const std::string& origin, Micros now,
                                     BatchOutcome* outcome) {
  // One row per Event: by uid, and by namespace/name for one that comes without its uid (a
  // hand-written file, or carried in an audit event of a create's request; a uid never holds a
  // slash, so "namespace/name" is told apart from a real one).
  std::string uid;
  KTRAIL_RETURN_IF_ERROR(kube_event_identity(e, &uid));
  if (uid.empty()) {
    if (e.carried) {
      return Status::ok();  // the audit event that carried it is stored; nothing else to keep
    }
    KTRAIL_RETURN_IF_ERROR(
        write_dead_letter("Kubernetes Event without uid or name", e.json, origin, now));
    ++outcome->rejected;
    return Status::ok();
  }
  sqlite::Stmt& st = upsert_kube_event;
  st.bind(1, uid);
  bind_text_or_null(st, 2, e.namespace_);
  bind_text_or_null(st, 3, e.name);
  bind_text_or_null(st, 4, e.object.kind);
  bind_text_or_null(st, 5, e.object.namespace_);
  bind_text_or_null(st, 6, e.object.name);
  bind_text_or_null(st, 7, e.object.uid);
  bind_text_or_null(st, 8, e.reason);
  bind_text_or_null(st, 9, e.message);
  bind_text_or_null(st, 10, e.type);
  bind_text_or_null(st, 11, e.source_component);
  bind_text_or_null(st, 12, e.source_host);
  st.bind(13, e.first_time);
  st.bind(14, e.last_time);
  st.bind(15, e.count);
  st.bind(16, e.json);
  st.bind(17, std::int64_t{e.carried ? 0 : 1});
  st.bind(18, cluster_id);
  const int rc = st.step();
  st.reset();
  if (rc != SQLITE_DONE) {
    return db.error("upsert Kubernetes Event");
  }
  if (e.carried) {
    return Status::ok();  // not a received item: its audit event is counted
  }
  bool changed = sqlite3_changes(db.get()) == 1;
  if (!changed) {
    mark_received.bind(1, uid);
    mark_received.bind(2, cluster_id);
    const int marked = mark_received.step();
    mark_received.reset();
    if (marked != SQLITE_DONE) {
      return db.error("mark Kubernetes Event received");
    }
    changed = sqlite3_changes(db.get()) == 1;
  }
  if (changed) {
    ++outcome->stored;
  } else {
    ++outcome->duplicates;
  }
  return Status::ok();
}

Status Store::Impl::write_dead_letter(std::string_view reason, std::string_view raw,
                                      const std::string& origin, Micros now) {
  sqlite::Stmt& st = insert_dead_letter;
  st.bind(1, now);
  st.bind(2, std::string_view(origin));
  st.bind(3, reason);
  st.bind(4, raw);
  st.bind(5, cluster_id);
  const int rc = st.step();
  st.reset();
  if (rc != SQLITE_DONE) {
    return db.error("insert dead letter");
  }
  return Status::ok();
}

}  // namespace ktrail
