// Term postings (storage/postings.h, schema version 7): the key-list codec on good and damaged
// blobs, and searches by user, namespace and resource across merges, out-of-order times,
// duplicates, limits and time bounds, checked against a model of what was written; the
// migration from version 6 builds postings for the rows already stored.
#include "storage/postings.h"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <algorithm>
#include <random>
#include <string>
#include <vector>

#include "storage/schema.h"
#include "storage/store.h"
#include "tests/unit/storage/store_test_util.h"

namespace ktrail {
namespace {

using testing::make_event;
using testing::scalar;
using testing::TempDir;

TEST(PostingsCodec, RoundTripsIncreasingKeys) {
  std::mt19937_64 rng(11);
  for (int round = 0; round < 200; ++round) {
    std::vector<std::int64_t> keys;
    std::int64_t key = static_cast<std::int64_t>(rng() >> 2);
    const int n = 1 + static_cast<int>(rng() % 300);
    for (int i = 0; i < n && key < INT64_MAX / 2; ++i) {
      keys.push_back(key);
      // Deltas of every size: neighbours in one microsecond, and hours apart.
      const int bits = static_cast<int>(rng() % 50);
      key += 1 + static_cast<std::int64_t>(rng() & ((std::uint64_t{1} << bits) - 1));
    }
    std::string blob;
    storage::encode_postings(keys, &blob);
    std::vector<std::int64_t> back;
    ASSERT_TRUE(storage::decode_postings(keys.front(), keys.back(),
                                         static_cast<std::int64_t>(keys.size()), blob, &back)
                    .is_ok());
    EXPECT_EQ(back, keys);
  }
}

TEST(PostingsCodec, DamagedBlobsAreErrors) {
  const std::vector<std::int64_t> keys = {1000, 1001, 1300, 90000};
  std::string good;
  storage::encode_postings(keys, &good);
  std::vector<std::int64_t> out;
  ASSERT_TRUE(storage::decode_postings(1000, 90000, 4, good, &out).is_ok());

  struct Case {
    const char* what;
    std::int64_t first, last, count;
    std::string blob;
  };
  const std::vector<Case> cases = {
      {"truncated", 1000, 90000, 4, good.substr(0, good.size() - 1)},
      {"trailing byte", 1000, 90000, 4, good + '\x01'},
      {"count too high", 1000, 90000, 5, good},
      {"count too low", 1000, 90000, 3, good},
      {"count zero", 1000, 90000, 0, good},
      {"last key wrong", 1000, 90001, 4, good},
      {"first after last", 2000, 1000, 2, std::string(1, '\x01')},
      {"single key with a range", 1000, 1001, 1, ""},
      {"zero delta", 1000, 1000, 2, std::string(1, '\0')},
      {"overlong varint", 0, INT64_MAX, 2, std::string(11, '\x80') + '\x01'},
      {"delta past the last key", 0, 5, 2, std::string(1, '\x06')},
      {"huge delta", 0, INT64_MAX, 2, std::string(9, '\xff') + '\x7f'},
  };
  for (const auto& c : cases) {
    out.clear();
    const Status s = storage::decode_postings(c.first, c.last, c.count, c.blob, &out);
    EXPECT_FALSE(s.is_ok()) << c.what;
    EXPECT_NE(s.message().find("audit postings are damaged"), std::string::npos) << c.what;
  }
}

std::string at_second(int s) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "2026-03-01T%02d:%02d:%02dZ", s / 3600, s / 60 % 60, s % 60);
  return buf;
}

// What the model knows of one written event.
struct Written {
  int second;
  std::string id, user, ns, resource, verb;
};

const char* const kUsers[] = {"alice", "bob", "system:kube-scheduler", "system:node:n1"};
const char* const kNamespaces[] = {"default", "shop", "kube-system", ""};
const char* const kResources[] = {"pods", "nodes", "leases"};
const char* const kVerbs[] = {"get", "list", "update"};

// Event i: distinct seconds in an order that goes back and forth (keys arrive out of order).
Written written_event(int i, std::mt19937& rng) {
  return {(i * 7) % 3000 * 3,     "id-" + std::to_string(i), kUsers[rng() % 4],
          kNamespaces[rng() % 4], kResources[rng() % 3],     kVerbs[rng() % 3]};
}

std::vector<std::string> model_search(const std::vector<Written>& all, const AuditFilter& f) {
  std::vector<std::pair<int, std::string>> rows;
  for (const auto& w : all) {
    const Micros t = *parse_rfc3339(at_second(w.second));
    if ((f.user && *f.user != w.user) || (f.namespace_ && *f.namespace_ != w.ns) ||
        (f.resource && *f.resource != w.resource) || (f.verb && *f.verb != w.verb) ||
        (f.since && t < *f.since) || (f.until && t > *f.until)) {
      continue;
    }
    rows.emplace_back(w.second, w.id);
  }
  std::sort(rows.begin(), rows.end());
  if (f.limit > 0 && rows.size() > f.limit) {
    rows.erase(rows.begin(), rows.end() - static_cast<std::ptrdiff_t>(f.limit));
  }
  std::vector<std::string> ids;
  for (auto& r : rows) {
    ids.push_back(r.second);
  }
  return ids;
}

std::vector<std::string> store_search(Store& store, const AuditFilter& f) {
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

AuditFilter random_filter(std::mt19937& rng) {
  AuditFilter f;
  if (rng() % 2) f.user = kUsers[rng() % 4];
  if (rng() % 2) f.namespace_ = kNamespaces[rng() % 3];  // "" means "no namespace": tested apart
  if (rng() % 2) f.resource = kResources[rng() % 3];
  if (rng() % 4 == 0) f.verb = kVerbs[rng() % 3];
  if (rng() % 2) f.since = *parse_rfc3339(at_second(static_cast<int>(rng() % 9000)));
  if (rng() % 2) f.until = *parse_rfc3339(at_second(static_cast<int>(rng() % 9000)));
  const std::size_t limits[] = {0, 1, 7, 100};
  f.limit = limits[rng() % 4];
  return f;
}

std::string describe(const AuditFilter& f) {
  return "user=" + f.user.value_or("*") + " ns=" + f.namespace_.value_or("*") +
         " resource=" + f.resource.value_or("*") + " verb=" + f.verb.value_or("*") +
         " since=" + std::to_string(f.since.value_or(-1)) +
         " until=" + std::to_string(f.until.value_or(-1)) + " limit=" + std::to_string(f.limit);
}

TEST(TermSearch, MatchesTheModelAcrossMerges) {
  TempDir dir;
  StoreOptions options;
  options.index_merge_rows = 53;
  auto store = Store::open(dir.file("k.db"), options);
  ASSERT_TRUE(store.is_ok()) << store.status().to_string();
  std::mt19937 rng(5);
  std::vector<Written> all;
  int next = 0;
  for (int b = 0; b < 25; ++b) {
    Batch batch;
    std::vector<Written> fresh;
    for (int i = 0; i < 20; ++i) {
      const Written w = written_event(next++, rng);
      batch.audit.push_back(make_event(w.id, "ResponseComplete", at_second(w.second),
                                       at_second(w.second), w.user, w.verb, w.resource, w.ns));
      fresh.push_back(w);
    }
    if (b % 5 == 4) {  // a retried batch: nothing new
      batch.audit.push_back(batch.audit.front());
    }
    auto outcome = (*store)->write_batch(batch);
    ASSERT_TRUE(outcome.is_ok()) << outcome.status().to_string();
    all.insert(all.end(), fresh.begin(), fresh.end());
    // Every stored row's user is merged or pending, exactly once.
    EXPECT_EQ(scalar(**store,
                     "SELECT coalesce(sum(count), 0) FROM audit_postings "
                     "WHERE term >> 48 = 1") +
                  scalar(**store, "SELECT count(*) FROM audit_pending"),
              static_cast<std::int64_t>(all.size()));
    for (int q = 0; q < 30; ++q) {
      const AuditFilter f = random_filter(rng);
      EXPECT_EQ(store_search(**store, f), model_search(all, f))
          << "after batch " << b << ": " << describe(f);
    }
  }
  EXPECT_GT(scalar(**store, "SELECT count(*) FROM audit_postings"), 0);
  EXPECT_GT(scalar(**store, "SELECT count(*) FROM audit_pending"), 0);

  // "No namespace" is a filter of its own, not a term.
  AuditFilter none;
  none.namespace_ = "";
  none.user = "alice";
  std::vector<Written> without;
  for (const auto& w : all) {
    if (w.ns.empty()) without.push_back(w);
  }
  AuditFilter alice;
  alice.user = "alice";
  EXPECT_EQ(store_search(**store, none), model_search(without, alice));
  EXPECT_FALSE(store_search(**store, none).empty());

  // A reader on another connection sees the same.
  StoreOptions ro;
  ro.read_only = true;
  auto reader = Store::open(dir.file("k.db"), ro);
  ASSERT_TRUE(reader.is_ok());
  for (int q = 0; q < 30; ++q) {
    const AuditFilter f = random_filter(rng);
    EXPECT_EQ(store_search(**reader, f), model_search(all, f)) << describe(f);
  }
}

TEST(TermSearch, UnknownValueFindsNothing) {
  TempDir dir;
  auto store = Store::open(dir.file("k.db"), StoreOptions{});
  ASSERT_TRUE(store.is_ok());
  Batch batch;
  batch.audit.push_back(make_event("a", "ResponseComplete", at_second(1), at_second(1)));
  ASSERT_TRUE((*store)->write_batch(batch).is_ok());
  AuditFilter f;
  f.user = "mallory";
  EXPECT_TRUE(store_search(**store, f).empty());
  f.user = "default";  // interned, but as a namespace
  EXPECT_TRUE(store_search(**store, f).empty());
  f.user = "alice";
  EXPECT_EQ(store_search(**store, f), std::vector<std::string>{"a"});
}

TEST(TermSearch, DamagedPostingsAreReportedNotSkipped) {
  TempDir dir;
  StoreOptions options;
  options.index_merge_rows = 4;
  auto store = Store::open(dir.file("k.db"), options);
  ASSERT_TRUE(store.is_ok());
  Batch batch;
  for (int i = 0; i < 6; ++i) {
    batch.audit.push_back(
        make_event("id-" + std::to_string(i), "ResponseComplete", at_second(i), at_second(i)));
  }
  ASSERT_TRUE((*store)->write_batch(batch).is_ok());
  ASSERT_EQ(sqlite3_exec((*store)->handle(), "UPDATE audit_postings SET keys = x'00'", nullptr,
                         nullptr, nullptr),
            SQLITE_OK);
  AuditFilter f;
  f.user = "alice";
  auto rows = (*store)->find_audit(f);
  ASSERT_FALSE(rows.is_ok());
  EXPECT_NE(rows.status().message().find("audit postings are damaged"), std::string::npos);
}

// A search reads the postings, then the pending rows, then the audit rows. A merge committed by
// the writer in between must not move keys out of its sight. The trace hook below commits a
// batch that triggers a merge just as the reader's pending-rows statement starts (before it
// reads): the search must still see exactly the events of its snapshot.
struct MergeInTheMiddle {
  Store* writer = nullptr;
  bool fired = false;
  bool write_ok = false;
};

int write_when_pending_is_read(unsigned, void* context, void* stmt, void*) {
  auto* m = static_cast<MergeInTheMiddle*>(context);
  const char* sql = sqlite3_sql(static_cast<sqlite3_stmt*>(stmt));
  if (!m->fired && sql != nullptr &&
      std::string(sql).find("FROM audit_pending") != std::string::npos) {
    m->fired = true;
    Batch batch;
    for (int i = 3; i < 5; ++i) {
      batch.audit.push_back(
          make_event("id-" + std::to_string(i), "ResponseComplete", at_second(i), at_second(i)));
    }
    m->write_ok = m->writer->write_batch(batch).is_ok();
  }
  return 0;
}

TEST(TermSearch, SearchesSeeOneSnapshotAcrossAMerge) {
  TempDir dir;
  StoreOptions options;
  options.index_merge_rows = 4;
  auto store = Store::open(dir.file("k.db"), options);
  ASSERT_TRUE(store.is_ok());
  Batch first;
  for (int i = 0; i < 3; ++i) {
    first.audit.push_back(
        make_event("id-" + std::to_string(i), "ResponseComplete", at_second(i), at_second(i)));
  }
  ASSERT_TRUE((*store)->write_batch(first).is_ok());  // 3 pending, no merge yet
  ASSERT_EQ(scalar(**store, "SELECT count(*) FROM audit_postings"), 0);
  StoreOptions ro;
  ro.read_only = true;
  auto reader = Store::open(dir.file("k.db"), ro);
  ASSERT_TRUE(reader.is_ok()) << reader.status().to_string();

  MergeInTheMiddle m;
  m.writer = store->get();
  sqlite3_trace_v2((*reader)->handle(), SQLITE_TRACE_STMT, write_when_pending_is_read, &m);
  AuditFilter f;
  f.user = "alice";
  const auto during = store_search(**reader, f);
  sqlite3_trace_v2((*reader)->handle(), 0, nullptr, nullptr);
  ASSERT_TRUE(m.fired);
  ASSERT_TRUE(m.write_ok);
  // The second batch merged all five events into postings meanwhile.
  EXPECT_EQ(scalar(**store, "SELECT count(*) FROM audit_pending"), 0);
  EXPECT_EQ(during, (std::vector<std::string>{"id-0", "id-1", "id-2"}));
  EXPECT_EQ(store_search(**reader, f),
            (std::vector<std::string>{"id-0", "id-1", "id-2", "id-3", "id-4"}));
}

TEST(TermSearch, VersionSixStoreGetsPostings) {
  TempDir dir;
  const std::string path = dir.file("k.db");
  std::vector<Written> all;
  {
    auto db = sqlite::Db::open(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
    ASSERT_TRUE(db.is_ok());
    ASSERT_TRUE(storage::migrate_to(*db, 6).is_ok());
    ASSERT_TRUE(db->exec("INSERT INTO dict(id, value) VALUES (1, 'alice'), (2, 'bob'), "
                         "(3, 'pods'), (4, 'nodes'), (5, 'shop'), (6, 'obj')")
                    .is_ok());
    for (int i = 0; i < 300; ++i) {
      const int user = 1 + i % 2;
      const int resource = 3 + i % 3 % 2;
      const bool in_shop = i % 4 != 0;
      const std::int64_t ts = *parse_rfc3339(at_second(i));
      const std::string id = "id-" + std::to_string(i);
      ASSERT_TRUE(db->exec("INSERT INTO audit(key, ts, received, audit_id, stage, level, user_id, "
                           "resource_id, ns_id, name, event_ref) VALUES (" +
                           std::to_string(ts << 10) + ", " + std::to_string(ts) + ", " +
                           std::to_string(ts) + ", '" + id + "', 2, 1, " + std::to_string(user) +
                           ", " + std::to_string(resource) + ", " + (in_shop ? "5" : "NULL") +
                           ", 'obj', 0)")
                      .is_ok());
      if (i >= 290) {  // the last ten wait in the version 5 pending table
        ASSERT_TRUE(db->exec("INSERT INTO audit_names_pending(key, name_id) VALUES (" +
                             std::to_string(ts << 10) + ", 6)")
                        .is_ok());
      } else {
        ASSERT_TRUE(db->exec("INSERT INTO audit_names(name_id, key) VALUES (6, " +
                             std::to_string(ts << 10) + ")")
                        .is_ok());
      }
      all.push_back({i, id, user == 1 ? "alice" : "bob", in_shop ? "shop" : "",
                     resource == 3 ? "pods" : "nodes", ""});
    }
  }
  auto store = Store::open(path, StoreOptions{});
  ASSERT_TRUE(store.is_ok()) << store.status().to_string();
  EXPECT_EQ(scalar(**store, "PRAGMA user_version"), storage::schema_version());
  EXPECT_EQ(scalar(**store, "SELECT count(*) FROM audit_pending"), 0);
  EXPECT_EQ(scalar(**store, "SELECT count(*) FROM audit_names"), 300);
  EXPECT_EQ(scalar(**store, "SELECT count(*) FROM sqlite_schema WHERE name = 'audit_by_user'"), 0);
  // alice, bob, pods, nodes, shop: one row each.
  EXPECT_EQ(scalar(**store, "SELECT count(*) FROM audit_postings"), 5);
  std::mt19937 rng(9);
  for (int q = 0; q < 40; ++q) {
    AuditFilter f = random_filter(rng);
    f.verb.reset();
    EXPECT_EQ(store_search(**store, f), model_search(all, f)) << describe(f);
  }
  AuditFilter named;
  named.name = "obj";
  named.user = "bob";
  named.limit = 0;
  AuditFilter bob;
  bob.user = "bob";
  EXPECT_EQ(store_search(**store, named), model_search(all, bob));
}

}  // namespace
}  // namespace ktrail
