// The reads behind compliance reports (storage/report_data.h) and the policy record.
#include <algorithm>
#include <map>
#include <unordered_map>

#include "storage/clusters.h"
#include "storage/rollups.h"
#include "storage/store_impl.h"

namespace ktrail {
namespace {

// The rows' ids are resolved in C++ (DictStrings) rather than by joins: a period's rows repeat
// a few thousand ids, so each is read from dict once instead of eight lookups per row.
constexpr const char* kReportDays = R"sql(
SELECT day, section, user_id, imp_user_id, verb_id, resource_id, subresource_id, ns_id, name_id,
  code, ips_id, detail, count, first_ts, last_ts, cluster
FROM report_days WHERE day BETWEEN ?1 AND ?2)sql";

// Dictionary strings by id, each read once; id 0 and ids dict does not hold are "".
class DictStrings {
 public:
  explicit DictStrings(const sqlite::Db& db) : db_(db) {}
  Result<const std::string*> get(std::int64_t id) {
    static const std::string kNone;
    if (id == 0) {
      return &kNone;
    }
    auto found = cache_.find(id);
    if (found != cache_.end()) {
      return &found->second;
    }
    if (lookup_.get() == nullptr) {
      auto st = sqlite::Stmt::prepare(db_, "SELECT value FROM dict WHERE id = ?1");
      if (!st) {
        return st.status();
      }
      lookup_ = std::move(*st);
    }
    lookup_.bind(1, id);
    const int rc = lookup_.step();
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
      lookup_.reset();
      return db_.error("read the dictionary");
    }
    std::string value = rc == SQLITE_ROW ? std::string(lookup_.column_text(0)) : std::string();
    lookup_.reset();
    return &cache_.emplace(id, std::move(value)).first->second;
  }

 private:
  const sqlite::Db& db_;
  sqlite::Stmt lookup_;
  std::unordered_map<std::int64_t, std::string> cache_;
};

std::string text_of(const sqlite::Stmt& st, int i) { return std::string(st.column_text(i)); }

}  // namespace

Result<std::vector<ReportDayRow>> Store::read_report_days(
    std::int64_t first_day, std::int64_t last_day, const std::vector<std::string>& clusters) {
  Impl& s = *impl_;
  sqlite::ReadSnapshot snapshot(s.db);
  KTRAIL_RETURN_IF_ERROR(snapshot.status());
  auto names = storage::cluster_names(s.db);
  if (!names) {
    return names.status();
  }
  std::string sql = kReportDays;
  if (!clusters.empty()) {
    auto ids = storage::cluster_ids(s.db, clusters);
    if (!ids) {
      return ids.status();
    }
    if (ids->empty()) {
      return std::vector<ReportDayRow>{};
    }
    sql += " AND " + storage::cluster_condition(*ids, "");
  }
  auto st = sqlite::Stmt::prepare(s.db, sql);
  if (!st) {
    return st.status();
  }
  st->bind(1, first_day);
  st->bind(2, last_day);
  std::vector<ReportDayRow> rows;
  DictStrings dict(s.db);
  int rc;
  while ((rc = st->step()) == SQLITE_ROW) {
    ReportDayRow r;
    r.day = st->column_int(0);
    r.section = static_cast<int>(st->column_int(1));
    for (auto [column, field] : {std::pair{2, &r.user}, std::pair{3, &r.impersonated_user},
                                 std::pair{4, &r.verb}, std::pair{5, &r.resource},
                                 std::pair{6, &r.subresource}, std::pair{7, &r.namespace_},
                                 std::pair{8, &r.name}, std::pair{10, &r.source_ips}}) {
      auto value = dict.get(st->column_int(column));
      if (!value) {
        return value.status();
      }
      *field = **value;
    }
    r.code = static_cast<int>(st->column_int(9));
    r.detail = text_of(*st, 11);
    r.count = st->column_int(12);
    r.first = st->column_int(13);
    r.last = st->column_int(14);
    r.cluster = storage::cluster_name_of(*names, st->column_int(15));
    rows.push_back(std::move(r));
  }
  if (rc != SQLITE_DONE) {
    return s.db.error("read report rollups");
  }
  return rows;
}

Result<CoverageData> Store::read_coverage(Micros since, Micros until) {
  Impl& s = *impl_;
  sqlite::ReadSnapshot snapshot(s.db);
  KTRAIL_RETURN_IF_ERROR(snapshot.status());
  CoverageData c;
  auto run = [&](const char* sql, auto bind, auto row) -> Status {
    auto st = sqlite::Stmt::prepare(s.db, sql);
    if (!st) {
      return st.status();
    }
    bind(*st);
    int rc;
    while ((rc = st->step()) == SQLITE_ROW) {
      row(*st);
    }
    return rc == SQLITE_DONE ? Status::ok() : s.db.error("read coverage");
  };
  auto none = [](sqlite::Stmt&) {};
  KTRAIL_RETURN_IF_ERROR(run("SELECT value FROM store_meta WHERE key = 'rollups_since' AND value IS NOT NULL", none,
                             [&](sqlite::Stmt& st) { c.rollups_since = st.column_int(0); }));
  const std::int64_t first_minute = since / storage::kMicrosPerMinute;
  const std::int64_t last_minute = until / storage::kMicrosPerMinute;
  std::map<std::string, std::size_t> by_source;
  KTRAIL_RETURN_IF_ERROR(run(
      "SELECT d.value, m.minute, m.count FROM audit_minutes m JOIN dict d ON d.id = m.source_id "
      "WHERE m.minute BETWEEN ?1 AND ?2 ORDER BY m.source_id, m.minute",
      [&](sqlite::Stmt& st) {
        st.bind(1, first_minute);
        st.bind(2, last_minute);
      },
      [&](sqlite::Stmt& st) {
        const std::string source = text_of(st, 0);
        auto [it, added] = by_source.try_emplace(source, c.activity.size());
        if (added) {
          c.activity.push_back({source, {}});
        }
        c.activity[it->second].minutes.emplace_back(st.column_int(1), st.column_int(2));
      }));
  KTRAIL_RETURN_IF_ERROR(run(
      "SELECT c.day, coalesce(d.value, ''), c.counter, c.count FROM coverage_days c "
      "LEFT JOIN dict d ON d.id = c.source_id WHERE c.day BETWEEN ?1 AND ?2 "
      "ORDER BY c.day, 2, c.counter",
      [&](sqlite::Stmt& st) {
        st.bind(1, storage::day_of(since));
        st.bind(2, storage::day_of(until));
      },
      [&](sqlite::Stmt& st) {
        c.counters.push_back(
            {st.column_int(0), text_of(st, 1), text_of(st, 2), st.column_int(3)});
      }));
  KTRAIL_RETURN_IF_ERROR(run(
      "SELECT since, source, digest, policy FROM policy_history ORDER BY since, id", none,
      [&](sqlite::Stmt& st) {
        c.policies.push_back({st.column_int(0), text_of(st, 1), text_of(st, 2), text_of(st, 3)});
      }));
  KTRAIL_RETURN_IF_ERROR(run(
      "SELECT reason, count(*) FROM dead_letters WHERE received BETWEEN ?1 AND ?2 "
      "GROUP BY reason ORDER BY 2 DESC, 1 LIMIT 50",
      [&](sqlite::Stmt& st) {
        st.bind(1, since);
        st.bind(2, until);
      },
      [&](sqlite::Stmt& st) { c.dead_letters.push_back({text_of(st, 0), st.column_int(1)}); }));
  return c;
}

Result<std::optional<std::vector<FindingGroup>>> Store::read_finding_groups(
    Micros since, Micros until, bool with_audit_ids, const std::vector<std::string>& clusters) {
  Impl& s = *impl_;
  sqlite::ReadSnapshot snapshot(s.db);
  KTRAIL_RETURN_IF_ERROR(snapshot.status());
  auto exists = sqlite::query_int(
      s.db, "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'findings'");
  if (!exists) {
    return exists.status();
  }
  if (*exists == 0) {
    return std::optional<std::vector<FindingGroup>>();
  }
  std::string in_clusters;
  if (!clusters.empty()) {
    auto ids = storage::cluster_ids(s.db, clusters);
    if (!ids) {
      return ids.status();
    }
    if (ids->empty()) {
      return std::optional<std::vector<FindingGroup>>(std::vector<FindingGroup>{});
    }
    in_clusters = " AND " + storage::cluster_condition(*ids, "");
  }
  auto st = sqlite::Stmt::prepare(
      s.db,
      "SELECT rule, priority, coalesce(user, ''), coalesce(impersonated_user, ''), time, "
      "coalesce(namespace, ''), coalesce(resource, ''), coalesce(name, ''), audit_id "
      "FROM findings WHERE time BETWEEN ?1 AND ?2" + in_clusters + " ORDER BY time");
  if (!st) {
    return st.status();
  }
  st->bind(1, since);
  st->bind(2, until);
  std::vector<FindingGroup> groups;
  std::map<std::tuple<std::string, std::string, std::string, std::string>, std::size_t> index;
  int rc;
  while ((rc = st->step()) == SQLITE_ROW) {
    auto key = std::make_tuple(text_of(*st, 0), text_of(*st, 1), text_of(*st, 2), text_of(*st, 3));
    auto [it, added] = index.try_emplace(key, groups.size());
    if (added) {
      FindingGroup g;
      std::tie(g.rule, g.priority, g.user, g.impersonated_user) = key;
      g.first = st->column_int(4);
      groups.push_back(std::move(g));
    }
    FindingGroup& g = groups[it->second];
    ++g.count;
    g.last = st->column_int(4);
    std::string object = text_of(*st, 5) + "/" + text_of(*st, 6) + "/" + text_of(*st, 7);
    if (object != "//" && g.objects.size() < 20 &&
        std::find(g.objects.begin(), g.objects.end(), object) == g.objects.end()) {
      g.objects.push_back(std::move(object));
    }
    if (with_audit_ids) {
      g.audit_ids.push_back(text_of(*st, 8));
    }
  }
  if (rc != SQLITE_DONE) {
    return s.db.error("read findings");
  }
  return std::optional<std::vector<FindingGroup>>(std::move(groups));
}

Status Store::record_policy(const std::string& source, const std::string& digest,
                            const std::string& text, Micros now) {
  Impl& s = *impl_;
  KTRAIL_RETURN_IF_ERROR(s.db.exec("BEGIN IMMEDIATE"));
  // The statements live inside this lambda, so they are finalized before COMMIT.
  auto record = [&]() -> Status {
    auto last = sqlite::Stmt::prepare(
        s.db,
        "SELECT digest FROM policy_history WHERE source = ?1 ORDER BY since DESC, id DESC LIMIT 1");
    if (!last) {
      return last.status();
    }
    last->bind(1, std::string_view(source));
    const int rc = last->step();
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
      return s.db.error("read the policy history");
    }
    if (rc == SQLITE_ROW && last->column_text(0) == digest) {
      return Status::ok();
    }
    auto insert = sqlite::Stmt::prepare(
        s.db, "INSERT INTO policy_history(since, source, digest, policy) VALUES (?1, ?2, ?3, ?4)");
    if (!insert) {
      return insert.status();
    }
    insert->bind(1, now);
    insert->bind(2, std::string_view(source));
    insert->bind(3, std::string_view(digest));
    insert->bind(4, std::string_view(text));
    return insert->step() == SQLITE_DONE ? Status::ok() : s.db.error("record the audit policy");
  };
  const Status status = record();
  if (status.is_ok()) {
    s.rollups.set_policy(digest);
  }
  if (!status.is_ok()) {
    (void)s.db.exec("ROLLBACK");
    return status;
  }
  return s.db.exec("COMMIT");
}

}  // namespace ktrail
