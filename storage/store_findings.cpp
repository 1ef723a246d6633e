// Findings in the store: inserts inside write_batch's transaction (idempotent on rule, auditID
// and stage), and the reads behind `ktrail findings`, timelines and reports.
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>

#include "core/json.h"
#include "storage/clusters.h"
#include "storage/store_impl.h"

namespace ktrail {
namespace {

constexpr const char* kFindingColumns =
    "id, rule, priority, audit_id, stage, time, user, impersonated_user, namespace, resource, "
    "name, output, tags, cluster";

void bind_text_or_null(sqlite::Stmt& stmt, int i, std::string_view text) {
  if (text.empty()) {
    stmt.bind_null(i);
  } else {
    stmt.bind(i, text);
  }
}

std::string tags_json(const std::vector<std::string>& tags) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
  writer.StartArray();
  for (const auto& tag : tags) {
    writer.String(tag.data(), static_cast<rapidjson::SizeType>(tag.size()));
  }
  writer.EndArray();
  return buffer.GetString();
}

std::vector<std::string> tags_of(std::string_view text) {
  std::vector<std::string> out;
  rapidjson::Document doc;
  if (!json::parse(text, &doc).is_ok() || !doc.IsArray()) {
    return out;
  }
  for (const auto& item : doc.GetArray()) {
    if (item.IsString()) {
      out.emplace_back(item.GetString(), item.GetStringLength());
    }
  }
  return out;
}

// `clusters`: id -> name (storage/clusters.h), to name the row's cluster.
Finding read_finding(const sqlite::Stmt& st,
                     const std::unordered_map<std::int64_t, std::string>& clusters) {
  Finding f;
  f.id = st.column_int(0);
  f.rule = st.column_text(1);
  f.priority = st.column_text(2);
  f.audit_id = st.column_text(3);
  f.stage = parse_stage(st.column_text(4)).value_or(Stage::kResponseComplete);
  f.time = st.column_int(5);
  f.user = st.column_text(6);
  f.impersonated_user = st.column_text(7);
  f.namespace_ = st.column_text(8);
  f.resource = st.column_text(9);
  f.name = st.column_text(10);
  f.output = st.column_text(11);
  f.tags = tags_of(st.column_text(12));
  f.cluster = storage::cluster_name_of(clusters, st.column_int(13));
  return f;
}

}  // namespace

Status Store::Impl::write_finding(const Finding& f) {
  sqlite::Stmt& st = insert_finding;
  const std::string tags = tags_json(f.tags);
  int rank = priority_rank(f.priority);
  st.bind(1, std::string_view(f.rule));
  st.bind(2, std::string_view(rank >= 0 ? priority_name(rank) : f.priority.c_str()));
  st.bind(3, std::int64_t{rank >= 0 ? rank : 7});
  st.bind(4, std::string_view(f.audit_id));
  st.bind(5, std::string_view(to_string(f.stage)));
  st.bind(6, f.time);
  bind_text_or_null(st, 7, f.user);
  bind_text_or_null(st, 8, f.impersonated_user);
  bind_text_or_null(st, 9, f.namespace_);
  bind_text_or_null(st, 10, f.resource);
  bind_text_or_null(st, 11, f.name);
  st.bind(12, std::string_view(f.output));
  st.bind(13, std::string_view(tags));
  st.bind(14, cluster_id);  // the batch's: a finding is about one of its audit events
  const int rc = st.step();
  st.reset();
  if (rc != SQLITE_DONE) {
    return db.error("finding insert");
  }
  return Status::ok();
}

Result<std::vector<Finding>> Store::find_findings(const FindingFilter& f) {
  std::vector<Finding> out;
  KTRAIL_RETURN_IF_ERROR(each_finding(f, [&](const Finding& finding) {
    out.push_back(finding);
    return Status::ok();
  }));
  return out;
}

Status Store::each_finding(const FindingFilter& f,
                           const std::function<Status(const Finding&)>& each) {
  Impl& s = *impl_;
  std::string sql = std::string("SELECT ") + kFindingColumns + " FROM findings";
  std::vector<std::string> where;
  std::vector<std::pair<int, std::string>> texts;
  std::vector<std::pair<int, std::int64_t>> ints;
  int index = 0;
  auto text = [&](const std::string& cond, const std::string& value) {
    where.push_back(cond + " ?" + std::to_string(++index));
    texts.push_back({index, value});
  };
  auto integer = [&](const std::string& cond, std::int64_t value) {
    where.push_back(cond + " ?" + std::to_string(++index));
    ints.push_back({index, value});
  };
  auto names = storage::cluster_names(s.db);
  if (!names) {
    return names.status();
  }
  if (!f.clusters.empty()) {
    auto ids = storage::cluster_ids(s.db, f.clusters);
    if (!ids) {
      return ids.status();
    }
    if (ids->empty()) {
      return Status::ok();  // a cluster the store never held: nothing
    }
    where.push_back(storage::cluster_condition(*ids, ""));
  }
  if (f.rule) {
    text("rule =", *f.rule);
  }
  if (f.max_severity) {
    integer("severity <=", *f.max_severity);
  }
  if (f.user) {
    const int i = ++index;
    where.push_back("(user = ?" + std::to_string(i) + " OR impersonated_user = ?" +
                    std::to_string(i) + ")");
    texts.push_back({i, *f.user});
  }
  if (f.namespace_) {
    text("namespace =", *f.namespace_);
  }
  if (f.audit_id) {
    text("audit_id =", *f.audit_id);
  }
  if (f.since) {
    integer("time >=", *f.since);
  }
  if (f.until) {
    integer("time <=", *f.until);
  }
  for (std::size_t i = 0; i < where.size(); ++i) {
    sql += (i == 0 ? " WHERE " : " AND ") + where[i];
  }
  // The most recent `limit`, handed over oldest first.
  if (f.limit > 0) {
    sql = "SELECT * FROM (" + sql + " ORDER BY time DESC, id DESC LIMIT " +
          std::to_string(f.limit) + ") ORDER BY time, id";
  } else {
    sql += " ORDER BY time, id";
  }
  auto stmt = sqlite::Stmt::prepare(s.db, sql);
  if (!stmt) {
    return stmt.status();
  }
  for (const auto& [i, v] : texts) {
    stmt->bind(i, std::string_view(v));
  }
  for (const auto& [i, v] : ints) {
    stmt->bind(i, v);
  }
  int rc;
  while ((rc = stmt->step()) == SQLITE_ROW) {
    KTRAIL_RETURN_IF_ERROR(each(read_finding(*stmt, *names)));
  }
  if (rc != SQLITE_DONE) {
    return s.db.error("finding search");
  }
  return Status::ok();
}

Result<Finding> Store::get_finding(std::int64_t id) {
  Impl& s = *impl_;
  auto stmt = sqlite::Stmt::prepare(
      s.db, std::string("SELECT ") + kFindingColumns + " FROM findings WHERE id = ?1");
  if (!stmt) {
    return stmt.status();
  }
  stmt->bind(1, id);
  const int rc = stmt->step();
  if (rc == SQLITE_DONE) {
    return not_found("no finding " + std::to_string(id));
  }
  if (rc != SQLITE_ROW) {
    return s.db.error("finding lookup");
  }
  auto names = storage::cluster_names(s.db);
  if (!names) {
    return names.status();
  }
  return read_finding(*stmt, *names);
}

}  // namespace ktrail
