#include "app/finding_rows.h"

#include <algorithm>

namespace ktrail::app {

Status merge_findings_into_timeline(const std::vector<std::string>& paths,
                                    const AuditFilter& filter, std::size_t limit,
                                    std::vector<query::TimelineRow>* rows) {
  FindingFilter f;
  f.clusters = filter.clusters;
  f.since = filter.since;
  f.until = filter.until;
  f.user = filter.user;
  f.namespace_ = filter.namespace_;
  f.limit = limit;
  StoreOptions options;
  options.read_only = true;
  options.cache_mib = 8;
  const std::size_t before = rows->size();
  for (const auto& path : paths) {
    auto store = Store::open(path, options);
    if (!store) {
      return store.status();
    }
    auto found = (*store)->find_findings(f);
    if (!found) {
      return found.status();
    }
    for (const auto& x : *found) {
      // The object filters of the timeline (--node, --pod) name a resource and an object.
      if ((filter.resource && x.resource.rfind(*filter.resource, 0) != 0) ||
          (filter.name && x.name != *filter.name)) {
        continue;
      }
      std::string object = x.resource;
      if (!x.name.empty()) {
        object += "/" + x.name;
      }
      std::string user = x.user;
      if (!x.impersonated_user.empty()) {
        user += " (as " + x.impersonated_user + ")";
      }
      rows->push_back({x.time, "finding", x.rule, object, user, x.namespace_,
                       "[" + x.priority + "] " + x.output,
                       "finding " + std::to_string(x.id) + " of " + x.audit_id, "", 0, "", "",
                       x.cluster, std::to_string(x.id)});
    }
  }
  if (rows->size() == before) {
    return Status::ok();
  }
  // Rows at the same time keep their order; findings come after what was there.
  std::stable_sort(rows->begin(), rows->end(),
                   [](const query::TimelineRow& a, const query::TimelineRow& b) {
                     return a.time < b.time;
                   });
  if (limit > 0 && rows->size() > limit) {
    rows->erase(rows->begin(), rows->end() - static_cast<std::ptrdiff_t>(limit));
  }
  return Status::ok();
}

}  // namespace ktrail::app
