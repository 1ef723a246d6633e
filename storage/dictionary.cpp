#include "storage/dictionary.h"

namespace ktrail::storage {

Result<Dictionary> Dictionary::create(const sqlite::Db& db, std::size_t max_cached) {
  Dictionary d(max_cached);
  d.db_ = &db;
  auto select = sqlite::Stmt::prepare(db, "SELECT id FROM dict WHERE value = ?1");
  if (!select) {
    return select.status();
  }
  d.select_ = std::move(*select);
  return d;
}

Result<std::int64_t> Dictionary::find(std::string_view value) {
  if (value.empty()) {
    return std::int64_t{0};
  }
  if (const std::int64_t cached = cache_.find(value); cached != 0) {
    return cached;
  }
  select_.bind(1, value);
  const int rc = select_.step();
  std::int64_t id = 0;
  if (rc == SQLITE_ROW) {
    id = select_.column_int(0);
  }
  select_.reset();
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
    return db_->error("dictionary lookup");
  }
  cache_.insert(value, id);
  return id;
}

Result<std::int64_t> Dictionary::intern(std::string_view value) {
  auto found = find(value);
  if (!found || *found != 0 || value.empty()) {
    return found;
  }
  if (insert_.get() == nullptr) {
    auto insert = sqlite::Stmt::prepare(*db_, "INSERT INTO dict(value) VALUES (?1)");
    if (!insert) {
      return insert.status();
    }
    insert_ = std::move(*insert);
  }
  insert_.bind(1, value);
  const int rc = insert_.step();
  insert_.reset();
  if (rc != SQLITE_DONE) {
    return db_->error("dictionary insert");
  }
  const std::int64_t id = sqlite3_last_insert_rowid(db_->get());
  cache_.insert(value, id);
  return id;
}

}  // namespace ktrail::storage
