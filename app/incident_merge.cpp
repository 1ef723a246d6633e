#include "app/incident_merge.h"

#include <algorithm>
#include <map>
#include <set>
#include <tuple>

namespace ktrail::app {

Micros latest_activity(const Incident& incident) {
  Micros latest = incident.start;
  if (incident.end) {
    latest = std::max(latest, *incident.end);
  }
  for (const IncidentMember& m : incident.members) {
    latest = std::max(latest, m.time);
  }
  return latest;
}

namespace {

std::vector<std::string> sorted_union(const std::vector<Incident>& versions,
                                      std::vector<std::string> Incident::*field) {
  std::set<std::string> all;
  for (const Incident& v : versions) {
    all.insert((v.*field).begin(), (v.*field).end());
  }
  return {all.begin(), all.end()};
}

// The union in order of appearance, oldest version first: a later version that continued an
// earlier one holds the earlier list as its prefix, so the order stays the correlator's.
std::vector<std::string> ordered_union(std::vector<const Incident*> versions,
                                       std::vector<std::string> Incident::*field) {
  std::stable_sort(versions.begin(), versions.end(), [](const Incident* a, const Incident* b) {
    return latest_activity(*a) < latest_activity(*b);
  });
  std::vector<std::string> out;
  std::set<std::string> seen;
  for (const Incident* v : versions) {
    for (const std::string& item : v->*field) {
      if (seen.insert(item).second) {
        out.push_back(item);
      }
    }
  }
  return out;
}

}  // namespace

Incident merge_incident_versions(std::vector<Incident> versions) {
  if (versions.size() == 1) {
    return std::move(versions.front());
  }
  // Most recent: latest activity, then closed over open, then more members.
  const auto rank = [](const Incident& i) {
    return std::make_tuple(latest_activity(i), !i.open(), i.members.size());
  };
  std::size_t newest = 0;
  for (std::size_t i = 1; i < versions.size(); ++i) {
    if (rank(versions[i]) > rank(versions[newest])) {
      newest = i;
    }
  }
  Incident merged = versions[newest];
  for (const Incident& v : versions) {
    merged.start = std::min(merged.start, v.start);
  }
  if (!merged.open()) {
    for (const Incident& v : versions) {
      if (v.end && *v.end > *merged.end) {
        merged.end = v.end;
      }
    }
  }
  merged.objects = sorted_union(versions, &Incident::objects);
  std::vector<const Incident*> all;
  for (const Incident& v : versions) {
    all.push_back(&v);
  }
  merged.replacements = ordered_union(all, &Incident::replacements);
  std::map<std::string, IncidentMember> by_ref;
  for (Incident& v : versions) {
    for (IncidentMember& m : v.members) {
      auto [it, inserted] = by_ref.try_emplace(m.ref, m);
      if (!inserted && m.time > it->second.time) {
        it->second = std::move(m);
      }
    }
  }
  merged.members.clear();
  merged.members.reserve(by_ref.size());
  for (auto& [ref, m] : by_ref) {
    merged.members.push_back(std::move(m));
  }
  std::sort(merged.members.begin(), merged.members.end(),
            [](const IncidentMember& a, const IncidentMember& b) {
              return std::tie(a.time, a.ref) < std::tie(b.time, b.ref);
            });
  merged.count = static_cast<std::int64_t>(merged.members.size());
  for (const Incident& v : versions) {
    merged.count = std::max(merged.count, v.count);  // a restart storm counts restarts
  }
  return merged;
}

bool incident_matches(const Incident& i, const IncidentFilter& f) {
  if (f.kind && i.kind != *f.kind) {
    return false;
  }
  if (f.open_only && !i.open()) {
    return false;
  }
  if (f.since && i.end && *i.end < *f.since) {
    return false;
  }
  if (f.until && i.start > *f.until) {
    return false;
  }
  if (f.node && i.node != *f.node) {
    return false;
  }
  if (f.actor && i.actor != *f.actor) {
    return false;
  }
  if (f.namespace_) {
    const std::string prefix = *f.namespace_ + "/";
    const bool touches = std::any_of(i.objects.begin(), i.objects.end(), [&](const auto& o) {
      return o.compare(0, prefix.size(), prefix) == 0;
    });
    if (i.namespace_ != *f.namespace_ && !touches) {
      return false;
    }
  }
  if (f.pod) {
    const bool qualified = f.pod->find('/') != std::string::npos;
    const bool found = std::any_of(i.objects.begin(), i.objects.end(), [&](const auto& o) {
      if (qualified) {
        return o == *f.pod;
      }
      const auto slash = o.find('/');
      return (slash == std::string::npos ? o : o.substr(slash + 1)) == *f.pod;
    });
    if (!found) {
      return false;
    }
  }
  return true;
}

}  // namespace ktrail::app
