#include "app/shards.h"

#include <algorithm>
#include <filesystem>
#include <map>
#include <set>
#include <tuple>

#include "app/incident_merge.h"

namespace ktrail::app {
namespace {

// Keeps the `limit` last rows (the most recent: rows are oldest first); 0 keeps all.
template <typename T>
void keep_last(std::vector<T>* rows, std::size_t limit) {
  if (limit > 0 && rows->size() > limit) {
    rows->erase(rows->begin(), rows->begin() + static_cast<std::ptrdiff_t>(rows->size() - limit));
  }
}

}  // namespace

Status check_store_directory(const std::string& path) {
  const std::filesystem::path dir = std::filesystem::path(path).parent_path();
  if (dir.empty()) {
    return Status::ok();
  }
  std::error_code ec;
  if (std::filesystem::is_directory(dir, ec)) {
    return Status::ok();
  }
  if (std::filesystem::exists(dir, ec)) {
    return invalid_argument("cannot use store " + path + ": " + dir.string() +
                            " is not a directory");
  }
  return not_found("cannot use store " + path + ": directory " + dir.string() +
                   " does not exist (create it first, e.g. mkdir -p " + dir.string() + ")");
}

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
      if (!std::filesystem::exists(value, ec)) {
        KTRAIL_RETURN_IF_ERROR(check_store_directory(value));
      }
      add(value);
    }
  }
  if (out.empty()) {
    return invalid_argument("no --db given");
  }
  return out;
}

Result<ShardSet> ShardSet::open(const std::vector<std::string>& paths,
                                const StoreOptions& options) {
  if (paths.empty()) {
    return invalid_argument("no store to read");
  }
  ShardSet set;
  for (const std::string& path : paths) {
    auto store = Store::open(path, options);
    if (!store) {
      return Status(store.status().code(), path + ": " + store.status().message());
    }
    set.stores_.push_back(store->get());
    set.owned_.push_back(std::move(*store));
  }
  return set;
}

ShardSet ShardSet::of(const std::vector<Store*>& stores) {
  ShardSet set;
  set.stores_ = stores;
  return set;
}

Status ShardSet::named(const Status& status, std::size_t shard) const {
  return Status(status.code(), stores_[shard]->path() + ": " + status.message());
}

Result<std::vector<StoredAudit>> ShardSet::find_audit(const AuditFilter& filter,
                                                      std::size_t* matched) {
  std::vector<StoredAudit> merged;
  std::size_t total = 0;
  for (std::size_t s = 0; s < stores_.size(); ++s) {
    // Each shard's most recent `limit` suffice: the merged most recent are among them.
    std::size_t in_shard = 0;
    auto rows = stores_[s]->find_audit(filter, matched != nullptr ? &in_shard : nullptr);
    if (!rows) {
      return named(rows.status(), s);
    }
    total += in_shard;
    if (stores_.size() == 1) {
      if (matched != nullptr) {
        *matched = total;
      }
      return rows;
    }
    std::move(rows->begin(), rows->end(), std::back_inserter(merged));
  }
  const std::size_t read = merged.size();
  const auto key = [](const StoredAudit& a) {
    return std::tie(a.time, a.received, a.audit_id, a.stage, a.cluster);
  };
  std::stable_sort(merged.begin(), merged.end(),
                   [&](const StoredAudit& a, const StoredAudit& b) { return key(a) < key(b); });
  merged.erase(
      std::unique(merged.begin(), merged.end(),
                  [&](const StoredAudit& a, const StoredAudit& b) { return key(a) == key(b); }),
      merged.end());
  if (matched != nullptr) {
    *matched = total - (read - merged.size());
  }
  keep_last(&merged, filter.limit);
  return merged;
}

Result<std::vector<KubeEvent>> ShardSet::find_kube_events(const KubeEventFilter& filter) {
  std::map<std::pair<std::string, std::string>, KubeEvent> by_uid;  // (cluster, uid)
  for (std::size_t s = 0; s < stores_.size(); ++s) {
    // A stale version ranks below its newer one, so per-shard limits still suffice.
    auto rows = stores_[s]->find_kube_events(filter);
    if (!rows) {
      return named(rows.status(), s);
    }
    if (stores_.size() == 1) {
      return rows;
    }
    for (KubeEvent& e : *rows) {
      auto [it, inserted] = by_uid.try_emplace({e.cluster, e.uid}, e);
      if (!inserted &&
          std::tie(e.last_time, e.count) > std::tie(it->second.last_time, it->second.count)) {
        it->second = std::move(e);
      }
    }
  }
  std::vector<KubeEvent> merged;
  merged.reserve(by_uid.size());
  for (auto& [uid, e] : by_uid) {
    merged.push_back(std::move(e));
  }
  std::sort(merged.begin(), merged.end(), [](const KubeEvent& a, const KubeEvent& b) {
    return std::tie(a.last_time, a.uid, a.cluster) < std::tie(b.last_time, b.uid, b.cluster);
  });
  keep_last(&merged, filter.limit);
  return merged;
}

Result<std::vector<Incident>> ShardSet::find_incidents(const IncidentFilter& filter) {
  if (stores_.size() == 1) {
    auto found = stores_[0]->find_incidents(filter);
    if (!found) {
      return named(found.status(), 0);
    }
    return found;
  }
  // The limit waits for the merge: a candidate may be filtered out once combined.
  IncidentFilter all = filter;
  all.limit = 0;
  std::vector<Incident> merged;
  KTRAIL_RETURN_IF_ERROR(each_incident(all, [&](const Incident& i) {
    merged.push_back(i);
    return Status::ok();
  }));
  keep_last(&merged, filter.limit);
  return merged;
}

Result<std::optional<Incident>> ShardSet::combine(const std::string& id,
                                                  std::map<std::size_t, Incident> found,
                                                  const IncidentFilter& filter) {
  // Candidates are incidents some shard's version matches. A combined incident that matches
  // has a version that matches (its end, node, actor come from one version, its objects are a
  // union), so no match is missed. Versions the filter did not match are part of it too.
  for (std::size_t s = 0; s < stores_.size(); ++s) {
    if (found.count(s) != 0) {
      continue;
    }
    auto other = stores_[s]->get_incident(id);
    if (other) {
      found.emplace(s, std::move(*other));
    } else if (other.status().code() != ErrorCode::kNotFound) {
      return named(other.status(), s);
    }
  }
  if (found.size() == 1) {
    return std::optional<Incident>(std::move(found.begin()->second));
  }
  std::vector<Incident> all;
  for (auto& [s, version] : found) {
    if (version.members.empty()) {  // found without members: reload with them
      auto full = stores_[s]->get_incident(id);
      if (!full) {
        return named(full.status(), s);
      }
      version = std::move(*full);
    }
    all.push_back(std::move(version));
  }
  Incident combined = merge_incident_versions(std::move(all));
  if (!incident_matches(combined, filter)) {
    return std::optional<Incident>();
  }
  if (!filter.with_members) {
    combined.members.clear();  // count keeps the distinct members
  }
  return std::optional<Incident>(std::move(combined));
}

namespace {

// One shard's incidents matching a filter, oldest first, read a page at a time.
class IncidentCursor {
 public:
  IncidentCursor(Store* store, const IncidentFilter& filter, std::size_t page_rows)
      : store_(store), filter_(filter) {
    filter_.limit = std::max<std::size_t>(page_rows, 1);
    filter_.oldest_first = true;
  }
  // The next incident (reading the next page when needed), or nullptr at the end.
  Result<Incident*> head() {
    if (at_ == page_.size() && !last_page_) {
      auto page = store_->find_incidents(filter_);
      if (!page) {
        return page.status();
      }
      page_ = std::move(*page);
      at_ = 0;
      last_page_ = page_.size() < filter_.limit;
      if (!page_.empty()) {
        filter_.after = std::make_pair(page_.back().start, page_.back().id);
      }
    }
    return at_ < page_.size() ? &page_[at_] : nullptr;
  }
  Incident take() { return std::move(page_[at_++]); }

 private:
  Store* store_;
  IncidentFilter filter_;
  std::vector<Incident> page_;
  std::size_t at_ = 0;
  bool last_page_ = false;
};

}  // namespace

Status ShardSet::each_incident(const IncidentFilter& filter,
                               const std::function<Status(const Incident&)>& each,
                               std::size_t page_rows) {
  if (filter.limit > 0) {
    auto found = find_incidents(filter);
    if (!found) {
      return found.status();
    }
    for (const Incident& i : *found) {
      KTRAIL_RETURN_IF_ERROR(each(i));
    }
    return Status::ok();
  }
  std::vector<IncidentCursor> cursors;
  for (Store* store : stores_) {
    cursors.emplace_back(store, filter, page_rows);
  }
  std::vector<Incident*> heads(cursors.size());
  for (;;) {
    Incident* least = nullptr;
    for (std::size_t s = 0; s < cursors.size(); ++s) {
      auto head = cursors[s].head();
      if (!head) {
        return named(head.status(), s);
      }
      heads[s] = *head;
      if (heads[s] != nullptr &&
          (least == nullptr ||
           std::tie(heads[s]->start, heads[s]->id) < std::tie(least->start, least->id))) {
        least = heads[s];
      }
    }
    if (least == nullptr) {
      return Status::ok();
    }
    const std::string id = least->id;
    const Micros start = least->start;
    std::map<std::size_t, Incident> found;
    for (std::size_t s = 0; s < cursors.size(); ++s) {
      if (heads[s] != nullptr && heads[s]->start == start && heads[s]->id == id) {
        found.emplace(s, cursors[s].take());
      }
    }
    if (stores_.size() == 1) {
      KTRAIL_RETURN_IF_ERROR(each(found.begin()->second));
      continue;
    }
    auto combined = combine(id, std::move(found), filter);
    if (!combined) {
      return combined.status();
    }
    if (*combined) {
      KTRAIL_RETURN_IF_ERROR(each(**combined));
    }
  }
}

Result<Incident> ShardSet::get_incident(const std::string& id) {
  std::vector<Incident> versions;
  for (std::size_t s = 0; s < stores_.size(); ++s) {
    auto found = stores_[s]->get_incident(id);
    if (found) {
      versions.push_back(std::move(*found));
    } else if (found.status().code() != ErrorCode::kNotFound) {
      return named(found.status(), s);
    }
  }
  if (versions.empty()) {
    return not_found("no incident " + id);
  }
  return merge_incident_versions(std::move(versions));
}

Result<std::vector<StoredAudit>> find_audit_in_shards(const std::vector<std::string>& paths,
                                                      const AuditFilter& filter,
                                                      const StoreOptions& options,
                                                      std::size_t* matched) {
  auto shards = ShardSet::open(paths, options);
  if (!shards) {
    return shards.status();
  }
  return shards->find_audit(filter, matched);
}

}  // namespace ktrail::app
