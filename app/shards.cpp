#include "app/shards.h"

#include <algorithm>
#include <filesystem>
#include <set>
#include <tuple>

namespace ktrail::app {

Result<std::vector<std::string>> expand_db_paths(const std::vector<std::string>& values) {
  std::vector<std::string> out;
  std::set<std::string> seen;
  auto add = [&](const std::string& p) {
    if (seen.insert(p).second) {
      out.push_back(p);
    }
  };
  for (const std::string& value : values) {
    std::error_code ec;
    if (std::filesystem::is_directory(value, ec)) {
      std::vector<std::string> files;
      for (const auto& entry : std::filesystem::directory_iterator(value, ec)) {
        if (entry.is_regular_file() && entry.path().extension() == ".db") {
          files.push_back(entry.path().string());
        }
      }
      if (files.empty()) {
        return not_found("no *.db store files in directory " + value);
      }
      std::sort(files.begin(), files.end());
      for (const std::string& f : files) {
        add(f);
      }
    } else {
      add(value);
    }
  }
  if (out.empty()) {
    return invalid_argument("no --db given");
  }
  return out;
}

Result<std::vector<StoredAudit>> find_audit_in_shards(const std::vector<std::string>& paths,
                                                      const AuditFilter& filter,
                                                      const StoreOptions& options) {
  std::vector<StoredAudit> merged;
  for (const std::string& path : paths) {
    auto store = Store::open(path, options);
    if (!store) {
      return Status(store.status().code(), path + ": " + store.status().message());
    }
    auto rows = (*store)->find_audit(filter);  // each shard's most recent `limit` suffice
    if (!rows) {
      return Status(rows.status().code(), path + ": " + rows.status().message());
    }
    std::move(rows->begin(), rows->end(), std::back_inserter(merged));
  }
  if (paths.size() == 1) {
    return merged;
  }
  const auto key = [](const StoredAudit& a) {
    return std::tie(a.time, a.received, a.audit_id, a.stage);
  };
  std::stable_sort(merged.begin(), merged.end(),
                   [&](const StoredAudit& a, const StoredAudit& b) { return key(a) < key(b); });
  merged.erase(
      std::unique(merged.begin(), merged.end(),
                  [&](const StoredAudit& a, const StoredAudit& b) { return key(a) == key(b); }),
      merged.end());
  if (filter.limit > 0 && merged.size() > filter.limit) {
    merged.erase(merged.begin(),
                 merged.begin() + static_cast<std::ptrdiff_t>(merged.size() - filter.limit));
  }
  return merged;
}

}  // namespace ktrail::app
