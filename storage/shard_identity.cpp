#include "storage/shard_identity.h"

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

constexpr const char* kPrefixKey = "kafka_topic_prefix";
constexpr const char* kGroupKey = "kafka_group";

Result<StmtPtr> prepare(sqlite3* db, const char* sql) {
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v2(db, sql, -1, &stmt, nullptr) != SQLITE_OK) {
    return database_error(std::string("shard identity: ") + sqlite3_errmsg(db));
  }
  return StmtPtr(stmt);
}

bool has_meta_table(sqlite3* db) {
  auto stmt =
      prepare(db, "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'store_meta'");
  return stmt && sqlite3_step(stmt->get()) == SQLITE_ROW;
}

// The value of `key` as text (a blob's bytes), or nullopt when absent.
Result<std::optional<std::string>> read_value(sqlite3* db, const char* key) {
  auto stmt = prepare(db, "SELECT value FROM store_meta WHERE key = ?");
  if (!stmt) {
    return stmt.status();
  }
  sqlite3_bind_text(stmt->get(), 1, key, -1, SQLITE_STATIC);
  const int rc = sqlite3_step(stmt->get());
  if (rc == SQLITE_DONE) {
    return std::optional<std::string>();
  }
  if (rc != SQLITE_ROW) {
    return database_error(std::string("shard identity: ") + sqlite3_errmsg(db));
  }
  const auto* bytes = static_cast<const char*>(sqlite3_column_blob(stmt->get(), 0));
  const int size = sqlite3_column_bytes(stmt->get(), 0);
  return std::optional<std::string>(bytes != nullptr ? std::string(bytes, size) : std::string());
}

Status write_value(sqlite3* db, const char* key, const std::string& value) {
  auto stmt = prepare(db, "INSERT OR REPLACE INTO store_meta(key, value) VALUES (?, ?)");
  if (!stmt) {
    return stmt.status();
  }
  sqlite3_bind_text(stmt->get(), 1, key, -1, SQLITE_STATIC);
  sqlite3_bind_blob(stmt->get(), 2, value.data(), static_cast<int>(value.size()), SQLITE_STATIC);
  if (sqlite3_step(stmt->get()) != SQLITE_DONE) {
    return database_error(std::string("recording the shard identity: ") + sqlite3_errmsg(db));
  }
  return Status::ok();
}

}  // namespace

std::string ShardIdentity::describe() const {
  return "topics " + topic_prefix + ".audit/.events, consumer group " + group;
}

Result<std::optional<ShardIdentity>> read_shard_identity(sqlite3* db) {
  if (!has_meta_table(db)) {
    return std::optional<ShardIdentity>();
  }
  auto prefix = read_value(db, kPrefixKey);
  if (!prefix) {
    return prefix.status();
  }
  auto group = read_value(db, kGroupKey);
  if (!group) {
    return group.status();
  }
  if (!prefix->has_value() || !group->has_value()) {
    return std::optional<ShardIdentity>();
  }
  return std::optional<ShardIdentity>(ShardIdentity{**prefix, **group});
}

Status record_shard_identity(sqlite3* db, const ShardIdentity& identity) {
  auto recorded = read_shard_identity(db);
  if (!recorded) {
    return recorded.status();
  }
  if (recorded->has_value()) {
    if (**recorded == identity) {
      return Status::ok();
    }
    return invalid_argument("the store holds the shard of another Kafka deployment (" +
                            (*recorded)->describe() + "), not of " + identity.describe() +
                            ": give this process role a store of its own");
  }
  if (sqlite3_exec(db, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr) != SQLITE_OK) {
    return database_error(std::string("recording the shard identity: ") + sqlite3_errmsg(db));
  }
  Status s = write_value(db, kPrefixKey, identity.topic_prefix);
  if (s.is_ok()) {
    s = write_value(db, kGroupKey, identity.group);
  }
  const char* end = s.is_ok() ? "COMMIT" : "ROLLBACK";
  if (sqlite3_exec(db, end, nullptr, nullptr, nullptr) != SQLITE_OK && s.is_ok()) {
    s = database_error(std::string("recording the shard identity: ") + sqlite3_errmsg(db));
  }
  return s;
}

Result<std::optional<ShardIdentity>> read_shard_identity_file(const std::string& path) {
  sqlite3* raw = nullptr;
  const int rc = sqlite3_open_v2(path.c_str(), &raw, SQLITE_OPEN_READONLY, nullptr);
  std::unique_ptr<sqlite3, DbCloser> db(raw);
  if (rc != SQLITE_OK) {
    return database_error("opening " + path + ": " +
                          (raw != nullptr ? sqlite3_errmsg(raw) : "out of memory"));
  }
  sqlite3_busy_timeout(raw, 5000);
  return read_shard_identity(raw);
}

}  // namespace ktrail
