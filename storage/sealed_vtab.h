// Private to storage/: the sealed segments as SQL, for `ktrail sql` (storage/readonly_sql.h).
//
// Contract: register_sealed_views() adds, on one connection, the eponymous virtual table
// `sealed_audit` (one row per sealed event, with the columns of `audit`, NULL where `audit`
// has NULL, plus segment_id, segment_row and the hidden column `event`: the original event) and
// TEMP views that shadow `audit` and `audit_events` with hot rows and sealed rows together
// (temp objects are found before main's of the same name). Constraints on `ts` skip whole
// segments. The virtual table only reads; the connection may be read-only.
#pragma once

#include <sqlite3.h>

#include "core/status.h"

namespace ktrail::storage {

Status register_sealed_views(sqlite3* db);

}  // namespace ktrail::storage
