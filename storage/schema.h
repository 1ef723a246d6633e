// The store's schema and its migrations.
//
// The schema version is SQLite's `PRAGMA user_version`: the number of migrations applied.
// Migrations only ever append (never edit a released step). A writable open applies the missing
// steps in one transaction; a file at a version newer than this binary knows is refused, since
// an older ktrail cannot know what a newer one changed.
#pragma once

#include <cstdint>

#include "core/status.h"
#include "storage/sqlite_util.h"

namespace ktrail::storage {

// The version a fully migrated store has.
std::int64_t schema_version();

// Brings a writable database to schema_version(). Refuses a newer file.
Status migrate(sqlite::Db& db);
// The same, stopping at `target` (1..schema_version()): how tests make a file of an older
// version to check the migrations after it.
Status migrate_to(sqlite::Db& db, std::int64_t target);

// For read-only opens: ok when the file is exactly at schema_version(), else a clear error.
Status check_version(const sqlite::Db& db);

}  // namespace ktrail::storage
