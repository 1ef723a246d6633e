// Several stores queried as one: the process role of Kafka mode writes one SQLite shard per
// member, and every query command takes several --db files, or directories of *.db files, and
// merges what each shard returns (docs/kafka.md, "Querying the shards").
//
// Merge rules, the same in every command:
// - rows come oldest first across shards, and a limit applies to the merged result (the most
//   recent rows), never per shard;
// - an audit event (same auditID, stage and timestamps) or a Kubernetes Event (same uid) found
//   in two shards is shown once; of an Event the version with the latest observation is kept;
// - an incident found in two shards (its partition moved mid-episode) is shown once, combined
//   as app/incident_merge.h says, and filters apply to the combined incident.
// One shard is read exactly as the store answers. A shard that cannot be opened (missing, not
// a store, a schema this ktrail does not know) is an error naming the file: a partial answer
// would look complete.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/status.h"
#include "storage/store.h"

namespace ktrail::app {

// Expands --db values: a directory stands for its *.db files (sorted); a file stays itself.
// Duplicates are removed. An empty directory, an empty list, or a file in a directory that
// does not exist (named in the error) is an error.
Result<std::vector<std::string>> expand_db_paths(const std::vector<std::string>& values);

// A store file to write may be created, but its directory must exist: an error naming the
// missing directory (SQLite would only say "unable to open database file").
Status check_store_directory(const std::string& path);

class ShardSet {
 public:
  // Opens every path with `options` (read-only for queries).
  static Result<ShardSet> open(const std::vector<std::string>& paths, const StoreOptions& options);
  // Uses stores opened elsewhere; they must outlive the set.
  static ShardSet of(const std::vector<Store*>& stores);

  // `matched` (optional): how many events matched in all, before the limit. Across shards it is
  // the sum of each shard's count less the copies found among the rows read, so an event held
  // by two shards and cut by the limit on both counts twice.
  Result<std::vector<StoredAudit>> find_audit(const AuditFilter& filter,
                                              std::size_t* matched = nullptr);
  Result<std::vector<KubeEvent>> find_kube_events(const KubeEventFilter& filter);
  Result<std::vector<Incident>> find_incidents(const IncidentFilter& filter);
  // The incidents of find_incidents, in its order, handed to `each` one at a time. With limit
  // 0 each shard is read `page_rows` at a time and the shards are merged by (start, id) as they
  // are read (the versions of one incident share its start, so they meet at the heads of the
  // shards), so memory holds a page per shard, not the answer. With a limit, the answer (at most
  // `limit` incidents) is read first. Each page is its own read snapshot. An error from `each`
  // stops the read and is returned.
  Status each_incident(const IncidentFilter& filter,
                       const std::function<Status(const Incident&)>& each,
                       std::size_t page_rows = 512);
  // The incident combined from every shard that has it; kNotFound when none has.
  Result<Incident> get_incident(const std::string& id);

  std::size_t size() const { return stores_.size(); }
  const std::vector<Store*>& stores() const { return stores_; }

 private:
  ShardSet() = default;
  Status named(const Status& status, std::size_t shard) const;
  // The incident `id` from the versions `found` (by shard) and those of the other shards, as
  // the merge rules say; nullopt when the combined incident does not pass `filter`.
  Result<std::optional<Incident>> combine(const std::string& id,
                                          std::map<std::size_t, Incident> found,
                                          const IncidentFilter& filter);

  std::vector<std::unique_ptr<Store>> owned_;
  std::vector<Store*> stores_;
};

// `ktrail query audit` over several shards (ShardSet::open + find_audit).
Result<std::vector<StoredAudit>> find_audit_in_shards(const std::vector<std::string>& paths,
                                                      const AuditFilter& filter,
                                                      const StoreOptions& options,
                                                      std::size_t* matched = nullptr);

}  // namespace ktrail::app
