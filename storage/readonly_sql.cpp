#include "storage/readonly_sql.h"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <memory>
#include <set>

#include "storage/analytic.h"
#include "storage/analytic_sql.h"
#include "storage/event_codec.h"
#include "storage/sealed_vtab.h"
#include "storage/sql_printf.h"
#include "storage/sqlite_util.h"

namespace ktrail {
namespace {

// Pragmas that only report; anything else is refused, and so is any of these given a value,
// except the ones whose argument names what to report on (pragma_table_info('audit')).
const std::set<std::string, std::less<>> kReadPragmas = {
    "table_info",    "table_xinfo",      "table_list",   "index_list",     "index_info",
    "index_xinfo",   "foreign_key_list", "user_version", "schema_version", "page_size",
    "page_count",    "freelist_count",   "encoding",     "collation_list", "function_list",
    "database_list", "journal_mode",     "module_list",  "pragma_list"};
const std::set<std::string, std::less<>> kPragmasWithSubject = {
    "table_info", "table_xinfo",      "table_list", "index_list",
    "index_info", "index_xinfo", "foreign_key_list"};

// Functions refused although they write nothing: fts3_tokenizer(name) returns the address of a
// structure in the process's memory (and with two arguments would install one); load_extension
// runs code from a file.
const std::set<std::string, std::less<>> kRefusedFunctions = {"fts3_tokenizer",
                                                             "load_extension"};

// SQLite's schema table under its names: preparing the first use of an eponymous virtual table
// (json_each, json_tree, pragma_*) asks to authorize UPDATEs of it, which it never performs on a
// read-only connection.
bool is_schema_table(const char* name) {
  return name != nullptr &&
         (std::string_view(name) == "sqlite_master" || std::string_view(name) == "sqlite_schema" ||
          std::string_view(name) == "sqlite_temp_master");
}

struct Guard {
  std::string refused;           // what the authorizer refused first, for the error message
  std::string refused_function;  // a refused function's name
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
    case SQLITE_RECURSIVE:
      return SQLITE_OK;
    case SQLITE_FUNCTION:
      if (arg2 != nullptr && kRefusedFunctions.count(arg2) > 0) {
        if (guard->refused_function.empty()) {
          guard->refused_function = arg2;
        }
        return SQLITE_DENY;
      }
      return SQLITE_OK;
    case SQLITE_UPDATE:
      if (is_schema_table(arg1)) {
        return SQLITE_OK;
      }
      break;
    case SQLITE_PRAGMA:
      if (arg1 != nullptr && kReadPragmas.count(arg1) > 0 &&
          (arg2 == nullptr || kPragmasWithSubject.count(arg1) > 0)) {
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

// The index of the first character at or after `i` that is not a space, a ';' or a comment.
std::size_t skip_space_and_comments(std::string_view s, std::size_t i) {
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
      break;
    }
  }
  return i;
}

bool only_space_or_comments(std::string_view s) {
  return skip_space_and_comments(s, 0) == s.size();
}

// What a statement is, from its first keywords: "UPDATE", "DROP VIEW", "CREATE TEMP TABLE".
std::string statement_kind(std::string_view sql) {
  static const std::set<std::string, std::less<>> kObjectWords = {
      "TEMP", "TEMPORARY", "VIRTUAL", "UNIQUE", "TABLE", "VIEW", "INDEX", "TRIGGER"};
  std::string kind;
  std::size_t i = skip_space_and_comments(sql, 0);
  for (;;) {
    std::string word;
    while (i < sql.size() && (std::isalpha(static_cast<unsigned char>(sql[i])) != 0)) {
      word += static_cast<char>(std::toupper(static_cast<unsigned char>(sql[i])));
      ++i;
    }
    if (word.empty() || (!kind.empty() && kObjectWords.count(word) == 0)) {
      return kind;
    }
    kind += kind.empty() ? word : " " + word;
    if (kind != "CREATE" && kind != "DROP" && kind != "ALTER" && kObjectWords.count(word) == 0) {
      return kind;
    }
    i = skip_space_and_comments(sql, i);
  }
}

Status refused(const std::string& what) {
  return Status(ErrorCode::kPermissionDenied,
                "ktrail sql is read-only: " + what + " is not allowed (only one SELECT)");
}

Status refused_function(const std::string& name) {
  return Status(ErrorCode::kPermissionDenied,
                "ktrail sql: the function " + name + "() is not allowed" +
                    (name == "fts3_tokenizer" ? " (it returns a memory address of the process)"
                                              : " (it loads code into the process)"));
}

std::string mib(std::int64_t bytes) {
  return std::to_string((bytes + (1 << 20) - 1) >> 20) + " MiB";
}

std::string seconds(std::chrono::milliseconds d) {
  const auto ms = d.count();
  return ms % 1000 == 0 ? std::to_string(ms / 1000) + " s" : std::to_string(ms) + " ms";
}

// Time spent inside SQLite, for the progress handler.
struct SqlTimer {
  using steady = std::chrono::steady_clock;
  steady::duration used{};
  steady::time_point step_started;
  steady::duration limit{};
  bool expired = false;
};

int on_progress(void* user) {
  auto* timer = static_cast<SqlTimer*>(user);
  if (timer->used + (SqlTimer::steady::now() - timer->step_started) > timer->limit) {
    timer->expired = true;
    return 1;  // interrupts the statement: SQLITE_INTERRUPT
  }
  return 0;
}

// Restores the process's heap limit when the statement is done.
class HeapLimit {
 public:
  explicit HeapLimit(std::int64_t bytes) : previous_(sqlite3_hard_heap_limit64(bytes)) {}
  ~HeapLimit() { sqlite3_hard_heap_limit64(previous_); }
  HeapLimit(const HeapLimit&) = delete;
  HeapLimit& operator=(const HeapLimit&) = delete;

 private:
  sqlite3_int64 previous_;
};

SqlValue column_value(sqlite3_stmt* stmt, int i) {
  SqlValue v;
  switch (sqlite3_column_type(stmt, i)) {
    case SQLITE_INTEGER:
      v.kind = SqlValue::Kind::kInt;
      v.integer = sqlite3_column_int64(stmt, i);
      break;
    case SQLITE_FLOAT:
      v.kind = SqlValue::Kind::kReal;
      v.real = sqlite3_column_double(stmt, i);
      break;
    case SQLITE_TEXT:
      v.kind = SqlValue::Kind::kText;
      v.text.assign(reinterpret_cast<const char*>(sqlite3_column_text(stmt, i)),
                    static_cast<std::size_t>(sqlite3_column_bytes(stmt, i)));
      break;
    case SQLITE_BLOB: {
      v.kind = SqlValue::Kind::kBlob;
      const auto* p = static_cast<const char*>(sqlite3_column_blob(stmt, i));
      v.text.assign(p != nullptr ? p : "", static_cast<std::size_t>(sqlite3_column_bytes(stmt, i)));
      break;
    }
    default:
      break;
  }
  return v;
}

class CollectingSink : public SqlRowSink {
 public:
  explicit CollectingSink(SqlResult* out) : out_(out) {}
  void columns(const std::vector<std::string>& names) override { out_->columns = names; }
  Status row(const std::vector<SqlValue>& values) override {
    out_->rows.push_back(values);
    return Status::ok();
  }

 private:
  SqlResult* out_;
};

}  // namespace

Status run_readonly_sql(const std::string& db_path, std::string_view sql, const SqlLimits& limits,
                        SqlRowSink& sink) {
  std::error_code ec;
  if (!std::filesystem::exists(db_path, ec)) {
    return not_found("no store at '" + db_path + "'");
  }
  if (limits.timeout.count() <= 0 || limits.max_memory < (std::int64_t{4} << 20)) {
    return invalid_argument("the time limit must be positive and the memory limit at least 4 MiB");
  }
  const HeapLimit heap_limit(limits.max_memory);
  // Outlives the connection below, which calls into it.
  std::unique_ptr<storage::CheckedPrintf> printf_guard;
  auto db = sqlite::Db::open(db_path, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX);
  if (!db) {
    return db.status();
  }
  sqlite3* handle = db->get();
  sqlite3_busy_timeout(handle, 5000);
  sqlite3_db_config(handle, SQLITE_DBCONFIG_DEFENSIVE, 1, nullptr);
  sqlite3_db_config(handle, SQLITE_DBCONFIG_ENABLE_LOAD_EXTENSION, 0, nullptr);
  const std::int64_t max_value = limits.max_memory / 4;
  sqlite3_limit(handle, SQLITE_LIMIT_LENGTH,
                static_cast<int>(std::min<std::int64_t>(max_value, 1'000'000'000)));
  if (limits.columnar) {
    if (auto query = storage::parse_analytic_sql(sql)) {
      const auto started = SqlTimer::steady::now();
      storage::AnalyticOptions options;
      // A group costs a few hundred bytes at most; more groups than the memory limit allows
      // go through SQLite, which enforces it.
      options.max_groups = static_cast<std::size_t>(limits.max_memory / 512);
      options.check = [&]() -> Status {
        if (SqlTimer::steady::now() - started > limits.timeout) {
          return Status(ErrorCode::kResourceExhausted,
                        "ktrail sql: stopped after " + seconds(limits.timeout) + " (--timeout)");
        }
        return Status::ok();
      };
      auto answer = storage::run_analytic(*db, *query, options);
      if (!answer) {
        return answer.status();
      }
      if (answer->has_value()) {
        const SqlResult& result = **answer;
        sink.columns(result.columns);
        std::uint64_t rows = 0;
        for (const auto& row : result.rows) {
          if (limits.max_rows != 0 && rows == limits.max_rows) {
            return Status(ErrorCode::kResourceExhausted,
                          "ktrail sql: stopped after " + std::to_string(rows) +
                              " rows (--max-rows)");
          }
          ++rows;
          KTRAIL_RETURN_IF_ERROR(sink.row(row));
        }
        return Status::ok();
      }
    }
  }
  // Sorts and temporary tables in memory, under the heap limit, rather than in files.
  KTRAIL_RETURN_IF_ERROR(db->exec("PRAGMA temp_store = MEMORY"));
  auto checked_printf = storage::CheckedPrintf::install(handle, max_value);
  if (!checked_printf) {
    return checked_printf.status();
  }
  printf_guard = std::move(*checked_printf);
  sqlite3_create_function_v2(handle, "block_event", 3,
                             SQLITE_UTF8 | SQLITE_DETERMINISTIC | SQLITE_INNOCUOUS, nullptr,
                             block_event, nullptr, nullptr, nullptr);
  // Sealed segments read with the hot rows (temp views shadow audit and audit_events).
  KTRAIL_RETURN_IF_ERROR(storage::register_sealed_views(handle));
  Guard guard;
  sqlite3_set_authorizer(handle, authorize, &guard);
  SqlTimer timer;
  timer.limit = limits.timeout;
  timer.step_started = SqlTimer::steady::now();
  sqlite3_progress_handler(handle, 1000, on_progress, &timer);

  // A refusal names the statement's kind, or for a query (a SELECT that calls or reads
  // something refused, a WITH ... DELETE, a pragma) what the authorizer refused in it.
  const std::string kind = statement_kind(sql);
  auto refuse = [&](const std::string& detail) {
    if (kind.empty() || kind == "SELECT" || kind == "WITH" || kind == "VALUES" ||
        kind == "PRAGMA" || kind == "EXPLAIN") {
      return refused(detail);
    }
    return refused(kind);
  };
  // What a failed prepare or step means, in the user's terms.
  auto explain = [&](int rc) -> Status {
    if (!guard.refused_function.empty()) {
      return refused_function(guard.refused_function);
    }
    if (!guard.refused.empty()) {
      return refuse(guard.refused);
    }
    const std::string message = sqlite3_errmsg(handle);
    if (message.find("may not be modified") != std::string::npos) {
      return refuse("a write to the schema table");
    }
    // `audit` and `audit_events` are views on this connection (storage/sealed_vtab.h): a write
    // to them fails before the authorizer sees it. It is refused as a write all the same.
    if (message.find("because it is a view") != std::string::npos ||
        message.find("views may not be indexed") != std::string::npos ||
        message.find("to a view") != std::string::npos) {
      std::string upper(sql);
      for (char& ch : upper) {
        ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
      }
      // A WITH ... DELETE names its write; any other statement is named by its kind.
      for (const char* verb : {"DELETE", "UPDATE", "INSERT", "REPLACE"}) {
        if (kind == "WITH" && upper.find(verb) != std::string::npos) {
          return refuse(verb);
        }
      }
      return refuse(kind.empty() || kind == "WITH" ? "a write" : kind);
    }
    if (timer.expired || rc == SQLITE_INTERRUPT) {
      return Status(ErrorCode::kResourceExhausted,
                    "ktrail sql: stopped after " + seconds(limits.timeout) + " (--timeout)");
    }
    if (rc == SQLITE_NOMEM) {
      return Status(ErrorCode::kResourceExhausted,
                    "ktrail sql: stopped: the statement needed more than " +
                        mib(limits.max_memory) + " of memory (--max-memory)");
    }
    if (rc == SQLITE_TOOBIG) {
      return Status(ErrorCode::kResourceExhausted,
                    "ktrail sql: stopped: a value would be larger than " + mib(max_value) +
                        " (a quarter of --max-memory)");
    }
    return database_error(message);
  };

  sqlite3_stmt* raw = nullptr;
  const char* tail = nullptr;
  const int rc = sqlite3_prepare_v2(handle, sql.data(), static_cast<int>(sql.size()), &raw, &tail);
  std::unique_ptr<sqlite3_stmt, int (*)(sqlite3_stmt*)> stmt(raw, sqlite3_finalize);
  if (rc != SQLITE_OK) {
    return explain(sqlite3_errcode(handle));
  }
  if (stmt == nullptr) {
    return invalid_argument("no SQL statement given");
  }
  const std::size_t used = static_cast<std::size_t>(tail - sql.data());
  if (!only_space_or_comments(sql.substr(used))) {
    return refused("more than one statement");
  }
  if (!sqlite3_stmt_readonly(stmt.get())) {
    return refuse("a statement that writes");
  }
  const int columns = sqlite3_column_count(stmt.get());
  std::vector<std::string> names;
  for (int i = 0; i < columns; ++i) {
    const char* name = sqlite3_column_name(stmt.get(), i);
    names.emplace_back(name != nullptr ? name : "");
  }
  sink.columns(names);
  std::vector<SqlValue> row(static_cast<std::size_t>(columns));
  std::uint64_t rows = 0;
  timer.used = {};
  for (;;) {
    timer.step_started = SqlTimer::steady::now();
    const int step = sqlite3_step(stmt.get());
    timer.used += SqlTimer::steady::now() - timer.step_started;
    if (step == SQLITE_DONE) {
      return Status::ok();
    }
    if (step != SQLITE_ROW) {
      return explain(step);
    }
    if (limits.max_rows != 0 && rows == limits.max_rows) {
      return Status(ErrorCode::kResourceExhausted,
                    "ktrail sql: stopped after " + std::to_string(rows) + " rows (--max-rows)");
    }
    ++rows;
    for (int i = 0; i < columns; ++i) {
      row[static_cast<std::size_t>(i)] = column_value(stmt.get(), i);
    }
    KTRAIL_RETURN_IF_ERROR(sink.row(row));
  }
}

Result<SqlResult> run_readonly_sql(const std::string& db_path, std::string_view sql,
                                   const SqlLimits& limits) {
  SqlResult result;
  CollectingSink sink(&result);
  KTRAIL_RETURN_IF_ERROR(run_readonly_sql(db_path, sql, limits, sink));
  return result;
}

}  // namespace ktrail
