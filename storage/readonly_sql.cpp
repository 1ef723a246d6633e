#include "storage/readonly_sql.h"

#include <filesystem>
#include <memory>
#include <set>

#include "storage/event_codec.h"
#include "storage/sqlite_util.h"

namespace ktrail {
namespace {

// Pragmas that only report; anything else (and any pragma given a value) is refused.
const std::set<std::string, std::less<>> kReadPragmas = {
    "table_info",    "table_xinfo",      "table_list",   "index_list",     "index_info",
    "index_xinfo",   "foreign_key_list", "user_version", "schema_version", "page_size",
    "page_count",    "freelist_count",   "encoding",     "collation_list", "function_list",
    "database_list", "journal_mode"};

struct Guard {
  std::string refused;  // what the authorizer refused first, for the error message
};

const char* action_name(int action) {
  switch (action) {
    case SQLITE_INSERT:
      return "INSERT";
    case SQLITE_UPDATE:
      return "UPDATE";
    case SQLITE_DELETE:
      return "DELETE";
    case SQLITE_ATTACH:
      return "ATTACH";
    case SQLITE_DETACH:
      return "DETACH";
    case SQLITE_TRANSACTION:
      return "a transaction statement";
    case SQLITE_SAVEPOINT:
      return "SAVEPOINT";
    case SQLITE_ANALYZE:
      return "ANALYZE";
    case SQLITE_REINDEX:
      return "REINDEX";
    case SQLITE_ALTER_TABLE:
      return "ALTER TABLE";
    case SQLITE_CREATE_VTABLE:
    case SQLITE_DROP_VTABLE:
      return "a virtual table statement";
    default:
      return nullptr;
  }
}

int authorize(void* user, int action, const char* arg1, const char* arg2, const char*,
              const char*) {
  auto* guard = static_cast<Guard*>(user);
  switch (action) {
    case SQLITE_SELECT:
    case SQLITE_READ:
    case SQLITE_FUNCTION:
    case SQLITE_RECURSIVE:
      return SQLITE_OK;
    case SQLITE_PRAGMA:
      if (arg1 != nullptr && arg2 == nullptr && kReadPragmas.count(arg1) > 0) {
        return SQLITE_OK;
      }
      if (guard->refused.empty()) {
        guard->refused = std::string("PRAGMA ") + (arg1 != nullptr ? arg1 : "") +
                         (arg2 != nullptr ? " with a value" : "");
      }
      return SQLITE_DENY;
    default:
      break;
  }
  if (guard->refused.empty()) {
    const char* name = action_name(action);
    if (name != nullptr) {
      guard->refused = name;
    } else if (action >= SQLITE_CREATE_INDEX && action <= SQLITE_DROP_VIEW) {
      guard->refused = action == SQLITE_DROP_TABLE || action == SQLITE_DROP_INDEX ||
                               action == SQLITE_DROP_VIEW || action == SQLITE_DROP_TRIGGER ||
                               action == SQLITE_DROP_TEMP_TABLE ||
                               action == SQLITE_DROP_TEMP_INDEX ||
                               action == SQLITE_DROP_TEMP_VIEW || action == SQLITE_DROP_TEMP_TRIGGER
                           ? "DROP"
                           : "CREATE";
    } else {
      guard->refused = "this statement";
    }
  }
  return SQLITE_DENY;
}

// block_event(format, data, index): the JSON of one event of an event block.
void block_event(sqlite3_context* ctx, int, sqlite3_value** argv) {
  const auto* data = static_cast<const char*>(sqlite3_value_blob(argv[1]));
  const int n = sqlite3_value_bytes(argv[1]);
  const auto format = static_cast<storage::BlockFormat>(sqlite3_value_int(argv[0]));
  const sqlite3_int64 index = sqlite3_value_int64(argv[2]);
  if (data == nullptr || index < 0) {
    sqlite3_result_null(ctx);
    return;
  }
  auto json = storage::unpack_block_event({data, static_cast<std::size_t>(n)}, format,
                                          static_cast<std::size_t>(index));
  if (!json) {
    sqlite3_result_error(ctx, json.status().message().c_str(), -1);
    return;
  }
  sqlite3_result_text(ctx, json->data(), static_cast<int>(json->size()), SQLITE_TRANSIENT);
}

bool only_space_or_comments(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    const char c = s[i];
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == ';') {
      ++i;
    } else if (s.substr(i, 2) == "--") {
      const auto end = s.find('\n', i);
      i = end == std::string_view::npos ? s.size() : end;
    } else if (s.substr(i, 2) == "/*") {
      const auto end = s.find("*/", i + 2);
      i = end == std::string_view::npos ? s.size() : end + 2;
    } else {
      return false;
    }
  }
  return true;
}

Status refused(const std::string& what) {
  return Status(ErrorCode::kPermissionDenied,
                "ktrail sql is read-only: " + what + " is not allowed (only one SELECT)");
}

}  // namespace

Result<SqlResult> run_readonly_sql(const std::string& db_path, std::string_view sql) {
  std::error_code ec;
  if (!std::filesystem::exists(db_path, ec)) {
    return not_found("no store at '" + db_path + "'");
  }
  auto db = sqlite::Db::open(db_path, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX);
  if (!db) {
    return db.status();
  }
  sqlite3_busy_timeout(db->get(), 5000);
  sqlite3_create_function_v2(db->get(), "block_event", 3,
                             SQLITE_UTF8 | SQLITE_DETERMINISTIC | SQLITE_INNOCUOUS, nullptr,
                             block_event, nullptr, nullptr, nullptr);
  Guard guard;
  sqlite3_set_authorizer(db->get(), authorize, &guard);

  sqlite3_stmt* raw = nullptr;
  const char* tail = nullptr;
  const int rc =
      sqlite3_prepare_v2(db->get(), sql.data(), static_cast<int>(sql.size()), &raw, &tail);
  std::unique_ptr<sqlite3_stmt, int (*)(sqlite3_stmt*)> stmt(raw, sqlite3_finalize);
  if (rc != SQLITE_OK) {
    if (!guard.refused.empty()) {
      return refused(guard.refused);
    }
    return database_error(sqlite3_errmsg(db->get()));
  }
  if (stmt == nullptr) {
    return invalid_argument("no SQL statement given");
  }
  const std::size_t used = static_cast<std::size_t>(tail - sql.data());
  if (!only_space_or_comments(sql.substr(used))) {
    return refused("more than one statement");
  }
  if (!sqlite3_stmt_readonly(stmt.get())) {
    return refused("a statement that writes");
  }
  SqlResult result;
  const int columns = sqlite3_column_count(stmt.get());
  for (int i = 0; i < columns; ++i) {
    const char* name = sqlite3_column_name(stmt.get(), i);
    result.columns.emplace_back(name != nullptr ? name : "");
  }
  int step;
  while ((step = sqlite3_step(stmt.get())) == SQLITE_ROW) {
    auto& row = result.rows.emplace_back();
    for (int i = 0; i < columns; ++i) {
      SqlValue v;
      switch (sqlite3_column_type(stmt.get(), i)) {
        case SQLITE_INTEGER:
          v.kind = SqlValue::Kind::kInt;
          v.integer = sqlite3_column_int64(stmt.get(), i);
          break;
        case SQLITE_FLOAT:
          v.kind = SqlValue::Kind::kReal;
          v.real = sqlite3_column_double(stmt.get(), i);
          break;
        case SQLITE_TEXT:
          v.kind = SqlValue::Kind::kText;
          v.text.assign(reinterpret_cast<const char*>(sqlite3_column_text(stmt.get(), i)),
                        static_cast<std::size_t>(sqlite3_column_bytes(stmt.get(), i)));
          break;
        case SQLITE_BLOB: {
          v.kind = SqlValue::Kind::kBlob;
          const auto* p = static_cast<const char*>(sqlite3_column_blob(stmt.get(), i));
          v.text.assign(p != nullptr ? p : "",
                        static_cast<std::size_t>(sqlite3_column_bytes(stmt.get(), i)));
          break;
        }
        default:
          break;
      }
      row.push_back(std::move(v));
    }
  }
  if (step != SQLITE_DONE) {
    if (!guard.refused.empty()) {
      return refused(guard.refused);
    }
    return database_error(sqlite3_errmsg(db->get()));
  }
  return result;
}

}  // namespace ktrail
