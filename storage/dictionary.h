// String interning for the store: repeated strings (users, verbs, resources, namespaces, user
// agents, group and IP lists) live once in the `dict` table and rows hold their integer ids.
//
// The in-memory cache (storage/string_id_cache.h) makes the common case one probe of a flat
// table. It is bounded (starts over when full; the table stays the truth). rollback() forgets
// the whole cache, so it never names an id created by a transaction that was rolled back.
// Single thread.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/status.h"
#include "storage/sqlite_util.h"
#include "storage/string_id_cache.h"

namespace ktrail::storage {

class Dictionary {
 public:
  static Result<Dictionary> create(const sqlite::Db& db, std::size_t max_cached);

  // The id of `value`, inserting it when new (must run inside the caller's transaction).
  // The empty string is "absent": id 0, nothing stored.
  Result<std::int64_t> intern(std::string_view value);
  // The id of `value` if stored, 0 otherwise. Never writes (usable on read-only stores).
  Result<std::int64_t> find(std::string_view value);

  // After a rolled-back transaction.
  void rollback() { cache_.clear(); }

 private:
  explicit Dictionary(std::size_t max_cached) : cache_(max_cached) {}

  StringIdCache cache_;
  sqlite::Stmt select_;
  sqlite::Stmt insert_;
  const sqlite::Db* db_ = nullptr;
};

}  // namespace ktrail::storage
