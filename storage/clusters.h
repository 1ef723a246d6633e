// Private to storage/: the `clusters` table (schema.cpp, version 13) as the readers use it.
// Cluster 0 is "default"; others have their name's dictionary id.
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/status.h"
#include "storage/sqlite_util.h"

namespace ktrail::storage {

// id -> name of every cluster the store holds (0 -> "default" is always there).
Result<std::unordered_map<std::int64_t, std::string>> cluster_names(const sqlite::Db& db);

// The ids of those of `names` the store holds, sorted (names it never held are left out, so an
// empty answer to a non-empty question matches nothing).
Result<std::vector<std::int64_t>> cluster_ids(const sqlite::Db& db,
                                              const std::vector<std::string>& names);

// "cluster IN (?,?,...)" for `ids` (at least one), prefixed by `column_prefix` ("", "i.").
std::string cluster_condition(const std::vector<std::int64_t>& ids, const std::string& prefix);

// The name of `id` in `names`, "default" for 0 or an id missing from the map.
const std::string& cluster_name_of(const std::unordered_map<std::int64_t, std::string>& names,
                                   std::int64_t id);

}  // namespace ktrail::storage
