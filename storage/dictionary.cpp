#include "storage/dictionary.h"

#include <cstring>

namespace ktrail::storage {

std::size_t Dictionary::Hash::operator()(std::string_view s) const {
  constexpr std::uint64_t kMul = 0x9E3779B97F4A7C15ULL;
  std::uint64_t h = s.size() * kMul;
  std::size_t i = 0;
  for (; i + 8 <= s.size(); i += 8) {
    std::uint64_t w;
    std::memcpy(&w, s.data() + i, 8);
    h = ((h << 5 | h >> 59) ^ w) * kMul;
  }
  if (i < s.size()) {
    std::uint64_t w = 0;
    std::memcpy(&w, s.data() + i, s.size() - i);
    h = ((h << 5 | h >> 59) ^ w) * kMul;
  }
  return static_cast<std::size_t>(h ^ (h >> 29));
}

Result<Dictionary> Dictionary::create(const sqlite::Db& db, std::size_t max_cached) {
  Dictionary d;
  d.db_ = &db;
  d.max_cached_ = max_cached;
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
  if (auto it = cache_.find(value); it != cache_.end()) {
    return it->second;
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
  if (id != 0) {
    if (cache_.size() >= max_cached_) {
      cache_.clear();
    }
    cache_.emplace(std::string(value), id);
  }
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
  if (cache_.size() >= max_cached_) {
    cache_.clear();
  }
  cache_.emplace(std::string(value), id);
  pending_.emplace_back(value);
  return id;
}

void Dictionary::rollback() {
  for (const auto& value : pending_) {
    cache_.erase(value);
  }
  pending_.clear();
}

}  // namespace ktrail::storage
