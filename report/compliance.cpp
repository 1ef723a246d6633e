#include "report/compliance.h"

#include <algorithm>
#include <deque>
#include <map>
#include <string_view>
#include <set>
#include <tuple>

#include "report/frameworks.h"
#include "storage/report_sections.h"
#include "storage/rollups.h"

namespace ktrail::report {
namespace {

using storage::kMicrosPerDay;
using storage::kMicrosPerMinute;
using storage::ReportSection;

struct SectionSpec {
  const char* key;
  const char* title;
  const char* about;
  int stored;  // storage::ReportSection, 0 when not from report_days
  // The row fields the section groups by, besides the acting identity.
  bool verb, resource, code, ips, detail;
  // Whether objects name the verb too (when rows are not split by verb).
  bool object_verb;
};

const std::vector<SectionSpec>& specs() {
  static const std::vector<SectionSpec> s = {
      {"secret-access", "Secret access",
       "get, list and watch of Secrets, by acting identity and verb",
       static_cast<int>(ReportSection::kSecretAccess), true, false, false, false, false, false},
      {"exec-attach-portforward", "Exec, attach and port-forward",
       "pods/exec, pods/attach and pods/portforward requests",
       static_cast<int>(ReportSection::kExecAttachPortforward), false, true, true, false, false,
       false},
      {"rbac-changes", "RBAC changes",
       "writes to Roles, RoleBindings, ClusterRoles and ClusterRoleBindings, with what changed "
       "where the event kept the object",
       static_cast<int>(ReportSection::kRbacChanges), true, true, true, false, true, false},
      {"privilege-escalation", "Privilege escalation",
       "bindings to cluster-admin, use of the system:masters group, impersonation, service "
       "account token requests and CSR approvals",
       static_cast<int>(ReportSection::kPrivilegeEscalation), false, false, false, false, true,
       true},
      {"privileged-pods", "Privileged pods",
       "pods and workloads written with privileged containers, host namespaces or hostPath "
       "volumes (seen only where the event kept the request object)",
       static_cast<int>(ReportSection::kPrivilegedPods), true, true, true, false, true, false},
      {"anonymous-requests", "Anonymous requests",
       "requests as system:anonymous or the system:unauthenticated group",
       static_cast<int>(ReportSection::kAnonymousRequests), false, false, true, true, false, true},
      {"denied-requests", "Denied requests", "401 and 403 answers, by identity and source IP",
       static_cast<int>(ReportSection::kDeniedRequests), false, false, true, true, false, true},
      {"impersonation", "Impersonation", "requests made as another user (impersonatedUser)",
       static_cast<int>(ReportSection::kImpersonation), false, false, false, false, false, true},
      {"node-maintenance", "Node maintenance",
       "cordons, drains and uncordons, with their actors (node-drain incidents)", 0, false, false,
       false, false, true, false},
      {"findings", "Detection findings", "findings of the detection rules, by rule and priority",
       0, false, false, false, false, true, false},
  };
  return s;
}

std::string object_of(const ReportDayRow& r, bool with_verb) {
  std::string out = with_verb ? r.verb + " " : "";
  out += r.resource.empty() ? "(non-resource request)" : r.resource;
  if (!r.subresource.empty()) {
    out += "/" + r.subresource;
  }
  if (!r.namespace_.empty()) {
    out += " " + r.namespace_ + (r.name.empty() ? "" : "/" + r.name);
  } else if (!r.name.empty()) {
    out += " " + r.name;
  }
  return out;
}

// Rows of one section from the day rows (already filtered to it), grouped as the spec says.
struct Accumulator {
  ReportRow row;
  std::set<std::string> objects;
  std::vector<const ReportDayRow*> parts;  // for --details
};

void sort_rows(std::vector<ReportRow>* rows) {
  std::stable_sort(rows->begin(), rows->end(), [](const ReportRow& a, const ReportRow& b) {
    return std::tie(b.count, a.user, a.impersonated_user, a.detail) <
           std::tie(a.count, b.user, b.impersonated_user, b.detail);
  });
}

// The audit IDs behind the day rows of `parts`, read back from the events (slow path, only
// with --details): each part's filter is exact on every stored column it kept.
Status collect_audit_ids(const std::vector<Store*>& stores, int section,
                         const std::vector<const ReportDayRow*>& parts, std::size_t max,
                         std::vector<std::string>* ids) {
  std::set<std::string> seen;
  for (const ReportDayRow* p : parts) {
    AuditFilter f;
    f.clusters = {p->cluster};
    f.user = p->user;
    f.verb = p->verb;
    f.resource = p->resource;
    f.subresource = p->subresource;
    f.namespace_ = p->namespace_;
    if (!p->name.empty()) {
      f.name = p->name;
    }
    if (p->code != 0) {
      f.code = p->code;
    }
    f.since = p->first;
    f.until = p->last;
    for (Store* store : stores) {
      auto rows = store->find_audit(f);
      if (!rows) {
        return rows.status();
      }
      for (const StoredAudit& a : *rows) {
        const bool counted = a.stage == Stage::kResponseComplete || a.stage == Stage::kPanic ||
                             (a.stage == Stage::kResponseStarted && a.code == 401);
        if (!counted || a.impersonated_user != p->impersonated_user) {
          continue;
        }
        if (section == static_cast<int>(ReportSection::kDeniedRequests) ||
            section == static_cast<int>(ReportSection::kAnonymousRequests)) {
          if (a.source_ips != p->source_ips) {
            continue;
          }
        }
        if (seen.insert(a.audit_id).second && ids->size() < max) {
          ids->push_back(a.audit_id);
        }
      }
    }
  }
  return Status::ok();
}

Status build_stored_sections(const std::vector<Store*>& stores, const ReportOptions& options,
                             const std::vector<ReportDayRow>& day_rows, ComplianceReport* out) {
  for (const SectionSpec& spec : specs()) {
    Section section;
    section.key = spec.key;
    section.title = spec.title;
    section.about = spec.about;
    section.controls = controls_of(options.framework, spec.key);
    for (auto [on, name] : {std::pair{spec.verb, "verb"}, std::pair{spec.resource, "resource"},
                            std::pair{spec.code, "code"}, std::pair{spec.ips, "sourceIPs"},
                            std::pair{spec.detail, "detail"}}) {
      if (on) {
        section.columns.emplace_back(name);
      }
    }
    if (spec.stored == 0) {
      out->sections.push_back(std::move(section));
      continue;
    }
    // Keyed by views into day_rows (which outlive the map) and, for rows with a subresource,
    // into the "resource/subresource" texts kept in `joined`: the key orders and groups as the
    // strings would, without copying them for every row.
    std::map<std::tuple<std::string_view, std::string_view, std::string_view, std::string_view,
                        int, std::string_view, std::string_view>,
             Accumulator>
        groups;
    std::deque<std::string> joined;  // "resource/subresource" texts the keys point into
    for (const ReportDayRow& r : day_rows) {
      if (r.section != spec.stored) {
        continue;
      }
      std::string_view resource;
      if (spec.resource) {
        if (r.subresource.empty()) {
          resource = r.resource;
        } else {
          joined.push_back(r.resource + "/" + r.subresource);
          resource = joined.back();
        }
      }
      auto key = std::make_tuple(std::string_view(r.user), std::string_view(r.impersonated_user),
                                 spec.verb ? std::string_view(r.verb) : std::string_view(),
                                 resource, spec.code ? r.code : 0,
                                 spec.ips ? std::string_view(r.source_ips) : std::string_view(),
                                 spec.detail ? std::string_view(r.detail) : std::string_view());
      auto [it, added] = groups.try_emplace(key);
      Accumulator& a = it->second;
      if (added) {
        a.row.user = std::get<0>(key);
        a.row.impersonated_user = std::get<1>(key);
        a.row.verb = std::get<2>(key);
        a.row.resource = std::get<3>(key);
        a.row.code = std::get<4>(key);
        a.row.source_ips = std::get<5>(key);
        a.row.detail = std::get<6>(key);
        a.row.first = r.first;
        a.row.last = r.last;
      }
      a.row.count += r.count;
      a.row.first = std::min(a.row.first, r.first);
      a.row.last = std::max(a.row.last, r.last);
      a.objects.insert(object_of(r, spec.object_verb));
      a.parts.push_back(&r);
      section.total += r.count;
      section.per_day[r.day] += r.count;
    }
    for (auto& [key, a] : groups) {
      a.row.objects_total = static_cast<std::int64_t>(a.objects.size());
      for (const std::string& o : a.objects) {
        if (a.row.objects.size() >= options.max_objects) {
          break;
        }
        a.row.objects.push_back(o);
      }
      if (options.details) {
        KTRAIL_RETURN_IF_ERROR(collect_audit_ids(stores, spec.stored, a.parts,
                                                 options.max_audit_ids, &a.row.audit_ids));
      }
      section.rows.push_back(std::move(a.row));
    }
    sort_rows(&section.rows);
    out->sections.push_back(std::move(section));
  }
  return Status::ok();
}

Status build_node_maintenance(const std::vector<Store*>& stores, const ReportOptions& options,
                              Section* section) {
  IncidentFilter f;
  f.clusters = options.clusters;
  f.kind = IncidentKind::kNodeDrain;
  f.since = options.since;
  f.until = options.until;
  f.with_members = true;
  std::set<std::string> seen;
  for (Store* store : stores) {
    auto incidents = store->find_incidents(f);
    if (!incidents) {
      return incidents.status();
    }
    for (const Incident& inc : *incidents) {
      if (!seen.insert(inc.id).second) {
        continue;
      }
      ReportRow row;
      row.user = inc.actor.empty() ? "(unknown: seen only in Events)" : inc.actor;
      row.first = inc.start;
      row.last = inc.end.value_or(inc.start);
      std::int64_t evictions = 0;
      for (const IncidentMember& m : inc.members) {
        if (m.source == MemberSource::kAudit) {
          row.audit_ids.push_back(m.ref);
        }
        if (m.reason.find("eviction") != std::string::npos) {
          ++evictions;
        }
        row.last = std::max(row.last, m.time);
      }
      if (!options.details) {
        row.audit_ids.clear();
      } else if (row.audit_ids.size() > options.max_audit_ids) {
        row.audit_ids.resize(options.max_audit_ids);
      }
      row.detail = "cordon at " + format_rfc3339(inc.start) + ", " + std::to_string(evictions) +
                   " eviction(s), " +
                   (inc.end ? "uncordon at " + format_rfc3339(*inc.end) : "still cordoned");
      row.objects = {"node " + inc.node};
      row.objects_total = 1;
      row.count = inc.count;
      section->total += 1;
      section->per_day[storage::day_of(inc.start)] += 1;
      section->rows.push_back(std::move(row));
    }
  }
  return Status::ok();
}

Status build_findings(const std::vector<Store*>& stores, const ReportOptions& options,
                      Section* section, std::vector<std::string>* warnings) {
  bool any_table = false;
  for (Store* store : stores) {
    auto groups = store->read_finding_groups(options.since, options.until, options.details,
                                             options.clusters);
    if (!groups) {
      return groups.status();
    }
    if (!groups->has_value()) {
      continue;
    }
    any_table = true;
    for (FindingGroup& g : **groups) {
      ReportRow row;
      row.user = g.user;
      row.impersonated_user = g.impersonated_user;
      row.detail = g.rule + " (" + g.priority + ")";
      row.count = g.count;
      row.first = g.first;
      row.last = g.last;
      row.objects_total = static_cast<std::int64_t>(g.objects.size());
      row.objects = std::move(g.objects);
      row.audit_ids = std::move(g.audit_ids);
      if (row.audit_ids.size() > options.max_audit_ids) {
        row.audit_ids.resize(options.max_audit_ids);
      }
      section->total += g.count;
      section->per_day[storage::day_of(g.first)] += g.count;
      section->rows.push_back(std::move(row));
    }
  }
  if (!any_table) {
    warnings->push_back(
        "findings: this store has no findings table (written by ktrail versions with detection "
        "rules); the section is empty, not clean");
  }
  sort_rows(&section->rows);
  return Status::ok();
}

Status build_coverage(const std::vector<Store*>& stores, const ReportOptions& options,
                      ComplianceReport* out) {
  Coverage& c = out->coverage;
  c.controls = controls_of(options.framework, "coverage");
  std::map<std::string, std::map<std::int64_t, std::int64_t>> minutes;  // source -> minute
  std::map<std::pair<std::string, std::string>, std::int64_t> counters;
  std::map<std::string, std::int64_t> dead;
  std::vector<CoverageData::Policy> policies;
  for (Store* store : stores) {
    auto data = store->read_coverage(options.since, options.until);
    if (!data) {
      return data.status();
    }
    if (data->rollups_since) {
      c.rollups_since = std::max(c.rollups_since.value_or(0), *data->rollups_since);
    }
    for (const auto& s : data->activity) {
      for (const auto& [minute, n] : s.minutes) {
        minutes[s.source][minute] += n;
      }
    }
    for (const auto& k : data->counters) {
      counters[{k.counter, k.source}] += k.count;
    }
    for (const auto& d : data->dead_letters) {
      dead[d.reason] += d.count;
    }
    for (auto& p : data->policies) {
      policies.push_back(std::move(p));
    }
  }
  const Micros end = std::min(options.until, options.now);
  for (const auto& [source, by_minute] : minutes) {
    Coverage::SourceActivity a;
    a.source = source;
    a.first = by_minute.begin()->first * kMicrosPerMinute;
    a.last = by_minute.rbegin()->first * kMicrosPerMinute + kMicrosPerMinute - 1;
    Micros previous_end = options.since;  // the period's start counts as "seen"
    for (const auto& [minute, n] : by_minute) {
      a.events += n;
      const Micros start = minute * kMicrosPerMinute;
      if (start - previous_end > options.gap_threshold) {
        c.gaps.push_back({source, previous_end, start});
      }
      previous_end = start + kMicrosPerMinute;
    }
    if (end - previous_end > options.gap_threshold) {
      c.gaps.push_back({source, previous_end, end});
    }
    c.sources.push_back(std::move(a));
  }
  for (const auto& [key, n] : counters) {
    c.counters.push_back({key.first, key.second, n});
  }
  for (const auto& [reason, n] : dead) {
    c.dead_letters.push_back({reason, n});
  }
  std::sort(policies.begin(), policies.end(),
            [](const auto& a, const auto& b) { return a.since < b.since; });
  // In force: the policies the period's events were stored under (counted per event day by the
  // writer), each with its first record.
  std::set<std::string> digests;
  const std::string prefix = "audit policy ";
  for (const auto& [key, n] : counters) {
    if (key.first.rfind(prefix, 0) == 0) {
      digests.insert(key.first.substr(prefix.size()));
    }
  }
  for (const auto& p : policies) {
    if (digests.erase(p.digest) > 0) {
      c.policies.push_back(p);
    }
  }

  if (minutes.empty()) {
    out->warnings.push_back("coverage: no audit events are recorded in the period; the report "
                            "cannot vouch for any of it");
  }
  for (const Gap& g : c.gaps) {
    out->warnings.push_back("coverage: no audit events from " + g.source + " between " +
                            format_rfc3339(g.from) + " and " + format_rfc3339(g.to) +
                            "; the report cannot vouch for that time");
  }
  if (c.rollups_since && *c.rollups_since > options.since) {
    out->warnings.push_back("coverage: events stored before " + format_rfc3339(*c.rollups_since) +
                            " (by a ktrail without report rollups) are not counted in the "
                            "sections or the coverage");
  }
  if (c.policies.empty()) {
    out->warnings.push_back(
        "coverage: no record of the audit policy the period's events were stored under (events "
        "written before ktrail recorded policies, or by a writer that did not)");
  }
  return Status::ok();
}

}  // namespace

Result<Framework> parse_framework(std::string_view text) {
  if (text == "pci-dss") {
    return Framework::kPciDss;
  }
  if (text == "soc2") {
    return Framework::kSoc2;
  }
  if (text == "none") {
    return Framework::kNone;
  }
  return invalid_argument("unknown framework '" + std::string(text) +
                          "' (choose pci-dss, soc2 or none)");
}

const char* to_string(Framework framework) {
  switch (framework) {
    case Framework::kPciDss:
      return "pci-dss";
    case Framework::kSoc2:
      return "soc2";
    case Framework::kNone:
      break;
  }
  return "none";
}

std::string acting_identity(const std::string& user, const std::string& impersonated) {
  return impersonated.empty() ? user : user + " (as " + impersonated + ")";
}

Result<ComplianceReport> build_compliance_report(const std::vector<Store*>& stores,
                                                 const ReportOptions& in) {
  if (in.until < in.since) {
    return invalid_argument("--until is before --since");
  }
  ReportOptions options = in;
  const std::int64_t first_day = storage::day_of(in.since);
  const std::int64_t last_day = storage::day_of(in.until);
  options.since = first_day * kMicrosPerDay;
  options.until = last_day * kMicrosPerDay + kMicrosPerDay - 1;
  ComplianceReport out;
  out.since = options.since;
  out.until = options.until;
  out.generated = options.now;
  out.framework = options.framework;
  out.details = options.details;

  std::vector<ReportDayRow> day_rows;
  for (Store* store : stores) {
    auto rows = store->read_report_days(first_day, last_day, options.clusters);
    if (!rows) {
      return rows.status();
    }
    std::move(rows->begin(), rows->end(), std::back_inserter(day_rows));
  }
  KTRAIL_RETURN_IF_ERROR(build_stored_sections(stores, options, day_rows, &out));
  for (Section& s : out.sections) {
    if (s.key == "node-maintenance") {
      KTRAIL_RETURN_IF_ERROR(build_node_maintenance(stores, options, &s));
    } else if (s.key == "findings") {
      KTRAIL_RETURN_IF_ERROR(build_findings(stores, options, &s, &out.warnings));
    }
  }
  KTRAIL_RETURN_IF_ERROR(build_coverage(stores, options, &out));

  std::map<std::string, std::int64_t> actors;
  for (const Section& s : out.sections) {
    if (s.key == "node-maintenance") {
      continue;  // counts incidents, not requests
    }
    for (const ReportRow& r : s.rows) {
      actors[acting_identity(r.user, r.impersonated_user)] += r.count;
    }
  }
  out.top_actors.assign(actors.begin(), actors.end());
  std::stable_sort(out.top_actors.begin(), out.top_actors.end(),
                   [](const auto& a, const auto& b) { return a.second > b.second; });
  if (out.top_actors.size() > 10) {
    out.top_actors.resize(10);
  }
  return out;
}

}  // namespace ktrail::report
