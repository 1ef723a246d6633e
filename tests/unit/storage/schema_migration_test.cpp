// Schema version 6 on a file written at version 4: a writable open migrates it, the Event rows
// written before gain their span class, and the searches use the new indexes.
#include <gtest/gtest.h>

#include <algorithm>
#include <set>

#include "storage/event_codec.h"
#include "storage/schema.h"
#include "storage/sqlite_util.h"
#include "storage/store.h"
#include "tests/unit/storage/store_test_util.h"

namespace ktrail {
namespace {

using testing::TempDir;

const Micros kDay = 86400 * kMicrosPerSecond;
const Micros kSince = *parse_rfc3339("2026-03-04T10:00:00Z");

std::int64_t user_version(sqlite3* db) {
  sqlite3_stmt* stmt = nullptr;
  sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &stmt, nullptr);
  const std::int64_t v = sqlite3_step(stmt) == SQLITE_ROW ? sqlite3_column_int64(stmt, 0) : -1;
  sqlite3_finalize(stmt);
  return v;
}

std::set<std::string> indexes_of(sqlite3* db, const char* table) {
  std::set<std::string> out;
  sqlite3_stmt* stmt = nullptr;
  sqlite3_prepare_v2(db,
                     "SELECT name FROM sqlite_master WHERE type = 'index' AND "
                     "tbl_name = ?1 AND sql IS NOT NULL",
                     -1, &stmt, nullptr);
  sqlite3_bind_text(stmt, 1, table, -1, SQLITE_STATIC);
  while (sqlite3_step(stmt) == SQLITE_ROW) {
    out.insert(reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0)));
  }
  sqlite3_finalize(stmt);
  return out;
}

// A file at schema version 4 holding three Events of node worker-1: one seen inside the day
// after kSince, one that began the day before and went on into it, one entirely before.
void write_v4_file(const std::string& path) {
  auto db = sqlite::Db::open(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
  ASSERT_TRUE(db.is_ok()) << db.status().to_string();
  ASSERT_TRUE(storage::migrate_to(*db, 4).is_ok());
  auto version = sqlite::query_int(*db, "PRAGMA user_version");
  ASSERT_TRUE(version.is_ok());
  ASSERT_EQ(*version, 4);
  EXPECT_EQ(indexes_of(db->get(), "kube_events"),
            (std::set<std::string>{"kube_events_by_time", "kube_events_by_object",
                                   "kube_events_by_host", "kube_events_by_namespace"}));
  EXPECT_EQ(indexes_of(db->get(), "incidents"),
            (std::set<std::string>{"incidents_by_start", "incidents_open", "incidents_by_node",
                                   "incidents_by_namespace"}));
  const std::string insert =
      "INSERT INTO kube_events(uid, object_kind, object_namespace, object_name, source_host, "
      "reason, first_time, last_time, count, event) VALUES ";
  const auto row = [](const char* uid, const char* kind, const char* ns, const char* name,
                      const char* host, Micros first, Micros last) {
    auto text = [](const char* v) { return *v ? "'" + std::string(v) + "'" : std::string("NULL"); };
    return "(" + text(uid) + ", " + text(kind) + ", " + text(ns) + ", " + text(name) + ", " +
           text(host) + ", 'R', " + std::to_string(first) + ", " + std::to_string(last) +
           ", 1, '{}')";
  };
  ASSERT_TRUE(
      db->exec(insert + row("inside", "Pod", "shop", "web", "worker-1", kSince + 60, kSince + 60) +
               ", " +
               row("straddle", "Node", "", "worker-1", "", kSince - 2 * kDay,
                   kSince + 3600 * kMicrosPerSecond) +
               ", " + row("before", "Pod", "shop", "web", "worker-1", kSince - 1, kSince - 1))
          .is_ok());
}

TEST(SchemaMigration, VersionFourFileMigratesToSpanIndexes) {
  TempDir dir;
  const std::string path = dir.file("v4.db");
  write_v4_file(path);

  StoreOptions ro;
  ro.read_only = true;
  auto reader = Store::open(path, ro);
  ASSERT_FALSE(reader.is_ok());
  EXPECT_NE(reader.status().message().find("open it once for writing"), std::string::npos)
      << reader.status().message();

  auto store = Store::open(path, StoreOptions{});
  ASSERT_TRUE(store.is_ok()) << store.status().to_string();
  EXPECT_EQ(user_version((*store)->handle()), storage::schema_version());
  EXPECT_EQ(user_version((*store)->handle()), 13);
  // Postings instead of column indexes (v7); only impersonated events are indexed (v10).
  EXPECT_EQ(indexes_of((*store)->handle(), "audit"),
            std::set<std::string>{"audit_by_impersonated"});
  EXPECT_EQ(indexes_of((*store)->handle(), "kube_events"),
            (std::set<std::string>{"kube_events_by_span_time", "kube_events_by_object_time",
                                   "kube_events_by_host_time", "kube_events_by_namespace_time",
                                   "kube_events_by_name"}));
  EXPECT_EQ(indexes_of((*store)->handle(), "incidents"),
            (std::set<std::string>{"incidents_by_start", "incidents_open", "incidents_by_node_span",
                                   "incidents_by_span_start", "incidents_by_namespace"}));

  KubeEventFilter f;
  f.node = "worker-1";
  f.since = kSince;
  f.until = kSince + kDay;
  auto found = (*store)->find_kube_events(f);
  ASSERT_TRUE(found.is_ok()) << found.status().to_string();
  std::vector<std::string> uids;
  for (const auto& e : *found) {
    uids.push_back(e.uid);
    EXPECT_FALSE(e.carried) << e.uid;  // stored before version 11: received as Events
  }
  EXPECT_EQ(uids, (std::vector<std::string>{"inside", "straddle"}));
}

// A file at schema version 12 (before clusters) with an audit event, an Event, an incident and
// a finding: a writable open migrates it to 13, everything becomes cluster "default", the old
// audit row keeps its identity (the same event again is a duplicate), and the same items in
// another cluster are new.
TEST(SchemaMigration, VersionTwelveDataBecomesClusterDefault) {
  TempDir dir;
  const std::string path = dir.file("v12.db");
  const AuditEvent e = testing::make_event("a0000000-0000-4000-8000-000000000001", "ResponseComplete",
                                  "2026-03-04T10:00:00Z", "2026-03-04T10:00:01Z");
  {
    auto db = sqlite::Db::open(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
    ASSERT_TRUE(db.is_ok());
    ASSERT_TRUE(storage::migrate_to(*db, 12).is_ok());
    const std::int64_t key = storage::first_key(
        e.stage_time, storage::identity_hash(e.audit_id, e.stage, e.request_received, e.stage_time));
    ASSERT_TRUE(db->exec("INSERT INTO audit(key, ts, received, audit_id, stage, level, name, "
                         "event_ref) VALUES (" +
                         std::to_string(key) + ", " + std::to_string(e.stage_time) + ", " +
                         std::to_string(e.request_received) + ", '" + e.audit_id +
                         "', 2, 1, 'web', 0)")
                    .is_ok());
    ASSERT_TRUE(db->exec("INSERT INTO kube_events(uid, namespace, name, object_kind, object_name, "
                         "reason, first_time, last_time, count, event) VALUES ('uid-1', 'shop', "
                         "'web.1', 'Pod', 'web', 'BackOff', 5, 6, 2, '{}')")
                    .is_ok());
    ASSERT_TRUE(db->exec("INSERT INTO incidents(id, kind, key, title, start_time, node, objects, "
                         "replacements, count) VALUES ('node-not-ready-1', 'node-not-ready', "
                         "'node/worker-1', 't', 7, 'worker-1', '[]', '[]', 3)")
                    .is_ok());
    ASSERT_TRUE(db->exec("INSERT INTO findings(rule, priority, severity, audit_id, stage, time, "
                         "output, tags) VALUES ('r', 'WARNING', 4, '" +
                         e.audit_id + "', 'ResponseComplete', 8, 'o', '[]')")
                    .is_ok());
  }
  auto store = Store::open(path, StoreOptions{});
  ASSERT_TRUE(store.is_ok()) << store.status().to_string();
  EXPECT_EQ(user_version((*store)->handle()), 13);
  auto clusters = (*store)->clusters();
  ASSERT_TRUE(clusters.is_ok()) << clusters.status().to_string();
  EXPECT_EQ(*clusters, std::vector<std::string>{"default"});

  auto audit = (*store)->find_audit(AuditFilter{});
  ASSERT_TRUE(audit.is_ok()) << audit.status().to_string();
  ASSERT_EQ(audit->size(), 1u);
  EXPECT_EQ((*audit)[0].cluster, "default");
  auto events = (*store)->find_kube_events(KubeEventFilter{});
  ASSERT_TRUE(events.is_ok()) << events.status().to_string();
  ASSERT_EQ(events->size(), 1u);
  EXPECT_EQ((*events)[0].cluster, "default");
  auto incident = (*store)->get_incident("node-not-ready-1");
  ASSERT_TRUE(incident.is_ok()) << incident.status().to_string();
  EXPECT_EQ(incident->cluster, "default");
  auto findings = (*store)->find_findings(FindingFilter{});
  ASSERT_TRUE(findings.is_ok()) << findings.status().to_string();
  ASSERT_EQ(findings->size(), 1u);
  EXPECT_EQ((*findings)[0].cluster, "default");

  KubeEvent k = (*events)[0];
  k.json = "{}";
  Batch same;
  same.audit.push_back(e);
  same.events.push_back(k);
  auto again = (*store)->write_batch(same);
  ASSERT_TRUE(again.is_ok()) << again.status().to_string();
  EXPECT_EQ(again->stored, 0u);
  EXPECT_EQ(again->duplicates, 2u);
  Batch other = same;
  other.cluster = "other";
  auto elsewhere = (*store)->write_batch(other);
  ASSERT_TRUE(elsewhere.is_ok()) << elsewhere.status().to_string();
  EXPECT_EQ(elsewhere->stored, 2u);
  EXPECT_EQ(elsewhere->duplicates, 0u);

  AuditFilter only_other;
  only_other.clusters = {"other"};
  auto in_other = (*store)->find_audit(only_other);
  ASSERT_TRUE(in_other.is_ok());
  ASSERT_EQ(in_other->size(), 1u);
  EXPECT_EQ((*in_other)[0].cluster, "other");
  AuditFilter unknown;
  unknown.clusters = {"nowhere"};
  EXPECT_TRUE((*store)->find_audit(unknown)->empty());
  KubeEventFilter default_events;
  default_events.clusters = {"default"};
  EXPECT_EQ((*store)->find_kube_events(default_events)->size(), 1u);
  EXPECT_EQ((*store)->find_kube_events(KubeEventFilter{})->size(), 2u);
  clusters = (*store)->clusters();
  ASSERT_TRUE(clusters.is_ok());
  EXPECT_EQ(*clusters, (std::vector<std::string>{"default", "other"}));
}

TEST(SchemaMigration, UnknownTargetVersionIsRefused) {
  TempDir dir;
  auto db = sqlite::Db::open(dir.file("x.db"), SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
  ASSERT_TRUE(db.is_ok());
  EXPECT_FALSE(storage::migrate_to(*db, 0).is_ok());
  EXPECT_FALSE(storage::migrate_to(*db, storage::schema_version() + 1).is_ok());
  auto version = sqlite::query_int(*db, "PRAGMA user_version");
  ASSERT_TRUE(version.is_ok());
  EXPECT_EQ(*version, 0);
}

}  // namespace
}  // namespace ktrail
