#include "storage/sqlite_util.h"

#include <filesystem>

namespace ktrail::sqlite {

Db& Db::operator=(Db&& other) noexcept {
  if (this != &other) {
    reset();
    db_ = other.db_;
    tidy_path_ = std::move(other.tidy_path_);
    other.db_ = nullptr;
  }
  return *this;
}

Result<Db> Db::open(const std::string& path, int flags) {
  // Once per process, before SQLite initialises: no global memory statistics, which would
  // take a process-wide mutex on every allocation SQLite makes (nothing here reads them).
  // Refused harmlessly if something in the process has initialised SQLite already.
  static const int configured = sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
  (void)configured;
  sqlite3* raw = nullptr;
  const int rc = sqlite3_open_v2(path.c_str(), &raw, flags, nullptr);
  Db db(raw);
  if (rc != SQLITE_OK) {
    std::string message = raw != nullptr ? sqlite3_errmsg(raw) : sqlite3_errstr(rc);
    return database_error("cannot open '" + path + "': " + message);
  }
  sqlite3_extended_result_codes(raw, 1);
  if ((flags & SQLITE_OPEN_READONLY) != 0 && !std::filesystem::exists(path + "-wal")) {
    db.tidy_path_ = path;
  }
  return db;
}

Status Db::exec(const std::string& sql) {
  char* message = nullptr;
  if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &message) != SQLITE_OK) {
    std::string text = message != nullptr ? message : sqlite3_errmsg(db_);
    sqlite3_free(message);
    return database_error(text);
  }
  return Status::ok();
}

Status Db::error(std::string_view what) const {
  return database_error(std::string(what) + ": " + sqlite3_errmsg(db_));
}

void Db::reset() {
  if (db_ != nullptr) {
    sqlite3_close_v2(db_);
    db_ = nullptr;
  }
  if (!tidy_path_.empty()) {
    // A read-write connection that reads the file and closes as the last connection makes
    // SQLite checkpoint (nothing) and delete the -wal and -shm files a reader had to create.
    // With another connection open (a writer started meanwhile), SQLite keeps them.
    sqlite3* rw = nullptr;
    if (sqlite3_open_v2(tidy_path_.c_str(), &rw, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX,
                        nullptr) == SQLITE_OK) {
      sqlite3_busy_timeout(rw, 100);
      sqlite3_exec(rw, "SELECT count(*) FROM sqlite_schema", nullptr, nullptr, nullptr);
    }
    sqlite3_close(rw);
    tidy_path_.clear();
  }
}

Stmt& Stmt::operator=(Stmt&& other) noexcept {
  if (this != &other) {
    sqlite3_finalize(stmt_);
    stmt_ = other.stmt_;
    other.stmt_ = nullptr;
  }
  return *this;
}

Result<Stmt> Stmt::prepare(const Db& db, std::string_view sql) {
  sqlite3_stmt* raw = nullptr;
  if (sqlite3_prepare_v3(db.get(), sql.data(), static_cast<int>(sql.size()),
                         SQLITE_PREPARE_PERSISTENT, &raw, nullptr) != SQLITE_OK) {
    return db.error("prepare");
  }
  return Stmt(raw);
}

std::string_view Stmt::column_text(int i) const {
  const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, i));
  if (p == nullptr) {
    return {};
  }
  return {p, static_cast<std::size_t>(sqlite3_column_bytes(stmt_, i))};
}

std::string_view Stmt::column_blob(int i) const {
  const auto* p = static_cast<const char*>(sqlite3_column_blob(stmt_, i));
  if (p == nullptr) {
    return {};
  }
  return {p, static_cast<std::size_t>(sqlite3_column_bytes(stmt_, i))};
}

Result<std::int64_t> query_int(const Db& db, const std::string& sql) {
  auto stmt = Stmt::prepare(db, sql);
  if (!stmt) {
    return stmt.status();
  }
  const int rc = stmt->step();
  if (rc == SQLITE_ROW) {
    return stmt->column_int(0);
  }
  if (rc == SQLITE_DONE) {
    return not_found("no row for: " + sql);
  }
  return db.error(sql);
}

ReadSnapshot::ReadSnapshot(Db& db) : db_(db) {
  if (sqlite3_get_autocommit(db.get()) != 0) {
    status_ = db.exec("BEGIN");
    own_ = status_.is_ok();
  }
}

ReadSnapshot::~ReadSnapshot() {
  if (own_) {
    (void)db_.exec("COMMIT");
  }
}

}  // namespace ktrail::sqlite
