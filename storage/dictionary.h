// String interning for the store: repeated strings (users, verbs, resources, namespaces, user
// agents, group and IP lists) live once in the `dict` table and rows hold their integer ids.
//
// The in-memory cache makes the common case a hash lookup. It is bounded (cleared when full;
// the table stays the truth). Ids created inside a transaction that is rolled back are
// forgotten by rollback(), so the cache never names a row that does not exist. Single thread.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/status.h"
#include "storage/sqlite_util.h"

namespace ktrail::storage {

class Dictionary {
 public:
  static Result<Dictionary> create(const sqlite::Db& db, std::size_t max_cached);

  // The id of `value`, inserting it when new (must run inside the caller's transaction).
  // The empty string is "absent": id 0, nothing stored.
  Result<std::int64_t> intern(std::string_view value);
  // The id of `value` if stored, 0 otherwise. Never writes (usable on read-only stores).
  Result<std::int64_t> find(std::string_view value);

  void commit() { pending_.clear(); }
  void rollback();

 private:
  struct Hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  std::unordered_map<std::string, std::int64_t, Hash, std::equal_to<>> cache_;
  std::vector<std::string> pending_;
  std::size_t max_cached_ = 0;
  sqlite::Stmt select_;
  sqlite::Stmt insert_;
  const sqlite::Db* db_ = nullptr;
};

}  // namespace ktrail::storage
