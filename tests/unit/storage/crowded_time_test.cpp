// Many audit events on one stageTimestamp (second-precision logs, or a hostile client): stored
// in O(log n) per event, and every repeat still found, across batches, restarts and migration.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <ctime>
#include <string>

#include "storage/event_codec.h"
#include "storage/schema.h"
#include "storage/store.h"
#include "tests/unit/storage/store_test_util.h"

namespace ktrail {
namespace {

using testing::make_event;
using testing::scalar;
using testing::TempDir;

std::unique_ptr<Store> open_writer(const std::string& path) {
  auto store = Store::open(path, StoreOptions{});
  EXPECT_TRUE(store.is_ok()) << store.status().to_string();
  return store ? std::move(*store) : nullptr;
}

// Event `i` of a burst: all on one second when `same_time`, else one microsecond apart.
AuditEvent burst_event(const std::string& prefix, int i, bool same_time) {
  char at[40] = "2026-03-01T10:00:00Z";
  if (!same_time) {
    std::snprintf(at, sizeof at, "2026-03-01T10:%02d:%02d.%06dZ", i / 60'000'000 % 60,
                  i / 1'000'000 % 60, i % 1'000'000);
  }
  return make_event(prefix + std::to_string(i), "ResponseComplete", at, at);
}

Batch burst(const std::string& prefix, int from, int to, bool same_time) {
  Batch b;
  b.origin = "test";
  for (int i = from; i < to; ++i) {
    b.audit.push_back(burst_event(prefix, i, same_time));
  }
  return b;
}

// How many audit rows do not sit on their identity's first key.
std::int64_t rows_off_first_key(Store& store) {
  sqlite3_stmt* stmt = nullptr;
  EXPECT_EQ(sqlite3_prepare_v2(store.handle(),
                               "SELECT key, audit_id, stage, received, ts FROM audit", -1, &stmt,
                               nullptr),
            SQLITE_OK);
  std::int64_t n = 0;
  while (sqlite3_step(stmt) == SQLITE_ROW) {
    const std::string id(reinterpret_cast<const char*>(sqlite3_column_text(stmt, 1)));
    const Micros ts = sqlite3_column_int64(stmt, 4);
    const auto hash = storage::identity_hash(id, static_cast<Stage>(sqlite3_column_int(stmt, 2)),
                                             sqlite3_column_int64(stmt, 3), ts);
    n += sqlite3_column_int64(stmt, 0) != storage::first_key(ts, hash) ? 1 : 0;
  }
  sqlite3_finalize(stmt);
  return n;
}

// CPU seconds of the whole process (the writer and its compressor thread): on a shared machine
// this measures the work done, where wall time would also measure the neighbours.
double cpu_seconds() {
  timespec t{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) * 1e-9;
}

// Writes `events` events in batches of 10,000 and returns the CPU seconds spent in write_batch;
// stops early, returning what was spent, once `budget` seconds are exceeded.
double timed_write(Store& store, int events, bool same_time, double budget) {
  double spent = 0;
  for (int from = 0; from < events && spent <= budget; from += 10'000) {
    const Batch batch = burst(same_time ? "same-" : "distinct-", from, from + 10'000, same_time);
    const double start = cpu_seconds();
    auto outcome = store.write_batch(batch);
    spent += cpu_seconds() - start;
    EXPECT_TRUE(outcome.is_ok()) << outcome.status().to_string();
    if (outcome) {
      EXPECT_EQ(outcome->stored, batch.audit.size());
    }
  }
  return spent;
}

TEST(CrowdedTime, SameTimestampCostsAboutWhatDistinctTimestampsCost) {
  // Before O(log n) placement, 10,000 events on one timestamp took 19 s where 100,000 distinct
  // ones took 1.4 s: the ratio for 100,000 would be in the thousands. A placed event costs a few
  // seeks more than a free one, so a small constant ratio is the contract.
  constexpr int kEvents = 100'000;
  constexpr double kMaxRatio = 8;
  TempDir dir;
  auto distinct_store = open_writer(dir.file("distinct.db"));
  auto same_store = open_writer(dir.file("same.db"));
  ASSERT_TRUE(distinct_store && same_store);
  const double distinct = timed_write(*distinct_store, kEvents, false, 1e9);
  const double same = timed_write(*same_store, kEvents, true, kMaxRatio * distinct);
  std::printf("100,000 events: distinct timestamps %.2f s, one timestamp %.2f s of CPU (ratio %.2f)\n",
              distinct, same, same / distinct);
  EXPECT_LE(same, kMaxRatio * distinct);
  EXPECT_EQ(scalar(*same_store, "SELECT count(*) FROM audit"), kEvents);
}

TEST(CrowdedTime, RepeatsAreFoundAcrossBatchesAndRestarts) {
  constexpr int kEvents = 5'000;  // nearly five microseconds' worth of slots
  TempDir dir;
  const std::string path = dir.file("k.db");
  {
    auto store = open_writer(path);
    ASSERT_TRUE(store);
    for (int from = 0; from < kEvents; from += 1'000) {
      auto outcome = store->write_batch(burst("ev-", from, from + 1'000, true));
      ASSERT_TRUE(outcome.is_ok()) << outcome.status().to_string();
      EXPECT_EQ(outcome->stored, 1'000u);
    }
    // A replay of all of them at once is all duplicates.
    auto replay = store->write_batch(burst("ev-", 0, kEvents, true));
    ASSERT_TRUE(replay.is_ok());
    EXPECT_EQ(replay->duplicates, static_cast<std::size_t>(kEvents));
    EXPECT_EQ(replay->stored, 0u);
  }
  auto store = open_writer(path);
  ASSERT_TRUE(store);
  // After a restart: old events interleaved with new ones of the same timestamp, in reverse.
  Batch mixed;
  for (int i = kEvents - 1; i >= 0; --i) {
    mixed.audit.push_back(burst_event("ev-", i, true));
    mixed.audit.push_back(burst_event("new-", i, true));
  }
  auto outcome = store->write_batch(mixed);
  ASSERT_TRUE(outcome.is_ok()) << outcome.status().to_string();
  EXPECT_EQ(outcome->duplicates, static_cast<std::size_t>(kEvents));
  EXPECT_EQ(outcome->stored, static_cast<std::size_t>(kEvents));
  outcome = store->write_batch(mixed);
  ASSERT_TRUE(outcome.is_ok());
  EXPECT_EQ(outcome->duplicates, static_cast<std::size_t>(2 * kEvents));
  EXPECT_EQ(scalar(*store, "SELECT count(*) FROM audit"), 2 * kEvents);
  EXPECT_EQ(scalar(*store, "SELECT count(DISTINCT audit_id) FROM audit"), 2 * kEvents);
  // Every row not on its first key is indexed, and only those.
  EXPECT_EQ(scalar(*store, "SELECT count(*) FROM audit_displaced"), rows_off_first_key(*store));
  // And a time range still finds the whole burst.
  AuditFilter f;
  f.since = *parse_rfc3339("2026-03-01T10:00:00Z");
  f.until = f.since;
  f.limit = 3 * kEvents;
  auto rows = store->find_audit(f);
  ASSERT_TRUE(rows.is_ok());
  EXPECT_EQ(rows->size(), static_cast<std::size_t>(2 * kEvents));
}

TEST(CrowdedTime, MigrationIndexesRowsStoredDisplacedBefore) {
  // A store written before version 9 has displaced rows without index entries. Simulate one:
  // write a crowded burst, then drop the index and step the version back.
  constexpr int kEvents = 3'000;
  TempDir dir;
  const std::string path = dir.file("k.db");
  std::int64_t displaced = 0;
  {
    auto store = open_writer(path);
    ASSERT_TRUE(store);
    ASSERT_TRUE(store->write_batch(burst("old-", 0, kEvents, true)).is_ok());
    displaced = scalar(*store, "SELECT count(*) FROM audit_displaced");
    ASSERT_GT(displaced, kEvents / 2);
    char* error = nullptr;
    ASSERT_EQ(sqlite3_exec(store->handle(),
                           "DROP TABLE audit_displaced; PRAGMA user_version = 8;", nullptr, nullptr,
                           &error),
              SQLITE_OK)
        << (error != nullptr ? error : "");
  }
  auto store = open_writer(path);
  ASSERT_TRUE(store);
  EXPECT_EQ(scalar(*store, "PRAGMA user_version"), storage::schema_version());
  EXPECT_EQ(scalar(*store, "SELECT count(*) FROM audit_displaced"), displaced);
  auto replay = store->write_batch(burst("old-", 0, kEvents, true));
  ASSERT_TRUE(replay.is_ok());
  EXPECT_EQ(replay->duplicates, static_cast<std::size_t>(kEvents));
  EXPECT_EQ(replay->stored, 0u);
}

}  // namespace
}  // namespace ktrail
