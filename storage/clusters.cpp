#include "storage/clusters.h"

#include <algorithm>

#include "core/cluster.h"

namespace ktrail::storage {

Result<std::unordered_map<std::int64_t, std::string>> cluster_names(const sqlite::Db& db) {
  std::unordered_map<std::int64_t, std::string> names;
  names.emplace(0, std::string(kDefaultCluster));
  auto st = sqlite::Stmt::prepare(db, "SELECT id, name FROM clusters");
  if (!st) {
    return st.status();
  }
  int rc;
  while ((rc = st->step()) == SQLITE_ROW) {
    names[st->column_int(0)] = std::string(st->column_text(1));
  }
  if (rc != SQLITE_DONE) {
    return db.error("read clusters");
  }
  return names;
}

Result<std::vector<std::int64_t>> cluster_ids(const sqlite::Db& db,
                                              const std::vector<std::string>& names) {
  auto known = cluster_names(db);
  if (!known) {
    return known.status();
  }
  std::vector<std::int64_t> ids;
  for (const auto& [id, name] : *known) {
    if (std::find(names.begin(), names.end(), name) != names.end()) {
      ids.push_back(id);
    }
  }
  std::sort(ids.begin(), ids.end());
  return ids;
}

std::string cluster_condition(const std::vector<std::int64_t>& ids, const std::string& prefix) {
  std::string sql = prefix + "cluster IN (";
  for (std::size_t i = 0; i < ids.size(); ++i) {
    sql += (i == 0 ? "" : ",") + std::to_string(ids[i]);
  }
  return sql + ")";
}

const std::string& cluster_name_of(const std::unordered_map<std::int64_t, std::string>& names,
                                   std::int64_t id) {
  static const std::string kDefault(kDefaultCluster);
  const auto it = names.find(id);
  return it == names.end() ? kDefault : it->second;
}

}  // namespace ktrail::storage
