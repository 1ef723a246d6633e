// Thin RAII wrappers over the SQLite C API, used only inside storage/.
//
// `Db` owns a connection and `Stmt` a prepared statement; both close themselves. Every SQLite
// error becomes a Status (kDatabase) that carries SQLite's own message, so the caller can
// show it as is.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "core/status.h"

namespace ktrail::sqlite {

class Db {
 public:
  Db() = default;
  explicit Db(sqlite3* db) : db_(db) {}
  ~Db() { reset(); }
  Db(Db&& other) noexcept : db_(other.db_), tidy_path_(std::move(other.tidy_path_)) {
    other.db_ = nullptr;
  }
  Db& operator=(Db&& other) noexcept;
  Db(const Db&) = delete;
  Db& operator=(const Db&) = delete;

  // Opens `path` with sqlite3_open_v2 `flags`. A read-only open of a file without a -wal file
  // (no writer has it open) leaves none behind: on close, SQLite is given the chance to remove
  // the -wal and -shm files it created, which it does only when no other connection is open.
  static Result<Db> open(const std::string& path, int flags);

  sqlite3* get() const { return db_; }
  // Runs SQL that returns no rows (pragmas, DDL, BEGIN/COMMIT).
  Status exec(const std::string& sql);
  // The error of the last failed call, prefixed with `what`.
  Status error(std::string_view what) const;
  void reset();
  // Gives up ownership: the connection stays open (for a wrapper around a borrowed handle).
  sqlite3* release() {
    sqlite3* db = db_;
    db_ = nullptr;
    tidy_path_.clear();
    return db;
  }

 private:
  sqlite3* db_ = nullptr;
  std::string tidy_path_;  // set by a read-only open that found no -wal file
};

// Holds one read transaction on `db` for its lifetime: the statements run meanwhile see one
// snapshot of the file (a merge committed by another connection halfway through a search cannot
// move keys out of what the search reads), and take the file's shared lock once rather than once
// per statement. Inside a transaction already open (the writer's), it does nothing.
class ReadSnapshot {
 public:
  explicit ReadSnapshot(Db& db);
  ~ReadSnapshot();
  ReadSnapshot(const ReadSnapshot&) = delete;
  ReadSnapshot& operator=(const ReadSnapshot&) = delete;
  // Whether BEGIN failed.
  const Status& status() const { return status_; }

 private:
  Db& db_;
  bool own_ = false;
  Status status_;
};

class Stmt {
 public:
  Stmt() = default;
  ~Stmt() { sqlite3_finalize(stmt_); }
  Stmt(Stmt&& other) noexcept : stmt_(other.stmt_) { other.stmt_ = nullptr; }
  Stmt& operator=(Stmt&& other) noexcept;
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;

  static Result<Stmt> prepare(const Db& db, std::string_view sql);

  sqlite3_stmt* get() const { return stmt_; }
  // Binds by 1-based index. Empty strings bind as given; use bind_null for absence.
  void bind(int i, std::int64_t v) { sqlite3_bind_int64(stmt_, i, v); }
  void bind(int i, std::string_view v) {
    sqlite3_bind_text(stmt_, i, v.data(), static_cast<int>(v.size()), SQLITE_STATIC);
  }
  void bind_blob(int i, const void* data, std::size_t n) {
    sqlite3_bind_blob(stmt_, i, data, static_cast<int>(n), SQLITE_STATIC);
  }
  void bind_null(int i) { sqlite3_bind_null(stmt_, i); }
  // Binds an interned id, with 0 meaning "absent" (NULL).
  void bind_id(int i, std::int64_t id) {
    if (id == 0) {
      bind_null(i);
    } else {
      bind(i, id);
    }
  }

  // Steps once: SQLITE_ROW, SQLITE_DONE, or an error code.
  int step() { return sqlite3_step(stmt_); }
  // Resets and clears bindings, for reuse.
  void reset() {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }

  std::int64_t column_int(int i) const { return sqlite3_column_int64(stmt_, i); }
  bool column_null(int i) const { return sqlite3_column_type(stmt_, i) == SQLITE_NULL; }
  std::string_view column_text(int i) const;
  std::string_view column_blob(int i) const;

 private:
  explicit Stmt(sqlite3_stmt* stmt) : stmt_(stmt) {}
  sqlite3_stmt* stmt_ = nullptr;
};

// Runs `sql` on `db` and returns the single integer of its first row (e.g. PRAGMA user_version).
Result<std::int64_t> query_int(const Db& db, const std::string& sql);

}  // namespace ktrail::sqlite
