// Incidents in the store: upserts from correlation (inside write_batch's transaction), and the
// reads behind `ktrail incidents` and the incident rows of `ktrail query timeline`.
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>

#include "core/json.h"
#include "storage/span_class.h"
#include "storage/clusters.h"
#include "storage/store_impl.h"

namespace ktrail {
namespace {

constexpr const char* kUpsertIncident = R"sql(
INSERT INTO incidents(id, kind, key, title, start_time, end_time, node, namespace, workload,
  workload_kind, actor, cause, objects, replacements, count, cluster)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)
ON CONFLICT(id) DO UPDATE SET
  title = excluded.title, end_time = excluded.end_time, node = excluded.node,
  namespace = excluded.namespace, workload = excluded.workload,
  workload_kind = excluded.workload_kind, actor = excluded.actor, cause = excluded.cause,
  objects = excluded.objects, replacements = excluded.replacements,
  count = max(incidents.count, excluded.count))sql";

// A member seen again (an Event updated in place) keeps its latest time and message.
constexpr const char* kUpsertMember = R"sql(
INSERT INTO incident_members(incident_id, ref, source, time, reason, object, message)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
ON CONFLICT(incident_id, ref) DO UPDATE SET
  time = max(incident_members.time, excluded.time), message = excluded.message)sql";

constexpr const char* kIncidentColumns =
    "id, kind, key, title, start_time, end_time, node, namespace, workload, workload_kind, "
    "actor, cause, objects, replacements, count, cluster";

void bind_text_or_null(sqlite::Stmt& stmt, int i, std::string_view text) {
  if (text.empty()) {
    stmt.bind_null(i);
  } else {
    stmt.bind(i, text);
  }
}

std::string to_json_array(const std::vector<std::string>& items) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
  writer.StartArray();
  for (const auto& item : items) {
    writer.String(item.data(), static_cast<rapidjson::SizeType>(item.size()));
  }
  writer.EndArray();
  return buffer.GetString();
}

std::vector<std::string> from_json_array(std::string_view text) {
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
Incident read_incident(const sqlite::Stmt& stmt,
                       const std::unordered_map<std::int64_t, std::string>& clusters) {
  Incident i;
  i.id = stmt.column_text(0);
  i.kind = parse_incident_kind(stmt.column_text(1)).value_or(IncidentKind::kNodeNotReady);
  i.key = stmt.column_text(2);
  i.title = stmt.column_text(3);
  i.start = stmt.column_int(4);
  if (!stmt.column_null(5)) {
    i.end = stmt.column_int(5);
  }
  i.node = stmt.column_text(6);
  i.namespace_ = stmt.column_text(7);
  i.workload = stmt.column_text(8);
  i.workload_kind = stmt.column_text(9);
  i.actor = stmt.column_text(10);
  i.cause = stmt.column_text(11);
  i.objects = from_json_array(stmt.column_text(12));
  i.replacements = from_json_array(stmt.column_text(13));
  i.count = stmt.column_int(14);
  i.cluster = storage::cluster_name_of(clusters, stmt.column_int(15));
  return i;
}

Status load_members(const sqlite::Db& db, Incident* incident) {
  auto stmt = sqlite::Stmt::prepare(
      db,
      "SELECT time, source, ref, reason, object, message FROM incident_members "
      "WHERE incident_id = ?1 ORDER BY time, ref");
  if (!stmt) {
    return stmt.status();
  }
  stmt->bind(1, std::string_view(incident->id));
  int rc;
  while ((rc = stmt->step()) == SQLITE_ROW) {
    IncidentMember m;
    m.time = stmt->column_int(0);
    m.source = stmt->column_text(1) == "audit" ? MemberSource::kAudit : MemberSource::kEvent;
    m.ref = stmt->column_text(2);
    m.reason = stmt->column_text(3);
    m.object = stmt->column_text(4);
    m.message = stmt->column_text(5);
    incident->members.push_back(std::move(m));
  }
  if (rc != SQLITE_DONE) {
    return db.error("incident members");
  }
  incident->count =
      std::max<std::int64_t>(incident->count, static_cast<std::int64_t>(incident->members.size()));
  return Status::ok();
}

}  // namespace

Status Store::Impl::prepare_incident_writer() {
  auto a = sqlite::Stmt::prepare(db, kUpsertIncident);
  if (!a) {
    return a.status();
  }
  auto b = sqlite::Stmt::prepare(db, kUpsertMember);
  if (!b) {
    return b.status();
  }
  upsert_incident = std::move(*a);
  upsert_member = std::move(*b);
  return Status::ok();
}

Status Store::Impl::write_incident(const Incident& i, std::int64_t cluster) {
  sqlite::Stmt& st = upsert_incident;
  const std::string objects = to_json_array(i.objects);
  const std::string replacements = to_json_array(i.replacements);
  st.bind(1, std::string_view(i.id));
  st.bind(2, std::string_view(to_string(i.kind)));
  st.bind(3, std::string_view(i.key));
  st.bind(4, std::string_view(i.title));
  st.bind(5, i.start);
  if (i.end) {
    st.bind(6, *i.end);
  } else {
    st.bind_null(6);
  }
  bind_text_or_null(st, 7, i.node);
  bind_text_or_null(st, 8, i.namespace_);
  bind_text_or_null(st, 9, i.workload);
  bind_text_or_null(st, 10, i.workload_kind);
  bind_text_or_null(st, 11, i.actor);
  bind_text_or_null(st, 12, i.cause);
  st.bind(13, std::string_view(objects));
  st.bind(14, std::string_view(replacements));
  st.bind(15, i.count);
  st.bind(16, cluster);
  int rc = st.step();
  st.reset();
  if (rc != SQLITE_DONE) {
    return db.error("incident upsert");
  }
  sqlite::Stmt& m = upsert_member;
  for (const auto& member : i.members) {
    m.bind(1, std::string_view(i.id));
    m.bind(2, std::string_view(member.ref));
    m.bind(3, std::string_view(to_string(member.source)));
    m.bind(4, member.time);
    bind_text_or_null(m, 5, member.reason);
    bind_text_or_null(m, 6, member.object);
    bind_text_or_null(m, 7, member.message);
    rc = m.step();
    m.reset();
    if (rc != SQLITE_DONE) {
      return db.error("incident member upsert");
    }
  }
  return Status::ok();
}

Result<std::vector<Incident>> Store::find_incidents(const IncidentFilter& f) {
  Impl& s = *impl_;
  std::string sql = std::string("SELECT ") + kIncidentColumns + " FROM incidents";
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
      return std::vector<Incident>{};
    }
    where.push_back(storage::cluster_condition(*ids, ""));
  }
  if (f.kind) {
    text("kind =", to_string(*f.kind));
  }
  if (f.open_only) {
    where.push_back("end_time IS NULL");
  }
  if (f.since) {
    integer("coalesce(end_time, 9223372036854775807) >=", *f.since);
  }
  if (f.until) {
    integer("start_time <=", *f.until);
  }
  if (f.node) {
    text("node =", *f.node);
  }
  if (f.namespace_) {
    // Workload incidents name their namespace; node incidents list pods "namespace/name".
    const int ns_index = ++index;
    where.push_back("(namespace = ?" + std::to_string(ns_index) +
                    " OR EXISTS (SELECT 1 FROM json_each(objects) WHERE value LIKE ?" +
                    std::to_string(ns_index + 1) + " ESCAPE '\\'))");
    texts.push_back({ns_index, *f.namespace_});
    std::string like;
    for (char c : *f.namespace_) {
      if (c == '%' || c == '_' || c == '\\') {
        like += '\\';
      }
      like += c;
    }
    texts.push_back({++index, like + "/%"});
  }
  if (f.pod) {
    if (f.pod->find('/') != std::string::npos) {
      text("EXISTS (SELECT 1 FROM json_each(objects) WHERE value =", *f.pod);
      where.back() += ")";
    } else {
      // A bare pod name matches it in any namespace.
      text("EXISTS (SELECT 1 FROM json_each(objects) WHERE substr(value, instr(value, '/') + 1) =",
           *f.pod);
      where.back() += ")";
    }
  }
  if (f.actor) {
    text("actor =", *f.actor);
  }
  if (f.after) {
    const int start_index = ++index;
    const int id_index = ++index;
    where.push_back("(start_time, id) > (?" + std::to_string(start_index) + ", ?" +
                    std::to_string(id_index) + ")");
    ints.push_back({start_index, f.after->first});
    texts.push_back({id_index, f.after->second});
  }
  // Incidents still going on at or after `since`: without a bound on how long they lasted,
  // any incident that started before `until` could be one. By span class (as for Events,
  // storage/span_class.h), a closed incident of class c that ended at or after `since` started
  // after since - bound(c): one index range per class, bounded at both ends. Open incidents and
  // the longest class have no lower bound; they are few.
  const bool by_span = f.since.has_value() && !f.open_only;
  int class_index = 0;
  int low_index = 0;
  if (by_span) {
    sql += f.node ? " INDEXED BY incidents_by_node_span" : " INDEXED BY incidents_by_span_start";
    class_index = ++index;
    low_index = ++index;
    where.push_back("span_class = ?" + std::to_string(class_index) + " AND start_time >= ?" +
                    std::to_string(low_index));
  }
  for (std::size_t i = 0; i < where.size(); ++i) {
    sql += (i == 0 ? " WHERE " : " AND ") + where[i];
  }
  sql += f.oldest_first ? " ORDER BY start_time, id" : " ORDER BY start_time DESC, id DESC";
  if (f.limit > 0) {
    sql += " LIMIT " + std::to_string(f.limit);
  }
  auto stmt = sqlite::Stmt::prepare(s.db, sql);
  if (!stmt) {
    return stmt.status();
  }
  std::vector<Incident> out;
  // Classes 0 .. kSpanClasses - 1 are closed incidents; one more class holds the open ones.
  const int runs = by_span ? storage::kSpanClasses + 1 : 1;
  for (int c = 0; c < runs; ++c) {
    for (const auto& [i, v] : texts) {
      stmt->bind(i, std::string_view(v));
    }
    for (const auto& [i, v] : ints) {
      stmt->bind(i, v);
    }
    if (by_span) {
      stmt->bind(class_index, std::int64_t{c});
      stmt->bind(low_index, storage::span_class_first_bound(c, *f.since));
    }
    int rc;
    while ((rc = stmt->step()) == SQLITE_ROW) {
      out.push_back(read_incident(*stmt, *names));
    }
    stmt->reset();
    if (rc != SQLITE_DONE) {
      return s.db.error("incident search");
    }
  }
  // Oldest start first, keeping the `limit` most recent (or oldest, paging). One statement
  // already returned them in its order; ranges per class are merged.
  if (runs == 1) {
    if (!f.oldest_first) {
      std::reverse(out.begin(), out.end());
    }
  } else {
    std::sort(out.begin(), out.end(), [](const Incident& a, const Incident& b) {
      return std::tie(a.start, a.id) < std::tie(b.start, b.id);
    });
    if (f.limit > 0 && out.size() > f.limit) {
      if (f.oldest_first) {
        out.resize(f.limit);
      } else {
        out.erase(out.begin(), out.end() - static_cast<std::ptrdiff_t>(f.limit));
      }
    }
  }
  if (f.with_members) {
    for (auto& i : out) {
      KTRAIL_RETURN_IF_ERROR(load_members(s.db, &i));
    }
  }
  return out;
}

Result<Incident> Store::get_incident(const std::string& id) {
  Impl& s = *impl_;
  auto stmt = sqlite::Stmt::prepare(
      s.db, std::string("SELECT ") + kIncidentColumns + " FROM incidents WHERE id = ?1");
  if (!stmt) {
    return stmt.status();
  }
  stmt->bind(1, std::string_view(id));
  const int rc = stmt->step();
  if (rc == SQLITE_DONE) {
    return not_found("no incident " + id);
  }
  if (rc != SQLITE_ROW) {
    return s.db.error("incident lookup");
  }
  auto names = storage::cluster_names(s.db);
  if (!names) {
    return names.status();
  }
  Incident incident = read_incident(*stmt, *names);
  KTRAIL_RETURN_IF_ERROR(load_members(s.db, &incident));
  return incident;
}

}  // namespace ktrail
