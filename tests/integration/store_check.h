// Reads a ktrail SQLite store directly (sqlite3 API, read-only), so integration tests check
// what is really in the file rather than what the server said.
#pragma once

#include <sqlite3.h>

#include <memory>
#include <set>
#include <string>
#include <vector>

#include "core/audit_json.h"

namespace ktrail::testing {

class StoreReader {
 public:
  explicit StoreReader(const std::string& path) {
    sqlite3* db = nullptr;
    if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK) {
      db_.reset(db);
    } else {
      sqlite3_close(db);
    }
  }
  bool ok() const { return db_ != nullptr; }

  long long scalar(const std::string& sql) const {
    sqlite3_stmt* stmt = nullptr;
    long long value = -1;
    if (sqlite3_prepare_v2(db_.get(), sql.c_str(), -1, &stmt, nullptr) == SQLITE_OK &&
        sqlite3_step(stmt) == SQLITE_ROW) {
      value = sqlite3_column_int64(stmt, 0);
    }
    sqlite3_finalize(stmt);
    return value;
  }

  std::vector<std::string> strings(const std::string& sql) const {
    std::vector<std::string> out;
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v2(db_.get(), sql.c_str(), -1, &stmt, nullptr) == SQLITE_OK) {
      while (sqlite3_step(stmt) == SQLITE_ROW) {
        const auto* text = sqlite3_column_text(stmt, 0);
        out.emplace_back(text ? reinterpret_cast<const char*>(text) : "");
      }
    }
    sqlite3_finalize(stmt);
    return out;
  }

  long long audit_rows() const { return scalar("SELECT COUNT(*) FROM audit"); }
  // Rows that share an identity with another row: must always be 0.
  long long duplicate_rows() const {
    return scalar(
        "SELECT COALESCE(SUM(n - 1), 0) FROM (SELECT COUNT(*) AS n FROM audit "
        "GROUP BY audit_id, stage, received, ts)");
  }
  long long dead_letters() const { return scalar("SELECT COUNT(*) FROM dead_letters"); }

 private:
  struct Closer {
    void operator()(sqlite3* db) const { sqlite3_close(db); }
  };
  std::unique_ptr<sqlite3, Closer> db_;
};

// The number of distinct audit-event identities in JSON-lines text, decoded with the same
// decoder the server uses (the store's dedup key: auditID, stage, both timestamps).
inline std::size_t distinct_events(const std::vector<std::string>& jsonl_texts) {
  std::set<std::string> keys;
  for (const auto& text : jsonl_texts) {
    std::size_t pos = 0;
    while (pos < text.size()) {
      std::size_t nl = text.find('\n', pos);
      if (nl == std::string::npos) {
        nl = text.size();
      }
      DecodedAudit d;
      if (nl > pos) {
        decode_audit_line(std::string_view(text).substr(pos, nl - pos), &d);
      }
      for (const auto& e : d.events) {
        keys.insert(e.audit_id + "|" + std::to_string(static_cast<int>(e.stage)) + "|" +
                    std::to_string(e.request_received) + "|" + std::to_string(e.stage_time));
      }
      pos = nl + 1;
    }
  }
  return keys.size();
}

}  // namespace ktrail::testing
