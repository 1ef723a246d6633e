// The bulk-written name index (schema version 5): searches by object name find every stored
// event whether its index entry is merged or still pending, across merges, time bounds,
// duplicates, failed batches, readers on another connection and a migration from version 4.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <algorithm>
#include <set>
#include <string>
#include <vector>

#include "storage/schema.h"
#include "storage/sqlite_util.h"
#include "storage/store.h"
#include "tests/unit/storage/store_test_util.h"

namespace ktrail {
namespace {

using testing::make_event;
using testing::scalar;
using testing::TempDir;

std::string at_second(int s) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "2026-03-01T10:%02d:%02dZ", s / 60 % 60, s % 60);
  return buf;
}

// Event `i` names one of five objects; its time goes back and forth so that keys arrive out
// of order, as they do from several apiservers.
AuditEvent named_event(int i) {
  const int second = (i * 7) % 3000;
  return make_event("id-" + std::to_string(i), "ResponseComplete", at_second(second),
                    at_second(second), "alice", "get", "pods", "default",
                    "obj-" + std::to_string(i % 5));
}

// The audit_ids of `name`'s events in [since, until] seconds, as the store must return them.
std::vector<std::string> expected(const std::vector<int>& written, int name, int since = 0,
                                  int until = 1 << 30) {
  std::vector<std::pair<int, std::string>> rows;
  for (int i : written) {
    const int second = (i * 7) % 3000;
    if (i % 5 == name && second >= since && second <= until) {
      rows.emplace_back(second, "id-" + std::to_string(i));
    }
  }
  std::sort(rows.begin(), rows.end());
  std::vector<std::string> ids;
  for (auto& r : rows) {
    ids.push_back(r.second);
  }
  return ids;
}

std::vector<std::string> found(Store& store, const std::string& name,
                               std::optional<Micros> since = {}, std::optional<Micros> until = {}) {
  AuditFilter f;
  f.name = name;
  f.since = since;
  f.until = until;
  f.limit = 0;
  auto rows = store.find_audit(f);
  EXPECT_TRUE(rows.is_ok()) << rows.status().to_string();
  std::vector<std::string> ids;
  if (rows) {
    for (const auto& r : *rows) {
      ids.push_back(r.audit_id);
    }
  }
  return ids;
}

Micros second_micros(int s) { return *parse_rfc3339(at_second(s)); }

std::unique_ptr<Store> open_store(const std::string& path, std::size_t merge_rows) {
  StoreOptions options;
  options.index_merge_rows = merge_rows;
  auto store = Store::open(path, options);
  EXPECT_TRUE(store.is_ok()) << store.status().to_string();
  return store ? std::move(*store) : nullptr;
}

TEST(NameIndex, SearchesSeeMergedAndPendingEntries) {
  TempDir dir;
  auto store = open_store(dir.file("k.db"), 37);
  ASSERT_TRUE(store);
  std::vector<int> written;
  for (int b = 0; b < 11; ++b) {  // merges after 40 and 80 events; 30 stay pending
    Batch batch;
    for (int i = b * 10; i < b * 10 + 10; ++i) {
      batch.audit.push_back(named_event(i));
      written.push_back(i);
    }
    ASSERT_TRUE(store->write_batch(batch).is_ok());
    // Every entry is either merged or pending, never both, never lost.
    EXPECT_EQ(scalar(*store, "SELECT count(*) FROM audit_names") +
                  scalar(*store, "SELECT count(*) FROM audit_pending WHERE name_id IS NOT NULL"),
              static_cast<std::int64_t>(written.size()));
    EXPECT_LT(scalar(*store, "SELECT count(*) FROM audit_pending WHERE name_id IS NOT NULL"), 37);
    for (int name = 0; name < 5; ++name) {
      EXPECT_EQ(found(*store, "obj-" + std::to_string(name)), expected(written, name))
          << "after batch " << b << ", obj-" << name;
    }
  }
  EXPECT_GT(scalar(*store, "SELECT count(*) FROM audit_names"), 0);
  EXPECT_GT(scalar(*store, "SELECT count(*) FROM audit_pending WHERE name_id IS NOT NULL"), 0);
  // Time bounds apply to both parts.
  EXPECT_EQ(found(*store, "obj-3", second_micros(100), second_micros(700)),
            expected(written, 3, 100, 700));
  EXPECT_TRUE(found(*store, "obj-9").empty());
  EXPECT_TRUE(found(*store, "alice").empty());  // interned, but as a user, not a name
}

TEST(NameIndex, ReplayAddsNoEntries) {
  TempDir dir;
  auto store = open_store(dir.file("k.db"), 8);
  ASSERT_TRUE(store);
  Batch batch;
  for (int i = 0; i < 20; ++i) {
    batch.audit.push_back(named_event(i));
  }
  ASSERT_TRUE(store->write_batch(batch).is_ok());
  auto again = store->write_batch(batch);
  ASSERT_TRUE(again.is_ok());
  EXPECT_EQ(again->duplicates, 20u);
  EXPECT_EQ(scalar(*store, "SELECT count(*) FROM audit_names") +
                scalar(*store, "SELECT count(*) FROM audit_pending WHERE name_id IS NOT NULL"),
            20);
  std::vector<int> all(20);
  for (int i = 0; i < 20; ++i) all[i] = i;
  EXPECT_EQ(found(*store, "obj-1"), expected(all, 1));
}

TEST(NameIndex, FailedBatchLeavesNoEntries) {
  TempDir dir;
  auto store = open_store(dir.file("k.db"), 4);
  ASSERT_TRUE(store);
  ASSERT_EQ(sqlite3_exec(store->handle(),
                         "CREATE TEMP TRIGGER boom BEFORE INSERT ON main.audit "
                         "WHEN new.audit_id = 'id-9' BEGIN SELECT RAISE(ABORT, 'boom'); END",
                         nullptr, nullptr, nullptr),
            SQLITE_OK);
  Batch batch;
  for (int i = 0; i < 10; ++i) {
    batch.audit.push_back(named_event(i));
  }
  ASSERT_FALSE(store->write_batch(batch).is_ok());
  EXPECT_EQ(scalar(*store, "SELECT count(*) FROM audit_pending WHERE name_id IS NOT NULL"), 0);
  EXPECT_EQ(scalar(*store, "SELECT count(*) FROM audit_names"), 0);
  batch.audit.pop_back();
  ASSERT_TRUE(store->write_batch(batch).is_ok());
  std::vector<int> nine = {0, 1, 2, 3, 4, 5, 6, 7, 8};
  EXPECT_EQ(found(*store, "obj-4"), expected(nine, 4));
  EXPECT_EQ(scalar(*store, "SELECT count(*) FROM audit_names") +
                scalar(*store, "SELECT count(*) FROM audit_pending WHERE name_id IS NOT NULL"),
            9);
}

TEST(NameIndex, ReaderOnAnotherConnectionSeesBothParts) {
  TempDir dir;
  auto store = open_store(dir.file("k.db"), 16);
  ASSERT_TRUE(store);
  std::vector<int> written;
  Batch batch;
  for (int i = 0; i < 25; ++i) {
    batch.audit.push_back(named_event(i));
    written.push_back(i);
  }
  ASSERT_TRUE(store->write_batch(batch).is_ok());
  Batch more;
  for (int i = 25; i < 30; ++i) {
    more.audit.push_back(named_event(i));
    written.push_back(i);
  }
  ASSERT_TRUE(store->write_batch(more).is_ok());
  ASSERT_GT(scalar(*store, "SELECT count(*) FROM audit_pending WHERE name_id IS NOT NULL"), 0);
  StoreOptions ro;
  ro.read_only = true;
  auto reader = Store::open(dir.file("k.db"), ro);
  ASSERT_TRUE(reader.is_ok());
  for (int name = 0; name < 5; ++name) {
    EXPECT_EQ(found(**reader, "obj-" + std::to_string(name)), expected(written, name));
  }
}

TEST(NameIndex, VersionFourStoreIsMigrated) {
  TempDir dir;
  const std::string path = dir.file("k.db");
  {
    // A file at version 4: names only in audit.name, under an ordinary index.
    auto db = sqlite::Db::open(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
    ASSERT_TRUE(db.is_ok());
    ASSERT_TRUE(storage::migrate_to(*db, 4).is_ok());
    ASSERT_EQ(sqlite3_exec(db->get(), "INSERT INTO dict(id, value) VALUES (1, 'alice')", nullptr,
                           nullptr, nullptr),
              SQLITE_OK);
    for (int i = 0; i < 40; ++i) {
      const std::string sql =
          "INSERT INTO audit(key, ts, received, audit_id, stage, level, user_id, name, "
          "event_ref) VALUES (" +
          std::to_string((1000 + i) << 10) + ", " + std::to_string(1000 + i) + ", 0, 'id-" +
          std::to_string(i) + "', 2, 1, 1, 'obj-" + std::to_string(i % 5) + "', 0)";
      ASSERT_EQ(sqlite3_exec(db->get(), sql.c_str(), nullptr, nullptr, nullptr), SQLITE_OK);
    }
  }
  auto store = open_store(path, 1000);
  ASSERT_TRUE(store);
  EXPECT_EQ(scalar(*store, "SELECT count(*) FROM audit_names"), 40);
  EXPECT_EQ(scalar(*store, "SELECT count(*) FROM sqlite_schema WHERE name = 'audit_by_name'"), 0);
  for (int name = 0; name < 5; ++name) {
    std::vector<std::string> want;
    for (int i = name; i < 40; i += 5) {
      want.push_back("id-" + std::to_string(i));
    }
    EXPECT_EQ(found(*store, "obj-" + std::to_string(name)), want);
  }
  // The user 'alice' is interned as before; a name that is only a user matches nothing.
  EXPECT_TRUE(found(*store, "alice").empty());
}

}  // namespace
}  // namespace ktrail
