#include "storage/store.h"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <chrono>
#include <filesystem>
#include <set>
#include <thread>

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

TEST(StoreSchema, FileIsInWalModeAndFullSyncWorks) {
  TempDir dir;
  const auto path = dir.file("k.db");
  StoreOptions options;
  options.sync = SyncMode::kFull;
  auto store = Store::open(path, options);
  ASSERT_TRUE(store.is_ok());
  ASSERT_EQ((*store)->write_batch(two_events())->stored, 2u);
  sqlite3_stmt* stmt = nullptr;
  sqlite3_prepare_v2((*store)->handle(), "PRAGMA journal_mode", -1, &stmt, nullptr);
  ASSERT_EQ(sqlite3_step(stmt), SQLITE_ROW);
  EXPECT_STREQ(reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0)), "wal");
  sqlite3_finalize(stmt);
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

int count_statement(unsigned /*type*/, void* counter, void* /*stmt*/, void* /*sql*/) {
  ++*static_cast<std::int64_t*>(counter);
  return 0;
}

TEST(StoreWrite, CrowdedMicrosecondCostsFewStatementsPerEvent) {
  // Hostile or replayed input: many distinct events on one stageTimestamp. Probing key by key
  // would run O(n) statements per event (over a million for this burst); the store must stay at
  // a small constant per event, keep every distinct event and still find every repeat.
  constexpr int kEvents = 1500;
  TempDir dir;
  auto store = open_writer(dir.file("k.db"));
  ASSERT_TRUE(store);
  Batch batch;
  for (int i = 0; i < kEvents; ++i) {
    batch.audit.push_back(make_event("crowd-" + std::to_string(i), "ResponseComplete",
                                     "2026-03-01T10:00:00Z", "2026-03-01T10:00:00Z"));
  }
  std::int64_t statements = 0;
  sqlite3_trace_v2(store->handle(), SQLITE_TRACE_STMT, &count_statement, &statements);
  auto outcome = store->write_batch(batch);
  ASSERT_TRUE(outcome.is_ok()) << outcome.status().to_string();
  EXPECT_EQ(outcome->stored, static_cast<std::size_t>(kEvents));
  EXPECT_LT(statements, 10 * kEvents);

  // The same events again, interleaved with new ones of the same microsecond.
  Batch mixed;
  for (int i = 0; i < kEvents; ++i) {
    mixed.audit.push_back(batch.audit[static_cast<std::size_t>(i)]);
    mixed.audit.push_back(make_event("crowd-new-" + std::to_string(i), "ResponseComplete",
                                     "2026-03-01T10:00:00Z", "2026-03-01T10:00:00Z"));
  }
  statements = 0;
  auto again = store->write_batch(mixed);
  sqlite3_trace_v2(store->handle(), 0, nullptr, nullptr);
  ASSERT_TRUE(again.is_ok()) << again.status().to_string();
  EXPECT_EQ(again->duplicates, static_cast<std::size_t>(kEvents));
  EXPECT_EQ(again->stored, static_cast<std::size_t>(kEvents));
  EXPECT_LT(statements, 10 * 2 * kEvents);
  auto rows = store->find_audit(AuditFilter{});
  ASSERT_TRUE(rows.is_ok());
  std::set<std::string> ids;
  for (const auto& row : *rows) {
    ids.insert(row.audit_id);
  }
  EXPECT_EQ(rows->size(), static_cast<std::size_t>(2 * kEvents));
  EXPECT_EQ(ids.size(), static_cast<std::size_t>(2 * kEvents));
}

std::uintmax_t file_size(const std::string& path) {
  std::error_code ec;
  const auto n = std::filesystem::file_size(path, ec);
  return ec ? 0 : n;
}

TEST(StoreCheckpoint, BackgroundCheckpointMovesCommittedPagesIntoTheDatabase) {
  // In WAL mode only a checkpoint writes the database file. The writer's own checkpoints are
  // off (limit far away), so the file growing proves the background thread checkpointed.
  TempDir dir;
  const std::string path = dir.file("k.db");
  StoreOptions options;
  options.zstd_level = 0;
  options.wal_autocheckpoint_pages = 8;
  options.wal_limit_pages = 1 << 30;
  auto opened = Store::open(path, options);
  ASSERT_TRUE(opened.is_ok()) << opened.status().to_string();
  auto store = std::move(*opened);
  const auto initial = file_size(path);
  int n = 0;
  for (int b = 0; b < 20; ++b) {
    Batch batch;
    for (int i = 0; i < 100; ++i, ++n) {
      batch.audit.push_back(make_event("ckpt-" + std::to_string(n), "ResponseComplete",
                                       "2026-03-01T10:00:00.000001Z",
                                       "2026-03-01T10:00:0" + std::to_string(b % 10) + ".000100Z"));
    }
    auto outcome = store->write_batch(batch);
    ASSERT_TRUE(outcome.is_ok()) << outcome.status().to_string();
    ASSERT_EQ(outcome->stored, 100u);
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (file_size(path) <= initial + 64 * 1024 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::yield();
  }
  EXPECT_GT(file_size(path), initial + 64 * 1024);
  // Everything committed is readable from another connection, and survives a reopen.
  auto reader = open_reader(path);
  ASSERT_TRUE(reader);
  auto counts = reader->counts();
  ASSERT_TRUE(counts.is_ok());
  EXPECT_EQ(counts->audit, n);
  reader.reset();
  store.reset();
  auto again = open_writer(path);
  ASSERT_TRUE(again);
  counts = again->counts();
  ASSERT_TRUE(counts.is_ok());
  EXPECT_EQ(counts->audit, n);
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

TEST(StoreWrite, UnstorableItemsBecomeDeadLetters) {
  TempDir dir;
  auto store = open_writer(dir.file("k.db"));
  ASSERT_TRUE(store);
  Batch b;
  // A year the time-ordered key cannot hold, and an Event with neither uid nor name.
  b.audit.push_back(
      make_event("far", "ResponseComplete", "9999-01-01T00:00:00Z", "9999-01-01T00:00:00Z"));
  KubeEvent anonymous = kube_event("", 1, 1);
  anonymous.name.clear();
  b.events.push_back(anonymous);
  b.audit.push_back(
      make_event("near", "ResponseComplete", "2026-03-01T10:00:00Z", "2026-03-01T10:00:00Z"));
  auto outcome = store->write_batch(b);
  ASSERT_TRUE(outcome.is_ok()) << outcome.status().to_string();
  EXPECT_EQ(outcome->stored, 1u);
  EXPECT_EQ(outcome->rejected, 2u);
  EXPECT_EQ(store->counts()->dead_letters, 2);
  EXPECT_EQ(store->counts()->audit, 1);
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

TEST(StoreWrite, FullEventsAcrossManyBlocks) {
  TempDir dir;
  auto store = open_writer(dir.file("k.db"));
  ASSERT_TRUE(store);
  Batch b;
  for (int i = 0; i < 700; ++i) {
    char t[64];
    std::snprintf(t, sizeof t, "2026-03-01T10:%02d:%02d.000000Z", i / 60, i % 60);
    b.audit.push_back(make_event("many-" + std::to_string(i), "ResponseComplete", t, t));
  }
  ASSERT_EQ(store->write_batch(b)->stored, 700u);
  AuditFilter f;
  f.with_event = true;
  auto rows = store->find_audit(f);
  ASSERT_TRUE(rows.is_ok()) << rows.status().to_string();
  ASSERT_EQ(rows->size(), 700u);
  for (std::size_t i = 0; i < rows->size(); ++i) {
    EXPECT_EQ((*rows)[i].event, b.audit[i].json) << i;
  }
}

TEST(StoreWrite, FailedBatchLeavesNothingAndCachesStayConsistent) {
  TempDir dir;
  auto store = open_writer(dir.file("k.db"));
  ASSERT_TRUE(store);
  // A trigger makes the third event of the batch fail inside the transaction.
  ASSERT_EQ(sqlite3_exec(store->handle(),
                         "CREATE TEMP TRIGGER boom BEFORE INSERT ON main.audit "
                         "WHEN new.audit_id = 'boom' BEGIN SELECT RAISE(ABORT, 'boom'); END",
                         nullptr, nullptr, nullptr),
            SQLITE_OK);
  Batch b;
  b.audit.push_back(make_event("ok-1", "ResponseComplete", "2026-03-01T10:00:00Z",
                               "2026-03-01T10:00:00Z", "new-user", "get", "widgets", "new-ns"));
  b.audit.push_back(make_event("ok-2", "ResponseComplete", "2026-03-01T10:00:01Z",
                               "2026-03-01T10:00:01Z", "new-user"));
  b.audit.push_back(
      make_event("boom", "ResponseComplete", "2026-03-01T10:00:02Z", "2026-03-01T10:00:02Z"));
  auto failed = store->write_batch(b);
  ASSERT_FALSE(failed.is_ok());
  EXPECT_EQ(store->counts()->audit, 0);
  // Without the failing event, the same strings are interned again and found by queries.
  b.audit.pop_back();
  auto outcome = store->write_batch(b);
  ASSERT_TRUE(outcome.is_ok()) << outcome.status().to_string();
  EXPECT_EQ(outcome->stored, 2u);
  AuditFilter f;
  f.user = "new-user";
  f.with_event = true;
  auto rows = store->find_audit(f);
  ASSERT_TRUE(rows.is_ok()) << rows.status().to_string();
  ASSERT_EQ(rows->size(), 2u);
  EXPECT_EQ(rows->front().resource, "widgets");
  EXPECT_EQ(rows->front().namespace_, "new-ns");
  EXPECT_EQ(rows->front().event, b.audit[0].json);
}

TEST(StoreWrite, GroupOfBatchesIsOneTransactionWithOutcomesPerBatch) {
  TempDir dir;
  auto store = open_writer(dir.file("k.db"));
  ASSERT_TRUE(store);
  Batch a;
  a.audit.push_back(
      make_event("g-1", "ResponseComplete", "2026-03-01T10:00:00Z", "2026-03-01T10:00:00Z"));
  a.audit.push_back(
      make_event("g-2", "ResponseComplete", "2026-03-01T10:00:01Z", "2026-03-01T10:00:01Z"));
  Batch b;  // repeats g-2 (an apiserver retry landing in the same group) and adds g-3
  b.audit.push_back(a.audit[1]);
  b.audit.push_back(
      make_event("g-3", "ResponseComplete", "2026-03-01T10:00:02Z", "2026-03-01T10:00:02Z"));
  b.rejected.push_back({"not an event", "{}"});
  auto outcomes = store->write_batches({&a, &b});
  ASSERT_TRUE(outcomes.is_ok()) << outcomes.status().to_string();
  ASSERT_EQ(outcomes->size(), 2u);
  EXPECT_EQ((*outcomes)[0].stored, 2u);
  EXPECT_EQ((*outcomes)[0].duplicates, 0u);
  EXPECT_EQ((*outcomes)[1].stored, 1u);
  EXPECT_EQ((*outcomes)[1].duplicates, 1u);
  EXPECT_EQ((*outcomes)[1].rejected, 1u);
  EXPECT_EQ(store->counts()->audit, 3);

  // A failure anywhere in the group leaves nothing of any of its batches.
  ASSERT_EQ(sqlite3_exec(store->handle(),
                         "CREATE TEMP TRIGGER boom BEFORE INSERT ON main.audit "
                         "WHEN new.audit_id = 'boom' BEGIN SELECT RAISE(ABORT, 'boom'); END",
                         nullptr, nullptr, nullptr),
            SQLITE_OK);
  Batch c;
  c.audit.push_back(
      make_event("g-4", "ResponseComplete", "2026-03-01T10:00:03Z", "2026-03-01T10:00:03Z"));
  Batch d;
  d.audit.push_back(
      make_event("boom", "ResponseComplete", "2026-03-01T10:00:04Z", "2026-03-01T10:00:04Z"));
  EXPECT_FALSE(store->write_batches({&c, &d}).is_ok());
  EXPECT_EQ(store->counts()->audit, 3);
  EXPECT_EQ(store->counts()->dead_letters, 1);
}

TEST(StoreConcurrency, TwoWritersOnOneFileInterleave) {
  // `ktrail ingest` may run beside `ktrail serve` on the same file.
  TempDir dir;
  const auto path = dir.file("k.db");
  auto a = open_writer(path);
  auto b = open_writer(path);
  ASSERT_TRUE(a && b);
  Batch all;
  for (int round = 0; round < 4; ++round) {
    Store* writer = round % 2 == 0 ? a.get() : b.get();
    Batch batch;
    for (int i = 0; i < 3; ++i) {
      char t[64];
      std::snprintf(t, sizeof t, "2026-03-01T10:00:%02d.000000Z", round * 3 + i);
      batch.audit.push_back(make_event("w" + std::to_string(round) + "-" + std::to_string(i),
                                       "ResponseComplete", t, t, "user-" + std::to_string(round)));
      all.audit.push_back(batch.audit.back());
    }
    auto outcome = writer->write_batch(batch);
    ASSERT_TRUE(outcome.is_ok()) << outcome.status().to_string();
    EXPECT_EQ(outcome->stored, 3u);
  }
  AuditFilter f;
  f.with_event = true;
  auto rows = a->find_audit(f);
  ASSERT_TRUE(rows.is_ok()) << rows.status().to_string();
  ASSERT_EQ(rows->size(), all.audit.size());
  for (std::size_t i = 0; i < rows->size(); ++i) {
    EXPECT_EQ((*rows)[i].event, all.audit[i].json);
    EXPECT_EQ((*rows)[i].user, all.audit[i].user.username);
  }
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
