// Several stores queried as one: the process role of Kafka mode writes one SQLite shard per
// replica, and query commands take several --db files, or directories of *.db files, and merge
// what each shard returns.
#pragma once

#include <string>
#include <vector>

#include "core/status.h"
#include "storage/store.h"

namespace ktrail::app {

// Expands --db values: a directory stands for its *.db files (sorted); a file stays itself.
// Duplicates are removed. An empty directory, or an empty list, is an error.
Result<std::vector<std::string>> expand_db_paths(const std::vector<std::string>& values);

// Runs `filter` on every shard and merges the rows oldest first. An event found in two shards
// (possible only after a crash, when shards cannot see each other's offsets) is shown once.
// `filter.limit` applies to the merged result (the most recent rows).
Result<std::vector<StoredAudit>> find_audit_in_shards(const std::vector<std::string>& paths,
                                                      const AuditFilter& filter,
                                                      const StoreOptions& options);

}  // namespace ktrail::app
