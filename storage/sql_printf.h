// printf() and format() for `ktrail sql` (storage/readonly_sql.h) that fail instead of
// truncating.
//
// SQLite's own printf() silently cuts its result at SQLITE_LIMIT_LENGTH: printf('%.*c',
// 999999999, 'x') under a 64 MiB limit returns a short string and no error. The replacement
// first bounds the size of the result from the format's widths and precisions and the
// arguments' lengths; above `max_value` bytes it fails with SQLITE_TOOBIG. Otherwise the
// formatting itself is SQLite's, run on a private in-memory connection, so results are
// exactly the built-in ones.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <map>
#include <memory>

#include "core/status.h"

namespace ktrail::storage {

class CheckedPrintf {
 public:
  // Registers printf() and format() on `db`; the returned object must outlive `db`'s use.
  static Result<std::unique_ptr<CheckedPrintf>> install(sqlite3* db, std::int64_t max_value);
  ~CheckedPrintf();
  CheckedPrintf(const CheckedPrintf&) = delete;
  CheckedPrintf& operator=(const CheckedPrintf&) = delete;

  // An upper bound of the bytes printf(format, args...) produces (for tests).
  static std::int64_t bound(const char* format, int argc, sqlite3_value** args);

 private:
  CheckedPrintf() = default;
  static void call(sqlite3_context* ctx, int argc, sqlite3_value** argv);

  sqlite3* formatter_ = nullptr;  // the private connection with the built-in printf
  std::int64_t max_value_ = 0;
  std::map<int, sqlite3_stmt*> statements_;  // "SELECT printf(?1, ..., ?n)" by n
};

}  // namespace ktrail::storage
