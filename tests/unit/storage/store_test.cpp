#include "storage/store.h"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <set>

#include "storage/event_codec.h"
#include "tests/unit/storage/store_test_util.h"

namespace ktrail {
namespace {

using testing::make_event;
using testing::TempDir;

std::unique_ptr<Store> open_writer(const std::string& path) {
  auto store = Store::open(path, StoreOptions{});
  EXPECT_TRUE(store.is_ok()) << store.status().to_string();
  return store ? std::move(*store) : nullptr;
}

std::unique_ptr<Store> open_reader(const std::string& path) {
  StoreOptions options;
  options.read_only = true;
  auto store = Store::open(path, options);
  EXPECT_TRUE(store.is_ok()) << store.status().to_string();
  return store ? std::move(*store) : nullptr;
}

std::int64_t user_version(const std::string& path) {
  sqlite3* db = nullptr;
  sqlite3_open(path.c_str(), &db);
  sqlite3_stmt* stmt = nullptr;
  sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &stmt, nullptr);
  sqlite3_step(stmt);
  const std::int64_t v = sqlite3_column_int64(stmt, 0);
  sqlite3_finalize(stmt);
  sqlite3_close(db);
  return v;
}

Batch two_events() {
  Batch b;
  b.origin = "test";
  b.audit.push_back(make_event("id-1", "ResponseComplete", "2026-03-01T10:00:00.000001Z",
                               "2026-03-01T10:00:00.000100Z"));
  b.audit.push_back(make_event("id-2", "ResponseComplete", "2026-03-01T10:00:01.000001Z",
                               "2026-03-01T10:00:01.000100Z", "bob", "list", "secrets", "prod"));
  return b;
}

TEST(StoreSchema, FreshStoreIsAtCurrentVersionAndReopens) {
  TempDir dir;
  const auto path = dir.file("k.db");
  {
    auto store = open_writer(path);
    ASSERT_TRUE(store);
  }
  const std::int64_t version = user_version(path);
  EXPECT_GE(version, 1);
  auto again = open_writer(path);
  ASSERT_TRUE(again);
  EXPECT_EQ(user_version(path), version);
  auto reader = open_reader(path);
  ASSERT_TRUE(reader);
}

TEST(StoreSchema, NewerVersionIsRefusedWithClearError) {
  TempDir dir;
  const auto path = dir.file("k.db");
  { ASSERT_TRUE(open_writer(path)); }
  sqlite3* db = nullptr;
  sqlite3_open(path.c_str(), &db);
  ASSERT_EQ(sqlite3_exec(db, "PRAGMA user_version = 999", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(db);
  auto store = Store::open(path, StoreOptions{});
  ASSERT_FALSE(store.is_ok());
  EXPECT_NE(store.status().message().find("newer"), std::string::npos) << store.status().message();
  StoreOptions ro;
  ro.read_only = true;
  auto reader = Store::open(path, ro);
  ASSERT_FALSE(reader.is_ok());
  EXPECT_NE(reader.status().message().find("999"), std::string::npos);
}

TEST(StoreSchema, ReadOnlyOpenOfMissingFileFails) {
  TempDir dir;
  StoreOptions ro;
  ro.read_only = true;
  auto store = Store::open(dir.file("absent.db"), ro);
  ASSERT_FALSE(store.is_ok());
  EXPECT_EQ(store.status().code(), ErrorCode::kNotFound);
}

TEST(StoreSchema, NotADatabaseIsAnError) {
  TempDir dir;
  const auto path = dir.file("junk.db");
  {
    std::ofstream out(path);
    out << "this is not sqlite, just some text that is long enough to be a header........";
  }
  auto store = Store::open(path, StoreOptions{});
  EXPECT_FALSE(store.is_ok());
}

TEST(StoreWrite, SameBatchTwiceIsAllDuplicates) {
  TempDir dir;
  auto store = open_writer(dir.file("k.db"));
  ASSERT_TRUE(store);
  auto first = store->write_batch(two_events());
  ASSERT_TRUE(first.is_ok()) << first.status().to_string();
  EXPECT_EQ(first->stored, 2u);
  EXPECT_EQ(first->duplicates, 0u);
  auto second = store->write_batch(two_events());
  ASSERT_TRUE(second.is_ok());
  EXPECT_EQ(second->stored, 0u);
  EXPECT_EQ(second->duplicates, 2u);
  EXPECT_EQ(store->counts()->audit, 2);
}

TEST(StoreWrite, SameAuditIdWithOtherStageOrTimesIsDistinct) {
  TempDir dir;
  auto store = open_writer(dir.file("k.db"));
  ASSERT_TRUE(store);
  Batch b;
  b.audit.push_back(make_event("same", "RequestReceived", "2026-03-01T10:00:00.000001Z",
                               "2026-03-01T10:00:00.000001Z"));
  b.audit.push_back(make_event("same", "ResponseComplete", "2026-03-01T10:00:00.000001Z",
                               "2026-03-01T10:00:00.000001Z"));
  b.audit.push_back(make_event("same", "ResponseComplete", "2026-03-01T10:00:00.000002Z",
                               "2026-03-01T10:00:00.000001Z"));
  b.audit.push_back(make_event("same", "ResponseComplete", "2026-03-01T10:00:00.000001Z",
                               "2026-03-01T10:00:00.000009Z"));
  // An exact repeat inside the same batch is a duplicate.
  b.audit.push_back(b.audit.back());
  auto outcome = store->write_batch(b);
  ASSERT_TRUE(outcome.is_ok());
  EXPECT_EQ(outcome->stored, 4u);
  EXPECT_EQ(outcome->duplicates, 1u);
}

TEST(StoreWrite, HashSlotCollisionKeepsBothEvents) {
  // Find two audit IDs whose identities land on the same first key: the store must keep both
  // and still recognise each one's repeat.
  const std::string received = "2026-03-01T10:00:00.000001Z";
  const std::string at = "2026-03-01T10:00:00.000500Z";
  const Micros t = *parse_rfc3339(at);
  const Micros r = *parse_rfc3339(received);
  const auto key_of = [&](const std::string& id) {
    return storage::first_key(t, storage::identity_hash(id, Stage::kResponseComplete, r, t));
  };
  const std::string a = "collide-0";
  std::string b;
  for (int i = 1; i < 100000 && b.empty(); ++i) {
    if (key_of("collide-" + std::to_string(i)) == key_of(a)) {
      b = "collide-" + std::to_string(i);
    }
  }
  ASSERT_FALSE(b.empty());
  TempDir dir;
  auto store = open_writer(dir.file("k.db"));
  ASSERT_TRUE(store);
  Batch batch;
  batch.audit.push_back(make_event(a, "ResponseComplete", received, at));
  batch.audit.push_back(make_event(b, "ResponseComplete", received, at));
  auto first = store->write_batch(batch);
  ASSERT_TRUE(first.is_ok());
  EXPECT_EQ(first->stored, 2u);
  auto again = store->write_batch(batch);
  ASSERT_TRUE(again.is_ok());
  EXPECT_EQ(again->duplicates, 2u);
  EXPECT_EQ(again->stored, 0u);
  auto rows = store->find_audit(AuditFilter{});
  ASSERT_TRUE(rows.is_ok());
  std::set<std::string> ids;
  for (const auto& row : *rows) {
    ids.insert(row.audit_id);
  }
  EXPECT_EQ(ids, (std::set<std::string>{a, b}));
}

TEST(StoreWrite, ManyEventsInOneMicrosecondAllStored) {
  // Second-precision timestamps of old logs put many events on one microsecond: more than the
  // slots of one microsecond must still be stored, and found by a time range.
  TempDir dir;
  auto store = open_writer(dir.file("k.db"));
  ASSERT_TRUE(store);
  Batch batch;
  for (int i = 0; i < 1500; ++i) {
    batch.audit.push_back(make_event("burst-" + std::to_string(i), "ResponseComplete",
                                     "2026-03-01T10:00:00Z", "2026-03-01T10:00:00Z"));
  }
  batch.audit.push_back(make_event("later", "ResponseComplete", "2026-03-01T10:00:00.000001Z",
                                   "2026-03-01T10:00:00.000001Z"));
  auto outcome = store->write_batch(batch);
  ASSERT_TRUE(outcome.is_ok());
  EXPECT_EQ(outcome->stored, 1501u);
  auto again = store->write_batch(batch);
  ASSERT_TRUE(again.is_ok());
  EXPECT_EQ(again->duplicates, 1501u);
  AuditFilter f;
  f.until = *parse_rfc3339("2026-03-01T10:00:00Z");
  auto rows = store->find_audit(f);
  ASSERT_TRUE(rows.is_ok());
  EXPECT_EQ(rows->size(), 1500u);
  f.until.reset();
  f.since = *parse_rfc3339("2026-03-01T10:00:00.000001Z");
  rows = store->find_audit(f);
  ASSERT_TRUE(rows.is_ok());
  ASSERT_EQ(rows->size(), 1u);
  EXPECT_EQ(rows->front().audit_id, "later");
}

KubeEvent kube_event(const std::string& uid, std::int64_t count, Micros last) {
  KubeEvent e;
  e.uid = uid;
  e.namespace_ = "default";
  e.name = "web-1.17a";
  e.object.kind = "Pod";
  e.object.name = "web-1";
  e.reason = "BackOff";
  e.message = "Back-off restarting failed container";
  e.type = "Warning";
  e.first_time = 1000;
  e.last_time = last;
  e.count = count;
  e.json = R"({"count":)" + std::to_string(count) + "}";
  return e;
}

TEST(StoreWrite, KubeEventUpdatedInPlaceIsOneRow) {
  TempDir dir;
  auto store = open_writer(dir.file("k.db"));
  ASSERT_TRUE(store);
  Batch b;
  b.events.push_back(kube_event("uid-1", 1, 2000));
  ASSERT_EQ(store->write_batch(b)->stored, 1u);
  Batch newer;
  newer.events.push_back(kube_event("uid-1", 5, 9000));
  ASSERT_EQ(store->write_batch(newer)->stored, 1u);
  // A replay of the older state changes nothing.
  auto old = store->write_batch(b);
  ASSERT_TRUE(old.is_ok());
  EXPECT_EQ(old->duplicates, 1u);
  EXPECT_EQ(store->counts()->kube_events, 1);
  sqlite3_stmt* stmt = nullptr;
  sqlite3_prepare_v2(store->handle(), "SELECT count, last_time, event FROM kube_events", -1, &stmt,
                     nullptr);
  ASSERT_EQ(sqlite3_step(stmt), SQLITE_ROW);
  EXPECT_EQ(sqlite3_column_int64(stmt, 0), 5);
  EXPECT_EQ(sqlite3_column_int64(stmt, 1), 9000);
  EXPECT_STREQ(reinterpret_cast<const char*>(sqlite3_column_text(stmt, 2)), R"({"count":5})");
  sqlite3_finalize(stmt);
}

TEST(StoreWrite, DeadLettersAreStored) {
  TempDir dir;
  auto store = open_writer(dir.file("k.db"));
  ASSERT_TRUE(store);
  Batch b = two_events();
  b.origin = "file audit.log";
  DecodedAudit bad;
  decode_audit_line("{not json", &bad);
  decode_audit_line(R"({"kind":"Event","stage":"ResponseComplete"})", &bad);
  b.rejected = bad.rejected;
  auto outcome = store->write_batch(b);
  ASSERT_TRUE(outcome.is_ok());
  EXPECT_EQ(outcome->stored, 2u);
  EXPECT_EQ(outcome->rejected, 2u);
  sqlite3_stmt* stmt = nullptr;
  sqlite3_prepare_v2(store->handle(), "SELECT origin, reason, raw FROM dead_letters ORDER BY id",
                     -1, &stmt, nullptr);
  ASSERT_EQ(sqlite3_step(stmt), SQLITE_ROW);
  EXPECT_STREQ(reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0)), "file audit.log");
  EXPECT_STREQ(reinterpret_cast<const char*>(sqlite3_column_text(stmt, 2)), "{not json");
  ASSERT_EQ(sqlite3_step(stmt), SQLITE_ROW);
  EXPECT_NE(
      std::string(reinterpret_cast<const char*>(sqlite3_column_text(stmt, 1))).find("auditID"),
      std::string::npos);
  sqlite3_finalize(stmt);
}

TEST(StoreWrite, ReadOnlyStoreRefusesWrites) {
  TempDir dir;
  const auto path = dir.file("k.db");
  { ASSERT_TRUE(open_writer(path)); }
  auto reader = open_reader(path);
  ASSERT_TRUE(reader);
  auto outcome = reader->write_batch(two_events());
  ASSERT_FALSE(outcome.is_ok());
  EXPECT_EQ(outcome.status().code(), ErrorCode::kPermissionDenied);
  // Even a plain statement on the read-only connection cannot write.
  EXPECT_NE(sqlite3_exec(reader->handle(), "DELETE FROM audit", nullptr, nullptr, nullptr),
            SQLITE_OK);
}

TEST(StoreWrite, FullEventIsRetrievable) {
  TempDir dir;
  auto store = open_writer(dir.file("k.db"));
  ASSERT_TRUE(store);
  Batch b = two_events();
  ASSERT_TRUE(store->write_batch(b).is_ok());
  AuditFilter f;
  f.with_event = true;
  auto rows = store->find_audit(f);
  ASSERT_TRUE(rows.is_ok());
  ASSERT_EQ(rows->size(), 2u);
  EXPECT_EQ((*rows)[0].event, b.audit[0].json);
  EXPECT_EQ((*rows)[1].event, b.audit[1].json);
  EXPECT_EQ((*rows)[1].groups, R"(["system:authenticated"])");
  EXPECT_EQ((*rows)[1].source_ips, R"(["10.0.0.1"])");
  EXPECT_EQ((*rows)[1].user_agent, "kubectl/v1.29");
}

TEST(StoreConcurrency, ReaderIsNotBlockedByOpenWriteTransaction) {
  TempDir dir;
  const auto path = dir.file("k.db");
  auto writer = open_writer(path);
  ASSERT_TRUE(writer);
  ASSERT_TRUE(writer->write_batch(two_events()).is_ok());
  // Hold a write transaction open with uncommitted rows.
  ASSERT_EQ(sqlite3_exec(writer->handle(),
                         "BEGIN IMMEDIATE; INSERT INTO dead_letters(received, origin, reason, raw) "
                         "VALUES (1, 'x', 'y', 'z');",
                         nullptr, nullptr, nullptr),
            SQLITE_OK);
  auto reader = open_reader(path);
  ASSERT_TRUE(reader);
  auto rows = reader->find_audit(AuditFilter{});
  ASSERT_TRUE(rows.is_ok()) << rows.status().to_string();
  EXPECT_EQ(rows->size(), 2u);
  EXPECT_EQ(reader->counts()->dead_letters, 0);  // the uncommitted row is invisible
  ASSERT_EQ(sqlite3_exec(writer->handle(), "COMMIT", nullptr, nullptr, nullptr), SQLITE_OK);
  EXPECT_EQ(reader->counts()->dead_letters, 1);
}

TEST(StoreRealData, EveryEventStoredOnceAndReplayAddsNothing) {
  TempDir dir;
  auto store = open_writer(dir.file("k.db"));
  ASSERT_TRUE(store);
  std::size_t total = 0;
  for (const char* name : {"audit2rbac-demo-raw-v1beta1.jsonl", "audit2rbac-demo-v1.jsonl",
                           "falco-k8s-audit-trace-files.jsonl"}) {
    auto decoded = testing::read_data_file(name);
    ASSERT_FALSE(decoded.events.empty()) << name;
    Batch b;
    b.audit = decoded.events;
    b.rejected = decoded.rejected;
    auto first = store->write_batch(b);
    ASSERT_TRUE(first.is_ok()) << first.status().to_string();
    EXPECT_EQ(first->stored + first->duplicates, decoded.events.size());
    total += first->stored;
    auto replay = store->write_batch(Batch{decoded.events, {}, {}, "replay"});
    ASSERT_TRUE(replay.is_ok());
    EXPECT_EQ(replay->stored, 0u) << name;
    EXPECT_EQ(replay->duplicates, decoded.events.size());
  }
  EXPECT_EQ(static_cast<std::size_t>(store->counts()->audit), total);
}

}  // namespace
}  // namespace ktrail
