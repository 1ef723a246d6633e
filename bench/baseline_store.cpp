#include "bench/baseline_store.h"

#include <rapidjson/document.h>

#include "core/json.h"

namespace ktrail::bench {
namespace {

constexpr const char* kSchema = R"sql(
PRAGMA journal_mode = WAL;
PRAGMA synchronous = NORMAL;
CREATE TABLE IF NOT EXISTS events(
  id INTEGER PRIMARY KEY, audit_id TEXT, stage TEXT, received TEXT, stage_ts TEXT,
  username TEXT, verb TEXT, resource TEXT, namespace TEXT, name TEXT, code INTEGER, event TEXT);
CREATE UNIQUE INDEX IF NOT EXISTS events_identity ON events(audit_id, stage, received, stage_ts);
CREATE INDEX IF NOT EXISTS events_time ON events(stage_ts);
CREATE INDEX IF NOT EXISTS events_user ON events(username);
CREATE INDEX IF NOT EXISTS events_ns ON events(namespace, resource);
)sql";

std::string_view member(const rapidjson::Value& v, const char* a, const char* b = nullptr) {
  if (b == nullptr) {
    return json::get_string(v, a);
  }
  auto it = v.FindMember(a);
  return it != v.MemberEnd() && it->value.IsObject() ? json::get_string(it->value, b)
                                                     : std::string_view();
}

void bind(sqlite3_stmt* s, int i, std::string_view text) {
  sqlite3_bind_text(s, i, text.data(), static_cast<int>(text.size()), SQLITE_TRANSIENT);
}

}  // namespace

BaselineStore::~BaselineStore() {
  sqlite3_finalize(insert_);
  sqlite3_close_v2(db_);
}

Result<BaselineStore*> BaselineStore::open(const std::string& path) {
  auto* s = new BaselineStore();
  if (sqlite3_open(path.c_str(), &s->db_) != SQLITE_OK ||
      sqlite3_exec(s->db_, kSchema, nullptr, nullptr, nullptr) != SQLITE_OK ||
      sqlite3_prepare_v2(s->db_,
                         "INSERT OR IGNORE INTO events(audit_id, stage, received, stage_ts, "
                         "username, verb, resource, namespace, name, code, event) VALUES "
                         "(?,?,?,?,?,?,?,?,?,?,?)",
                         -1, &s->insert_, nullptr) != SQLITE_OK) {
    Status st = database_error(sqlite3_errmsg(s->db_));
    delete s;
    return st;
  }
  return s;
}

Result<std::size_t> BaselineStore::insert(const std::vector<std::string>& lines,
                                          std::size_t batch_rows) {
  std::size_t inserted = 0;
  std::size_t in_txn = 0;
  sqlite3_exec(db_, "BEGIN", nullptr, nullptr, nullptr);
  for (const auto& line : lines) {
    rapidjson::Document doc;
    if (!json::parse(line, &doc).is_ok() || !doc.IsObject()) {
      continue;
    }
    bind(insert_, 1, member(doc, "auditID"));
    bind(insert_, 2, member(doc, "stage"));
    bind(insert_, 3, member(doc, "requestReceivedTimestamp"));
    bind(insert_, 4, member(doc, "stageTimestamp"));
    bind(insert_, 5, member(doc, "user", "username"));
    bind(insert_, 6, member(doc, "verb"));
    bind(insert_, 7, member(doc, "objectRef", "resource"));
    bind(insert_, 8, member(doc, "objectRef", "namespace"));
    bind(insert_, 9, member(doc, "objectRef", "name"));
    auto status = doc.FindMember("responseStatus");
    int code = 0;
    if (status != doc.MemberEnd() && status->value.IsObject() && status->value.HasMember("code") &&
        status->value["code"].IsInt()) {
      code = status->value["code"].GetInt();
    }
    sqlite3_bind_int(insert_, 10, code);
    bind(insert_, 11, line);
    if (sqlite3_step(insert_) != SQLITE_DONE) {
      sqlite3_reset(insert_);
      return database_error(sqlite3_errmsg(db_));
    }
    inserted += static_cast<std::size_t>(sqlite3_changes(db_));
    sqlite3_reset(insert_);
    if (++in_txn == batch_rows) {
      sqlite3_exec(db_, "COMMIT; BEGIN", nullptr, nullptr, nullptr);
      in_txn = 0;
    }
  }
  if (sqlite3_exec(db_, "COMMIT", nullptr, nullptr, nullptr) != SQLITE_OK) {
    return database_error(sqlite3_errmsg(db_));
  }
  return inserted;
}

}  // namespace ktrail::bench
