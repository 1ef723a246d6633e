#include "storage/source_offsets.h"

#include <memory>

namespace ktrail {
namespace {

struct StmtCloser {
  void operator()(sqlite3_stmt* stmt) const { sqlite3_finalize(stmt); }
};
struct DbCloser {
  void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
};
using StmtPtr = std::unique_ptr<sqlite3_stmt, StmtCloser>;

Status db_error(sqlite3* db, const std::string& what) {
  return database_error(what + ": " + sqlite3_errmsg(db));
}

Result<StmtPtr> prepare(sqlite3* db, const char* sql) {
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v2(db, sql, -1, &stmt, nullptr) != SQLITE_OK) {
    return db_error(db, "source offsets");
  }
  return StmtPtr(stmt);
}

bool has_table(sqlite3* db) {
  auto stmt =
      prepare(db, "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'source_offsets'");
  return stmt && sqlite3_step(stmt->get()) == SQLITE_ROW;
}

}  // namespace

Status ensure_source_offsets(sqlite3* db) {
  char* err = nullptr;
  if (sqlite3_exec(db,
                   "CREATE TABLE IF NOT EXISTS source_offsets ("
                   " source TEXT NOT NULL, part INTEGER NOT NULL, next_offset INTEGER NOT NULL,"
                   " PRIMARY KEY (source, part)) WITHOUT ROWID",
                   nullptr, nullptr, &err) != SQLITE_OK) {
    std::string message = err != nullptr ? err : "unknown error";
    sqlite3_free(err);
    return database_error("creating source_offsets: " + message);
  }
  return Status::ok();
}

Status record_source_offset(sqlite3* db, const std::string& source, std::int32_t partition,
                            std::int64_t next_offset) {
  auto stmt = prepare(db,
                      "INSERT INTO source_offsets (source, part, next_offset) VALUES (?, ?, ?)"
                      " ON CONFLICT (source, part) DO UPDATE SET"
                      " next_offset = max(next_offset, excluded.next_offset)");
  if (!stmt) {
    return stmt.status();
  }
  sqlite3_bind_text(stmt->get(), 1, source.data(), static_cast<int>(source.size()), SQLITE_STATIC);
  sqlite3_bind_int(stmt->get(), 2, partition);
  sqlite3_bind_int64(stmt->get(), 3, next_offset);
  if (sqlite3_step(stmt->get()) != SQLITE_DONE) {
    return db_error(db, "recording source offset");
  }
  return Status::ok();
}

Result<std::optional<std::int64_t>> read_source_offset(sqlite3* db, const std::string& source,
                                                       std::int32_t partition) {
  if (!has_table(db)) {
    return std::optional<std::int64_t>();
  }
  auto stmt = prepare(db, "SELECT next_offset FROM source_offsets WHERE source = ? AND part = ?");
  if (!stmt) {
    return stmt.status();
  }
  sqlite3_bind_text(stmt->get(), 1, source.data(), static_cast<int>(source.size()), SQLITE_STATIC);
  sqlite3_bind_int(stmt->get(), 2, partition);
  const int rc = sqlite3_step(stmt->get());
  if (rc == SQLITE_ROW) {
    return std::optional<std::int64_t>(sqlite3_column_int64(stmt->get(), 0));
  }
  if (rc != SQLITE_DONE) {
    return db_error(db, "reading source offset");
  }
  return std::optional<std::int64_t>();
}

Result<std::optional<std::int64_t>> read_source_offset_file(const std::string& path,
                                                            const std::string& source,
                                                            std::int32_t partition) {
  sqlite3* raw = nullptr;
  const int rc = sqlite3_open_v2(path.c_str(), &raw, SQLITE_OPEN_READONLY, nullptr);
  std::unique_ptr<sqlite3, DbCloser> db(raw);
  if (rc != SQLITE_OK) {
    return database_error("opening " + path + ": " +
                          (raw != nullptr ? sqlite3_errmsg(raw) : "out of memory"));
  }
  sqlite3_busy_timeout(raw, 5000);
  return read_source_offset(raw, source, partition);
}

}  // namespace ktrail
