#include "storage/sql_printf.h"

#include <algorithm>
#include <cstring>
#include <string>

namespace ktrail::storage {
namespace {

constexpr std::int64_t kHuge = std::int64_t{1} << 40;

// A width or precision given as digits; saturates instead of overflowing.
std::int64_t read_digits(const char* f, std::size_t* i) {
  std::int64_t n = 0;
  while (f[*i] >= '0' && f[*i] <= '9') {
    n = std::min(kHuge, n * 10 + (f[*i] - '0'));
    ++*i;
  }
  return n;
}

std::int64_t int_arg(int argc, sqlite3_value** args, int* next) {
  if (*next >= argc) {
    return 0;
  }
  const sqlite3_int64 v = sqlite3_value_int64(args[(*next)++]);
  return v < 0 ? std::min<std::int64_t>(kHuge, -(v + 1) + 1) : std::min<std::int64_t>(kHuge, v);
}

}  // namespace

std::int64_t CheckedPrintf::bound(const char* f, int argc, sqlite3_value** args) {
  std::int64_t total = static_cast<std::int64_t>(std::strlen(f));
  int next = 0;
  for (std::size_t i = 0; f[i] != '\0'; ++i) {
    if (f[i] != '%') {
      continue;
    }
    ++i;
    if (f[i] == '%') {
      continue;
    }
    while (f[i] != '\0' && std::strchr("-+ 0#,!", f[i]) != nullptr) {
      ++i;
    }
    std::int64_t width = 0;
    if (f[i] == '*') {
      ++i;
      width = int_arg(argc, args, &next);
    } else {
      width = read_digits(f, &i);
    }
    std::int64_t precision = 0;
    if (f[i] == '.') {
      ++i;
      if (f[i] == '*') {
        ++i;
        precision = int_arg(argc, args, &next);
      } else {
        precision = read_digits(f, &i);
      }
    }
    while (f[i] == 'l') {
      ++i;
    }
    if (f[i] == '\0') {
      break;
    }
    std::int64_t arg = 0;
    if (next < argc) {
      arg = sqlite3_value_bytes(args[next++]);
    }
    // Quoting conversions may double every byte; numbers take at most a few dozen bytes.
    const bool quoting = f[i] == 'q' || f[i] == 'Q' || f[i] == 'w';
    total = std::min(kHuge, total + std::max({width, precision, quoting ? 2 * arg + 2 : arg}) + 64);
  }
  return total;
}

Result<std::unique_ptr<CheckedPrintf>> CheckedPrintf::install(sqlite3* db,
                                                              std::int64_t max_value) {
  std::unique_ptr<CheckedPrintf> p(new CheckedPrintf());
  p->max_value_ = max_value;
  if (sqlite3_open_v2(":memory:", &p->formatter_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_MEMORY,
                      nullptr) != SQLITE_OK) {
    return database_error("cannot open the formatting connection");
  }
  sqlite3_limit(p->formatter_, SQLITE_LIMIT_LENGTH,
                static_cast<int>(std::min<std::int64_t>(max_value, 1'000'000'000)));
  for (const char* name : {"printf", "format"}) {
    if (sqlite3_create_function_v2(db, name, -1, SQLITE_UTF8 | SQLITE_INNOCUOUS, p.get(),
                                   &CheckedPrintf::call, nullptr, nullptr,
                                   nullptr) != SQLITE_OK) {
      return database_error(std::string("cannot register ") + name + "()");
    }
  }
  return p;
}

CheckedPrintf::~CheckedPrintf() {
  for (auto& [n, stmt] : statements_) {
    sqlite3_finalize(stmt);
  }
  sqlite3_close(formatter_);
}

void CheckedPrintf::call(sqlite3_context* ctx, int argc, sqlite3_value** argv) {
  auto* self = static_cast<CheckedPrintf*>(sqlite3_user_data(ctx));
  if (argc < 1 || sqlite3_value_type(argv[0]) == SQLITE_NULL) {
    sqlite3_result_null(ctx);
    return;
  }
  const auto* format = reinterpret_cast<const char*>(sqlite3_value_text(argv[0]));
  if (format == nullptr) {
    sqlite3_result_error_nomem(ctx);
    return;
  }
  if (bound(format, argc - 1, argv + 1) > self->max_value_) {
    sqlite3_result_error_toobig(ctx);
    return;
  }
  sqlite3_stmt*& stmt = self->statements_[argc];
  if (stmt == nullptr) {
    std::string sql = "SELECT printf(?1";
    for (int i = 2; i <= argc; ++i) {
      sql += ",?" + std::to_string(i);
    }
    sql += ")";
    if (sqlite3_prepare_v2(self->formatter_, sql.c_str(), -1, &stmt, nullptr) != SQLITE_OK) {
      sqlite3_result_error(ctx, sqlite3_errmsg(self->formatter_), -1);
      return;
    }
  }
  for (int i = 0; i < argc; ++i) {
    sqlite3_bind_value(stmt, i + 1, argv[i]);
  }
  if (sqlite3_step(stmt) == SQLITE_ROW) {
    sqlite3_result_value(ctx, sqlite3_column_value(stmt, 0));
  } else {
    sqlite3_result_error(ctx, sqlite3_errmsg(self->formatter_), -1);
  }
  sqlite3_reset(stmt);
  sqlite3_clear_bindings(stmt);
}

}  // namespace ktrail::storage
