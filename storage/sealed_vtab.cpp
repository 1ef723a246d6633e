#include "storage/sealed_vtab.h"

#include <cstring>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "storage/segments.h"

namespace ktrail::storage {
namespace {

enum Column {
  kColKey = 0,
  kColTs,
  kColReceived,
  kColAuditId,
  kColStage,
  kColLevel,
  kColVerb,
  kColUser,
  kColGroups,
  kColImpUser,
  kColResource,
  kColSubresource,
  kColNamespace,
  kColName,
  kColCode,
  kColIps,
  kColUa,
  kColEventRef,
  kColLevelReceived,
  kColCluster,
  kColSegmentId,
  kColSegmentRow,
  kColEvent,
};

constexpr const char* kSchema =
    "CREATE TABLE x(key INTEGER, ts INTEGER, received INTEGER, audit_id TEXT, stage INTEGER, "
    "level INTEGER, verb_id INTEGER, user_id INTEGER, groups_id INTEGER, imp_user_id INTEGER, "
    "resource_id INTEGER, subresource_id INTEGER, ns_id INTEGER, name TEXT, code INTEGER, "
    "ips_id INTEGER, ua_id INTEGER, event_ref INTEGER, level_received INTEGER, cluster INTEGER, "
    "segment_id INTEGER, segment_row INTEGER, event TEXT HIDDEN)";

// The audit columns of a hot row, in the order of `audit` (the temp view lists them).
constexpr const char* kAuditColumns =
    "key, ts, received, audit_id, stage, level, verb_id, user_id, groups_id, imp_user_id, "
    "resource_id, subresource_id, ns_id, name, code, ips_id, ua_id, event_ref, level_received, "
    "cluster";

// A borrowed connection seen as a sqlite::Db (never closed by it).
struct Borrowed {
  explicit Borrowed(sqlite3* db) : db(db) {}
  ~Borrowed() { (void)db.release(); }
  Borrowed(const Borrowed&) = delete;
  Borrowed& operator=(const Borrowed&) = delete;
  sqlite::Db db;
};

struct Vtab {
  sqlite3_vtab base{};
  sqlite3* db = nullptr;
};

struct Cursor {
  sqlite3_vtab_cursor base{};
  std::unique_ptr<Borrowed> conn;
  std::vector<SegmentInfo> segments;
  std::size_t next_segment = 0;
  std::unique_ptr<LoadedSegment> current;
  std::size_t row = 0;
  Micros lo = INT64_MIN;
  Micros hi = INT64_MAX;
  bool eof = true;
  std::unique_ptr<FrameReader> frames;
  sqlite::Stmt name_of;
  std::unordered_map<std::int64_t, std::string> names;
};

int set_error(sqlite3_vtab* vtab, const Status& s) {
  sqlite3_free(vtab->zErrMsg);
  vtab->zErrMsg = sqlite3_mprintf("%s", s.message().c_str());
  return SQLITE_ERROR;
}

int x_connect(sqlite3* db, void*, int, const char* const*, sqlite3_vtab** out, char**) {
  const int rc = sqlite3_declare_vtab(db, kSchema);
  if (rc != SQLITE_OK) {
    return rc;
  }
  auto* v = new Vtab();
  v->db = db;
  *out = &v->base;
  return SQLITE_OK;
}

int x_disconnect(sqlite3_vtab* vtab) {
  delete reinterpret_cast<Vtab*>(vtab);
  return SQLITE_OK;
}

// idxNum bits: 1 a lower bound on ts in argv, 2 an upper bound (each inclusive after
// adjustment in xFilter: bit 4 lower is strict, bit 8 upper is strict).
int x_best_index(sqlite3_vtab*, sqlite3_index_info* info) {
  int argc = 0;
  int idx = 0;
  int lower = -1;
  int upper = -1;
  for (int i = 0; i < info->nConstraint; ++i) {
    const auto& c = info->aConstraint[i];
    if (!c.usable || c.iColumn != kColTs) {
      continue;
    }
    if ((c.op == SQLITE_INDEX_CONSTRAINT_GE || c.op == SQLITE_INDEX_CONSTRAINT_GT ||
         c.op == SQLITE_INDEX_CONSTRAINT_EQ) &&
        lower < 0) {
      lower = i;
    }
    if ((c.op == SQLITE_INDEX_CONSTRAINT_LE || c.op == SQLITE_INDEX_CONSTRAINT_LT ||
         c.op == SQLITE_INDEX_CONSTRAINT_EQ) &&
        upper < 0) {
      upper = i;
    }
  }
  if (lower >= 0) {
    idx |= 1 | (info->aConstraint[lower].op == SQLITE_INDEX_CONSTRAINT_GT ? 4 : 0);
    info->aConstraintUsage[lower].argvIndex = ++argc;
  }
  if (upper >= 0) {
    if (upper == lower) {
      idx |= 2;  // ts = X: the same argument bounds both ends
    } else {
      idx |= 2 | (info->aConstraint[upper].op == SQLITE_INDEX_CONSTRAINT_LT ? 8 : 0);
      info->aConstraintUsage[upper].argvIndex = ++argc;
    }
  }
  info->idxNum = idx;
  info->estimatedCost = (lower >= 0 || upper >= 0) ? 1e5 : 1e7;
  return SQLITE_OK;
}

int x_open(sqlite3_vtab* vtab, sqlite3_vtab_cursor** out) {
  auto* c = new Cursor();
  c->conn = std::make_unique<Borrowed>(reinterpret_cast<Vtab*>(vtab)->db);
  c->frames = std::make_unique<FrameReader>(c->conn->db);
  *out = &c->base;
  return SQLITE_OK;
}

int x_close(sqlite3_vtab_cursor* cur) {
  delete reinterpret_cast<Cursor*>(cur);
  return SQLITE_OK;
}

// Moves to the next row within [lo, hi], loading segments as needed.
Status advance(Cursor* c, bool first) {
  if (!first) {
    ++c->row;
  }
  for (;;) {
    if (c->current) {
      const SegmentColumns& cols = c->current->columns;
      while (c->row < cols.size() && (cols.ts[c->row] < c->lo || cols.ts[c->row] > c->hi)) {
        ++c->row;
      }
      if (c->row < cols.size()) {
        c->eof = false;
        return Status::ok();
      }
      c->current.reset();
    }
    while (c->next_segment < c->segments.size() &&
           (c->segments[c->next_segment].max_ts < c->lo ||
            c->segments[c->next_segment].min_ts > c->hi)) {
      ++c->next_segment;
    }
    if (c->next_segment == c->segments.size()) {
      c->eof = true;
      return Status::ok();
    }
    auto loaded = load_segment(c->conn->db, c->segments[c->next_segment++]);
    if (!loaded) {
      return loaded.status();
    }
    c->current = std::move(*loaded);
    c->row = 0;
  }
}

int x_filter(sqlite3_vtab_cursor* cur, int idx, const char*, int argc, sqlite3_value** argv) {
  auto* c = reinterpret_cast<Cursor*>(cur);
  c->lo = INT64_MIN;
  c->hi = INT64_MAX;
  int a = 0;
  if ((idx & 1) != 0 && a < argc) {
    c->lo = sqlite3_value_int64(argv[a]) + ((idx & 4) != 0 ? 1 : 0);
    if ((idx & 2) != 0 && argc == 1) {
      c->hi = sqlite3_value_int64(argv[a]);
    }
    ++a;
  }
  if ((idx & 2) != 0 && a < argc) {
    c->hi = sqlite3_value_int64(argv[a]) - ((idx & 8) != 0 ? 1 : 0);
  }
  auto list = list_segments(c->conn->db);
  if (!list) {
    return set_error(cur->pVtab, list.status());
  }
  c->segments = std::move(*list);
  c->next_segment = 0;
  c->current.reset();
  const Status s = advance(c, true);
  return s.is_ok() ? SQLITE_OK : set_error(cur->pVtab, s);
}

int x_next(sqlite3_vtab_cursor* cur) {
  const Status s = advance(reinterpret_cast<Cursor*>(cur), false);
  return s.is_ok() ? SQLITE_OK : set_error(cur->pVtab, s);
}

int x_eof(sqlite3_vtab_cursor* cur) { return reinterpret_cast<Cursor*>(cur)->eof ? 1 : 0; }

void result_id(sqlite3_context* ctx, std::int64_t id) {
  if (id == 0) {
    sqlite3_result_null(ctx);
  } else {
    sqlite3_result_int64(ctx, id);
  }
}

int x_column(sqlite3_vtab_cursor* cur, sqlite3_context* ctx, int column) {
  auto* c = reinterpret_cast<Cursor*>(cur);
  const SegmentColumns& cols = c->current->columns;
  const std::size_t i = c->row;
  switch (column) {
    case kColKey:
      sqlite3_result_int64(ctx, cols.key[i]);
      break;
    case kColTs:
      sqlite3_result_int64(ctx, cols.ts[i]);
      break;
    case kColReceived:
      sqlite3_result_int64(ctx, cols.received[i]);
      break;
    case kColAuditId:
      sqlite3_result_text(ctx, cols.audit_id[i].data(), static_cast<int>(cols.audit_id[i].size()),
                          SQLITE_TRANSIENT);
      break;
    case kColStage:
      sqlite3_result_int64(ctx, cols.stage[i]);
      break;
    case kColLevel:
      sqlite3_result_int64(ctx, cols.level[i]);
      break;
    case kColVerb:
      result_id(ctx, cols.ids[kVerb][i]);
      break;
    case kColUser:
      result_id(ctx, cols.ids[kUser][i]);
      break;
    case kColGroups:
      result_id(ctx, cols.ids[kGroups][i]);
      break;
    case kColImpUser:
      result_id(ctx, cols.ids[kImpUser][i]);
      break;
    case kColResource:
      result_id(ctx, cols.ids[kResource][i]);
      break;
    case kColSubresource:
      result_id(ctx, cols.ids[kSubresource][i]);
      break;
    case kColNamespace:
      result_id(ctx, cols.ids[kNamespace][i]);
      break;
    case kColIps:
      result_id(ctx, cols.ids[kIps][i]);
      break;
    case kColUa:
      result_id(ctx, cols.ids[kUserAgent][i]);
      break;
    case kColCode:
      result_id(ctx, cols.code[i]);
      break;
    case kColEventRef:
      sqlite3_result_null(ctx);
      break;
    case kColLevelReceived:
      if (cols.level_received[i] == cols.level[i]) {
        sqlite3_result_null(ctx);
      } else {
        sqlite3_result_int64(ctx, cols.level_received[i]);
      }
      break;
    case kColCluster:
      sqlite3_result_int64(ctx, cols.cluster[i]);
      break;
    case kColSegmentId:
      sqlite3_result_int64(ctx, c->current->info.id);
      break;
    case kColSegmentRow:
      sqlite3_result_int64(ctx, static_cast<std::int64_t>(i));
      break;
    case kColName: {
      const std::int64_t id = cols.ids[kName][i];
      if (id == 0) {
        sqlite3_result_null(ctx);
        break;
      }
      auto found = c->names.find(id);
      if (found == c->names.end()) {
        if (c->name_of.get() == nullptr) {
          auto st = sqlite::Stmt::prepare(c->conn->db, "SELECT value FROM dict WHERE id = ?1");
          if (!st) {
            return set_error(cur->pVtab, st.status());
          }
          c->name_of = std::move(*st);
        }
        c->name_of.bind(1, id);
        if (c->name_of.step() != SQLITE_ROW) {
          c->name_of.reset();
          return set_error(cur->pVtab,
                           database_error("dictionary id " + std::to_string(id) + " is missing"));
        }
        if (c->names.size() > 100000) {
          c->names.clear();
        }
        found = c->names.emplace(id, std::string(c->name_of.column_text(0))).first;
        c->name_of.reset();
      }
      sqlite3_result_text(ctx, found->second.data(), static_cast<int>(found->second.size()),
                          SQLITE_TRANSIENT);
      break;
    }
    case kColEvent: {
      auto event = c->frames->event(*c->current, i);
      if (!event) {
        return set_error(cur->pVtab, event.status());
      }
      sqlite3_result_text(ctx, event->data(), static_cast<int>(event->size()), SQLITE_TRANSIENT);
      break;
    }
    default:
      sqlite3_result_null(ctx);
  }
  return SQLITE_OK;
}

int x_rowid(sqlite3_vtab_cursor* cur, sqlite3_int64* rowid) {
  auto* c = reinterpret_cast<Cursor*>(cur);
  *rowid = c->current->columns.key[c->row];
  return SQLITE_OK;
}

sqlite3_module make_module() {
  sqlite3_module m;
  std::memset(&m, 0, sizeof m);
  m.iVersion = 0;
  m.xCreate = nullptr;  // eponymous only
  m.xConnect = x_connect;
  m.xBestIndex = x_best_index;
  m.xDisconnect = x_disconnect;
  m.xDestroy = x_disconnect;
  m.xOpen = x_open;
  m.xClose = x_close;
  m.xFilter = x_filter;
  m.xNext = x_next;
  m.xEof = x_eof;
  m.xColumn = x_column;
  m.xRowid = x_rowid;
  return m;
}

const sqlite3_module kModule = make_module();

}  // namespace

Status register_sealed_views(sqlite3* db) {
  if (sqlite3_create_module_v2(db, "sealed_audit", &kModule, nullptr, nullptr) != SQLITE_OK) {
    return database_error(std::string("register sealed_audit: ") + sqlite3_errmsg(db));
  }
  Borrowed conn(db);
  KTRAIL_RETURN_IF_ERROR(conn.db.exec(std::string("CREATE TEMP VIEW audit AS SELECT ") +
                                      kAuditColumns + " FROM main.audit UNION ALL SELECT " +
                                      kAuditColumns + " FROM sealed_audit"));
  // The store's own view of resolved strings, over the temp view above.
  auto view = sqlite::Stmt::prepare(
      conn.db, "SELECT sql FROM main.sqlite_master WHERE type = 'view' AND name = 'audit_events'");
  if (!view) {
    return view.status();
  }
  if (view->step() != SQLITE_ROW) {
    return database_error("the store has no audit_events view");
  }
  std::string sql(view->column_text(0));
  view->reset();
  const std::string head = "CREATE VIEW audit_events";
  if (sql.compare(0, head.size(), head) != 0) {
    return database_error("unexpected audit_events view");
  }
  sql.replace(0, head.size(), "CREATE TEMP VIEW audit_events");
  return conn.db.exec(sql);
}

}  // namespace ktrail::storage
