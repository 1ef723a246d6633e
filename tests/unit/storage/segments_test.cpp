// Sealed segments on real SQLite files: the column codec, sealing, every search over hot rows
// and segments together, replays and late events (stored once, found), the background sealer,
// and a `ktrail ingest` SIGKILLed while sealing.
#include "storage/segments.h"

#include <gtest/gtest.h>
#include <fcntl.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <random>
#include <set>
#include <sstream>
#include <thread>
#include <tuple>

#include "core/time.h"
#include "storage/event_codec.h"
#include "storage/readonly_sql.h"
#include "storage/segment_codec.h"
#include "tests/support/process.h"
#include "tests/unit/storage/store_test_util.h"

namespace ktrail {
namespace {

using testing::make_event;
using testing::scalar;
using testing::TempDir;

constexpr Micros kHour = 3600LL * 1000000;

std::string uuid(std::uint64_t n) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%08llx-0000-4000-8000-%012llx",
                static_cast<unsigned long long>(n >> 20), static_cast<unsigned long long>(n));
  return buf;
}

std::string rfc3339(Micros t) { return format_rfc3339(t); }

// `n` events spread over `hours` hours from 2026-03-01T10:00Z, several users, verbs and names;
// every 7th auditID is not a UUID (the codec keeps those as text).
std::vector<AuditEvent> events(std::size_t n, int hours, std::uint64_t seed = 1) {
  const Micros start = 1772359200000000;
  std::mt19937_64 rng(seed);
  const char* users[] = {"alice", "bob", "system:node:n1", "system:serviceaccount:x:y"};
  const char* verbs[] = {"get", "list", "update", "create", "delete"};
  const char* resources[] = {"pods", "secrets", "configmaps", "leases"};
  const char* namespaces[] = {"default", "prod", "kube-system"};
  std::vector<AuditEvent> out;
  for (std::size_t i = 0; i < n; ++i) {
    const Micros t = start + static_cast<Micros>(i) * (hours * kHour / static_cast<Micros>(n)) +
                     static_cast<Micros>(rng() % 1000);
    const std::string id = i % 7 == 3 ? "custom-id-" + std::to_string(i) : uuid(seed * 1000003 + i);
    out.push_back(make_event(id, "ResponseComplete", rfc3339(t - 150), rfc3339(t),
                             users[rng() % 4], verbs[rng() % 5], resources[rng() % 4],
                             namespaces[rng() % 3], "obj-" + std::to_string(rng() % 50),
                             rng() % 10 == 0 ? 403 : 200));
  }
  return out;
}

Batch batch_of(const std::vector<AuditEvent>& e) {
  Batch b;
  b.origin = "test";
  b.audit = e;
  return b;
}

std::unique_ptr<Store> open_store(const std::string& path, StoreOptions options = {}) {
  auto store = Store::open(path, options);
  EXPECT_TRUE(store.is_ok()) << store.status().to_string();
  return store ? std::move(*store) : nullptr;
}

using Row = std::tuple<Micros, Micros, std::string, int, int, int, std::string, std::string,
                       std::string, std::string, std::string, std::string, std::string, std::string,
                       std::string, std::string, int, std::string>;

std::vector<Row> rows_of(const std::vector<StoredAudit>& found) {
  std::vector<Row> out;
  for (const auto& r : found) {
    out.emplace_back(r.time, r.received, r.audit_id, static_cast<int>(r.stage),
                     static_cast<int>(r.level), static_cast<int>(r.level_received), r.verb, r.user,
                     r.groups, r.impersonated_user, r.resource, r.subresource, r.namespace_,
                     r.name, r.source_ips, r.user_agent, r.code, r.event);
  }
  return out;
}

std::vector<Row> search(Store& store, const AuditFilter& f, std::size_t* matched = nullptr) {
  auto found = store.find_audit(f, matched);
  EXPECT_TRUE(found.is_ok()) << found.status().to_string();
  return found ? rows_of(*found) : std::vector<Row>{};
}

// A set of searches that together touch every filter of AuditFilter.
std::vector<AuditFilter> filters() {
  std::vector<AuditFilter> out;
  AuditFilter all;
  all.with_event = true;
  out.push_back(all);
  AuditFilter f;
  f.user = "alice";
  out.push_back(f);
  f = {};
  f.user_or_impersonated = "bob";
  f.limit = 25;
  out.push_back(f);
  f = {};
  f.verbs = {"create", "delete"};
  f.namespace_ = "prod";
  out.push_back(f);
  f = {};
  f.resource = "secrets";
  f.code_ranges = {{400, 499}};
  f.with_event = true;
  out.push_back(f);
  f = {};
  f.name = "obj-7";
  out.push_back(f);
  f = {};
  f.verb = "get";
  f.code = 200;
  f.since = 1772359200000000 + kHour / 2;
  f.until = 1772359200000000 + 2 * kHour + kHour / 3;
  out.push_back(f);
  f = {};
  f.limit = 10;
  f.with_event = true;
  out.push_back(f);
  f = {};
  f.user = "nobody-at-all";
  out.push_back(f);
  return out;
}

TEST(SegmentCodec, ColumnsRoundTripAndDamageIsAnError) {
  storage::SegmentColumns c;
  std::mt19937_64 rng(7);
  std::int64_t key = std::int64_t{1772359200000000} << storage::kSlotBits;
  for (int i = 0; i < 5000; ++i) {
    key += 1 + static_cast<std::int64_t>(rng() % 100000);
    c.key.push_back(key);
    c.ts.push_back((key >> storage::kSlotBits) - (i % 50 == 0 ? 3 : 0));
    c.received.push_back(c.ts.back() - static_cast<std::int64_t>(rng() % 5000));
    c.audit_id.push_back(i % 3 == 0 ? "Not-A-UUID-" + std::to_string(i) : uuid(rng()));
    c.stage.push_back(static_cast<std::uint8_t>(rng() % 4));
    c.level.push_back(static_cast<std::uint8_t>(rng() % 4));
    c.level_received.push_back(static_cast<std::uint8_t>(rng() % 4));
    c.code.push_back(i % 11 == 0 ? 0 : 200 + static_cast<int>(rng() % 300));
    for (auto& col : c.ids) {
      col.push_back(rng() % 4 == 0 ? 0 : static_cast<std::int64_t>(rng() % 100000));
    }
  }
  const std::string blob = storage::encode_columns(c, 3);
  auto back = storage::decode_columns(blob);
  ASSERT_TRUE(back.is_ok()) << back.status().to_string();
  EXPECT_EQ(back->key, c.key);
  EXPECT_EQ(back->ts, c.ts);
  EXPECT_EQ(back->received, c.received);
  EXPECT_EQ(back->audit_id, c.audit_id);
  EXPECT_EQ(back->stage, c.stage);
  EXPECT_EQ(back->level, c.level);
  EXPECT_EQ(back->level_received, c.level_received);
  EXPECT_EQ(back->code, c.code);
  EXPECT_EQ(back->ids, c.ids);
  EXPECT_LT(blob.size(), c.size() * 40);

  std::string damaged = blob;
  damaged[damaged.size() / 2] ^= 0x5a;
  EXPECT_FALSE(storage::decode_columns(damaged).is_ok());
  EXPECT_FALSE(storage::decode_columns(blob.substr(0, blob.size() - 9)).is_ok());

  const auto filter = storage::SegmentFilter::build(c);
  auto decoded = storage::SegmentFilter::decode(filter.encode());
  ASSERT_TRUE(decoded.is_ok());
  for (std::size_t i = 0; i < c.size(); ++i) {
    ASSERT_TRUE(decoded->may_hold(storage::kUser, c.ids[storage::kUser][i]));
    ASSERT_TRUE(decoded->may_hold(storage::kName, c.ids[storage::kName][i]));
  }
  EXPECT_FALSE(decoded->may_hold(storage::kUser, 100001));
}

TEST(Segments, EverySearchAnswersTheSameBeforeAndAfterSealing) {
  TempDir dir;
  auto store = open_store(dir.file("k.db"));
  const auto written = events(6000, 5);
  ASSERT_TRUE(store->write_batch(batch_of(written)).is_ok());
  std::vector<std::vector<Row>> before;
  std::vector<std::size_t> matched_before;
  for (const auto& f : filters()) {
    std::size_t matched = 0;
    before.push_back(search(*store, f, &matched));
    matched_before.push_back(matched);
  }
  ASSERT_EQ(before[0].size(), written.size());

  auto sealed = store->seal_due(kHour / 2);
  ASSERT_TRUE(sealed.is_ok()) << sealed.status().to_string();
  // Five hours in partitions of one hour; the newest is less than 30 min old, so not due.
  EXPECT_GT(*sealed, 3000);
  EXPECT_LT(*sealed, 6000);
  EXPECT_GE(scalar(*store, "SELECT count(*) FROM segments"), 4);
  EXPECT_EQ(scalar(*store, "SELECT count(*) FROM audit"), 6000 - *sealed);
  EXPECT_EQ(store->counts()->audit, 6000);
  // Blocks whose events all moved are gone; the name index keeps no sealed key.
  EXPECT_LT(scalar(*store, "SELECT count(*) FROM event_blocks"), 6000 / 128 + 1);
  EXPECT_EQ(scalar(*store, "SELECT count(*) FROM audit_names n WHERE NOT EXISTS "
                           "(SELECT 1 FROM audit a WHERE a.key = n.key)"),
            0);

  const auto all = filters();
  for (std::size_t i = 0; i < all.size(); ++i) {
    std::size_t matched = 0;
    EXPECT_EQ(search(*store, all[i], &matched), before[i]) << "search " << i;
    EXPECT_EQ(matched, matched_before[i]) << "search " << i;
  }
  // A reader in another connection sees the same.
  StoreOptions ro;
  ro.read_only = true;
  auto reader = open_store(dir.file("k.db"), ro);
  EXPECT_EQ(search(*reader, all[0]), before[0]);
}

TEST(Segments, ReplayAndLateEventsAreStoredExactlyOnceAndFound) {
  TempDir dir;
  auto store = open_store(dir.file("k.db"));
  const auto written = events(3000, 4);
  ASSERT_TRUE(store->write_batch(batch_of(written)).is_ok());
  ASSERT_TRUE(store->seal_due(kHour / 2).is_ok());
  ASSERT_GE(scalar(*store, "SELECT count(*) FROM segments"), 3);

  // A replay of everything: all duplicates, sealed or hot.
  auto again = store->write_batch(batch_of(written));
  ASSERT_TRUE(again.is_ok());
  EXPECT_EQ(again->stored, 0u);
  EXPECT_EQ(again->duplicates, written.size());

  // A late event for the first, sealed hour: stored once, found, and sealed again later.
  const Micros late_time = 1772359200000000 + 1234567;
  AuditEvent late = make_event(uuid(999999999), "ResponseComplete", rfc3339(late_time - 10),
                               rfc3339(late_time), "late-user", "get", "pods", "default", "web");
  auto stored = store->write_batch(batch_of({late}));
  ASSERT_TRUE(stored.is_ok());
  EXPECT_EQ(stored->stored, 1u);
  EXPECT_EQ(store->write_batch(batch_of({late}))->duplicates, 1u);
  AuditFilter by_user;
  by_user.user = "late-user";
  EXPECT_EQ(search(*store, by_user).size(), 1u);

  const auto segments = scalar(*store, "SELECT count(*) FROM segments");
  auto resealed = store->seal_due(kHour / 2);
  ASSERT_TRUE(resealed.is_ok());
  EXPECT_EQ(*resealed, 1);
  EXPECT_EQ(scalar(*store, "SELECT count(*) FROM segments"), segments + 1);
  EXPECT_EQ(store->write_batch(batch_of({late}))->duplicates, 1u);
  EXPECT_EQ(search(*store, by_user).size(), 1u);
  EXPECT_EQ(store->counts()->audit, 3001);
  AuditFilter all;
  EXPECT_EQ(search(*store, all).size(), 3001u);
}

// The same events in two clusters, sealed: each cluster's replay is a duplicate in its own
// cluster only, a third cluster stores them anew, and searches by cluster read sealed rows.
TEST(Segments, SealedRowsKeepTheirCluster) {
  TempDir dir;
  auto store = open_store(dir.file("k.db"));
  const auto written = events(1200, 3);
  Batch east = batch_of(written);
  east.cluster = "east";
  Batch west = batch_of(written);
  west.cluster = "west";
  ASSERT_EQ(store->write_batch(east)->stored, written.size());
  ASSERT_EQ(store->write_batch(west)->stored, written.size());
  ASSERT_TRUE(store->seal_due(kHour / 2).is_ok());
  ASSERT_GE(scalar(*store, "SELECT count(*) FROM segments"), 2);
  ASSERT_LT(scalar(*store, "SELECT count(*) FROM audit"), static_cast<std::int64_t>(written.size()));
  EXPECT_EQ(store->write_batch(east)->duplicates, written.size());
  EXPECT_EQ(store->write_batch(west)->duplicates, written.size());
  Batch north = batch_of(written);
  north.cluster = "north";
  EXPECT_EQ(store->write_batch(north)->stored, written.size());
  AuditFilter only_west;
  only_west.clusters = {"west"};
  auto found = store->find_audit(only_west);
  ASSERT_TRUE(found.is_ok()) << found.status().to_string();
  EXPECT_EQ(found->size(), written.size());
  EXPECT_TRUE(std::all_of(found->begin(), found->end(),
                          [](const StoredAudit& r) { return r.cluster == "west"; }));
  AuditFilter two;
  two.clusters = {"east", "north"};
  two.user = "alice";
  AuditFilter alice;
  alice.user = "alice";
  EXPECT_EQ(search(*store, two).size() * 3, search(*store, alice).size() * 2);
  EXPECT_EQ(store->counts()->audit, static_cast<std::int64_t>(3 * written.size()));
}

// Segments sealed before clusters existed (column layouts 1 and 2) read as cluster 0,
// "default"; layout 3 keeps every row's cluster, in whole and selective decoding.
TEST(SegmentCodec, LayoutsWithoutClustersReadAsTheDefaultCluster) {
  storage::SegmentColumns c;
  for (int i = 0; i < 300; ++i) {
    c.key.push_back((std::int64_t{1772359200000000} + i) << storage::kSlotBits);
    c.ts.push_back(1772359200000000 + i);
    c.received.push_back(1772359200000000 + i - 5);
    c.audit_id.push_back(uuid(static_cast<std::uint64_t>(i)));
    c.stage.push_back(2);
    c.level.push_back(1);
    c.level_received.push_back(1);
    c.code.push_back(200);
    for (auto& col : c.ids) {
      col.push_back(i % 5);
    }
    c.cluster.push_back(i % 3 == 0 ? 0 : 1000 + i);
  }
  const std::string blob = storage::encode_columns(c, 3);
  EXPECT_EQ(blob[0], '\3');
  auto back = storage::decode_columns(blob);
  ASSERT_TRUE(back.is_ok()) << back.status().to_string();
  EXPECT_EQ(back->cluster, c.cluster);
  EXPECT_EQ(back->ids, c.ids);
  storage::ColumnSelection only_clusters;
  only_clusters.cluster = true;
  storage::SegmentColumns out;
  std::string plain;
  auto extent = storage::selected_columns_extent(
      std::string_view(blob).substr(0, storage::kColumnsHeadBytes), blob.size(), only_clusters);
  ASSERT_TRUE(extent.is_ok()) << extent.status().to_string();
  EXPECT_LT(*extent, blob.size());  // the clusters come before the times and auditIDs
  auto n = storage::decode_selected_columns(std::string_view(blob).substr(0, *extent),
                                            blob.size(), only_clusters, &out, &plain);
  ASSERT_TRUE(n.is_ok()) << n.status().to_string();
  EXPECT_EQ(out.cluster, c.cluster);
  EXPECT_TRUE(out.ts.empty());
  for (const int old : {1, 2}) {
    SCOPED_TRACE("layout " + std::to_string(old));
    const std::string old_blob = storage::encode_columns(c, 3, old);
    EXPECT_EQ(old_blob[0], static_cast<char>(old));
    auto decoded = storage::decode_columns(old_blob);
    ASSERT_TRUE(decoded.is_ok()) << decoded.status().to_string();
    EXPECT_EQ(decoded->cluster, std::vector<std::int64_t>(c.size(), 0));
    EXPECT_EQ(decoded->audit_id, c.audit_id);
    auto selected = storage::decode_selected_columns(old_blob, only_clusters, &out, &plain);
    ASSERT_TRUE(selected.is_ok()) << selected.status().to_string();
    EXPECT_EQ(out.cluster, std::vector<std::int64_t>(c.size(), 0));
  }
  // A damaged cluster section is an error, as is every cut of the blob.
  std::string damaged = blob;
  damaged[*extent - 3] ^= 0x21;
  EXPECT_FALSE(storage::decode_columns(damaged).is_ok());
  for (std::size_t cut = 0; cut < blob.size(); cut += 1 + blob.size() / 53) {
    EXPECT_FALSE(storage::decode_columns(blob.substr(0, cut)).is_ok()) << cut;
  }
}

TEST(Segments, TheStoresThreadSealsOffTheWriter) {
  TempDir dir;
  StoreOptions options;
  options.seal_after = kHour / 2;
  auto store = open_store(dir.file("k.db"), options);
  const auto written = events(4000, 4);
  AuditFilter all;
  all.with_event = true;
  // Written in batches, as a server would; the sealer works meanwhile.
  for (std::size_t i = 0; i < written.size(); i += 200) {
    std::vector<AuditEvent> part(written.begin() + static_cast<std::ptrdiff_t>(i),
                                 written.begin() + static_cast<std::ptrdiff_t>(i + 200));
    ASSERT_TRUE(store->write_batch(batch_of(part)).is_ok());
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (scalar(*store, "SELECT count(DISTINCT range_start) FROM segments") < 3 &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_GE(scalar(*store, "SELECT count(DISTINCT range_start) FROM segments"), 3);
  EXPECT_EQ(store->seal_errors(), 0);
  EXPECT_EQ(search(*store, all).size(), written.size());
  EXPECT_EQ(store->counts()->audit, 4000);
}

// Runs `ktrail ARGS`; returns its pid.
pid_t spawn_ktrail(const std::vector<std::string>& args) {
  const pid_t pid = fork();
  if (pid == 0) {
    std::vector<char*> argv;
    argv.push_back(const_cast<char*>("ktrail"));
    for (const auto& a : args) {
      argv.push_back(const_cast<char*>(a.c_str()));
    }
    argv.push_back(nullptr);
    const int null = ::open("/dev/null", O_WRONLY);
    dup2(null, 1);
    dup2(null, 2);
    execv(KTRAIL_BINARY, argv.data());
    _exit(127);
  }
  return pid;
}

int run_to_end(const std::vector<std::string>& args) {
  const pid_t pid = spawn_ktrail(args);
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

std::int64_t count_on_file(const std::string& path, const char* sql) {
  sqlite3* db = nullptr;
  std::int64_t v = -1;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK) {
    sqlite3_busy_timeout(db, 1000);
    sqlite3_stmt* st = nullptr;
    if (sqlite3_prepare_v2(db, sql, -1, &st, nullptr) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW) {
      v = sqlite3_column_int64(st, 0);
    }
    sqlite3_finalize(st);
  }
  sqlite3_close(db);
  return v;
}

TEST(Segments, KillDuringSealingLosesNothingAndDoublesNothing) {
  TempDir dir;
  const std::string db = dir.file("k.db");
  const std::string log = dir.file("audit.jsonl");
  const std::string empty = dir.file("empty.jsonl");
  const std::size_t n = 40000;
  const auto written = events(n, 40, 3);
  std::set<std::string> ids;
  {
    std::ofstream out(log);
    for (const auto& e : written) {
      out << e.json << "\n";
      ids.insert(e.audit_id);
    }
    std::ofstream(empty).close();
  }
  auto first = run_to_end({"ingest", "--db", db, "--progress", "never",
                                             "--detect-rules", "none", log});
  ASSERT_EQ(first, 0);
  ASSERT_EQ(count_on_file(db, "SELECT count(*) FROM audit"), static_cast<std::int64_t>(n));

  auto check = [&](const char* when) {
    auto store = open_store(db);
    ASSERT_NE(store, nullptr);
    EXPECT_EQ(store->counts()->audit, static_cast<std::int64_t>(n)) << when;
    auto found = store->find_audit(AuditFilter{});
    ASSERT_TRUE(found.is_ok()) << found.status().to_string();
    std::set<std::string> seen;
    for (const auto& r : *found) {
      seen.insert(r.audit_id);
    }
    EXPECT_EQ(found->size(), n) << when;
    EXPECT_EQ(seen, ids) << when;
    EXPECT_EQ(scalar(*store, "SELECT count(*) FROM segments s WHERE EXISTS (SELECT 1 FROM audit a "
                             "WHERE a.key BETWEEN s.first_key AND s.last_key)"),
              0)
        << when;
  };
  // SIGKILL as soon as the sealing has committed 1, then 3, then 6 segments: each time it is
  // in the middle of reading, compressing or committing the next one.
  std::int64_t segments = 0;
  for (const std::int64_t at : {1, 3, 6}) {
    const pid_t pid = spawn_ktrail({"ingest", "--db", db, "--progress", "never", "--detect-rules",
                                    "none", "--seal-after", "1h", "--partition", "30m", empty});
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
    while (count_on_file(db, "SELECT count(*) FROM segments") < at &&
           std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    kill(pid, SIGKILL);
    int status = 0;
    waitpid(pid, &status, 0);
    check("after SIGKILL");
    segments = count_on_file(db, "SELECT count(*) FROM segments");
    EXPECT_GE(segments, at);
  }
  EXPECT_LT(segments, 77);  // killed before the end: 77 partitions of 30 min are due
  ASSERT_EQ(run_to_end({"ingest", "--db", db, "--progress", "never",
                                          "--detect-rules", "none", "--seal-after", "1h",
                                          "--partition", "30m", empty}),
            0);
  check("after sealing to the end");
  EXPECT_EQ(count_on_file(db, "SELECT count(*) FROM segments"), 77);
  EXPECT_EQ(count_on_file(db, "SELECT count(*) FROM pragma_integrity_check WHERE integrity_check "
                              "<> 'ok'"),
            0);
}

void exec_on_file(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  char* error = nullptr;
  const int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &error);
  EXPECT_EQ(rc, SQLITE_OK) << (error != nullptr ? error : "") << " in " << sql;
  sqlite3_free(error);
  sqlite3_close(db);
}

class SegmentChain : public ::testing::Test {
 protected:
  void SetUp() override {
    original_ = dir_.file("sealed.db");
    auto store = open_store(original_);
    ASSERT_TRUE(store->write_batch(batch_of(events(3000, 7, 5))).is_ok());
    ASSERT_TRUE(store->seal_due(kHour / 2).is_ok());
    ASSERT_EQ(scalar(*store, "SELECT count(*) FROM segments"), 6);
  }
  // A copy of the sealed store, changed by `sql`.
  std::string tampered(const std::string& sql) {
    const std::string path = dir_.file("copy-" + std::to_string(++copies_) + ".db");
    std::filesystem::copy_file(original_, path);
    if (!sql.empty()) {
      exec_on_file(path, sql);
    }
    return path;
  }
  testing::CommandResult verify(const std::string& path, std::vector<std::string> more = {}) {
    std::vector<std::string> args = {"verify", "--db", path};
    args.insert(args.end(), more.begin(), more.end());
    return testing::run_ktrail(args);
  }

  TempDir dir_;
  std::string original_;
  int copies_ = 0;
};

TEST_F(SegmentChain, AnUntouchedStoreVerifiesAndPrintsItsHead) {
  const auto ok = verify(tampered(""));
  EXPECT_EQ(ok.exit_code, 0) << ok.out << ok.err;
  EXPECT_NE(ok.out.find("ok: 6 segments"), std::string::npos) << ok.out;
  const auto head = verify(tampered(""), {"--head"});
  EXPECT_EQ(head.exit_code, 0);
  ASSERT_EQ(head.out.size(), 65u) << head.out;
  EXPECT_NE(ok.out.find(head.out.substr(0, 64)), std::string::npos);
  EXPECT_EQ(verify(tampered(""), {"--expect-head", head.out.substr(0, 64)}).exit_code, 0);
}

TEST_F(SegmentChain, AnEditedEventOrRowNamesItsSegment) {
  // One byte of the original events of segment 3.
  auto r = verify(tampered("UPDATE segment_frames SET data = substr(data, 1, 40) || "
                           "x'00' || substr(data, 42) WHERE segment_id = 3 AND frame = 0"));
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.out.find("segment 3 "), std::string::npos) << r.out;
  // The columns (user, verb, ... ids) of segment 4.
  r = verify(tampered("UPDATE segment_columns SET columns = substr(columns, 1, 30) || x'01' || "
                      "substr(columns, 32) WHERE segment_id = 4"));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.out.find("segment 4 "), std::string::npos) << r.out;
  // Its stated count or time range.
  r = verify(tampered("UPDATE segments SET max_ts = max_ts + 1 WHERE id = 2"));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.out.find("segment 2 "), std::string::npos) << r.out;
  // A frame removed.
  r = verify(tampered("DELETE FROM segment_frames WHERE segment_id = 5"));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.out.find("segment 5 "), std::string::npos) << r.out;
}

TEST_F(SegmentChain, ARemovedOrReorderedSegmentIsNamed) {
  auto r = verify(tampered("DELETE FROM segments WHERE id = 3; "
                           "DELETE FROM segment_columns WHERE segment_id = 3; "
                           "DELETE FROM segment_frames WHERE segment_id = 3"));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.out.find("segment 4 "), std::string::npos) << r.out;
  // Segments 2 and 3 swapped (rows, columns and frames follow their ids).
  r = verify(tampered(
      "UPDATE segments SET id = -2 WHERE id = 2; UPDATE segments SET id = 2 WHERE id = 3; "
      "UPDATE segments SET id = 3 WHERE id = -2; "
      "UPDATE segment_columns SET segment_id = -2 WHERE segment_id = 2; "
      "UPDATE segment_columns SET segment_id = 2 WHERE segment_id = 3; "
      "UPDATE segment_columns SET segment_id = 3 WHERE segment_id = -2; "
      "UPDATE segment_frames SET segment_id = -2 WHERE segment_id = 2; "
      "UPDATE segment_frames SET segment_id = 2 WHERE segment_id = 3; "
      "UPDATE segment_frames SET segment_id = 3 WHERE segment_id = -2"));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.out.find("segment 2 "), std::string::npos) << r.out;
  // The newest segment removed: the chain left is whole, but the recorded head is gone.
  const auto head = verify(tampered(""), {"--head"}).out.substr(0, 64);
  r = verify(tampered("DELETE FROM segments WHERE id = 6"), {"--expect-head", head});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.out.find("not in the chain"), std::string::npos) << r.out;
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    out.push_back(line);
  }
  return out;
}

TEST(SegmentExport, GivesBackEveryEventAsStoredInTimeOrderAndReingestsToTheSameStore) {
  TempDir dir;
  const std::string db = dir.file("k.db");
  {
    auto store = open_store(db);
    ASSERT_TRUE(store->write_batch(batch_of(events(3000, 4, 9))).is_ok());
    ASSERT_TRUE(store->seal_due(kHour / 2).is_ok());
    // A late event in a sealed hour, hot, between sealed rows.
    const Micros t = 1772359200000000 + kHour + 777;
    ASSERT_EQ(store->write_batch(batch_of({make_event(uuid(424242), "ResponseComplete",
                                                      rfc3339(t - 5), rfc3339(t))}))
                  ->stored,
              1u);
    ASSERT_GE(scalar(*store, "SELECT count(*) FROM segments"), 3);
    ASSERT_GT(scalar(*store, "SELECT count(*) FROM audit"), 500);
  }
  StoreOptions ro;
  ro.read_only = true;
  auto reader = open_store(db, ro);
  AuditFilter all;
  all.with_event = true;
  const auto expected = search(*reader, all);
  std::vector<std::string> exported;
  ASSERT_TRUE(reader
                  ->export_audit(0, INT64_MAX,
                                 [&](std::string_view e) {
                                   exported.emplace_back(e);
                                   return Status::ok();
                                 })
                  .is_ok());
  ASSERT_EQ(exported.size(), expected.size());
  for (std::size_t i = 0; i < expected.size(); ++i) {
    ASSERT_EQ(exported[i], std::get<17>(expected[i])) << i;
  }
  // A window: exactly the events of that time.
  AuditFilter window;
  window.with_event = true;
  window.since = 1772359200000000 + kHour / 3;
  window.until = 1772359200000000 + 3 * kHour + kHour / 4;
  const auto in_window = search(*reader, window);
  const auto cli = testing::run_ktrail({"export", "--db", db, "--since", rfc3339(*window.since),
                                        "--until", rfc3339(*window.until)});
  ASSERT_EQ(cli.exit_code, 0) << cli.err;
  const auto cli_lines = lines_of(cli.out);
  ASSERT_EQ(cli_lines.size(), in_window.size());
  for (std::size_t i = 0; i < in_window.size(); ++i) {
    ASSERT_EQ(cli_lines[i], std::get<17>(in_window[i])) << i;
  }

  // The whole store as jsonl.gz, ingested into a new store and into the same one.
  const std::string archive = dir.file("all.jsonl.gz");
  ASSERT_EQ(testing::run_ktrail({"export", "--db", db, "-o", "jsonl.gz", "--out", archive}).exit_code,
            0);
  const std::string copy = dir.file("copy.db");
  auto ingest = testing::run_ktrail({"ingest", "--db", copy, "--progress", "never",
                                     "--detect-rules", "none", "-o", "json", archive});
  ASSERT_EQ(ingest.exit_code, 0) << ingest.err;
  EXPECT_NE(ingest.out.find("\"stored\":3001,"), std::string::npos) << ingest.out;
  auto copied = open_store(copy, ro);
  EXPECT_EQ(search(*copied, all), expected);
  reader.reset();
  auto again = testing::run_ktrail({"ingest", "--db", db, "--progress", "never", "--detect-rules",
                                    "none", "-o", "json", archive});
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_NE(again.out.find("\"stored\":0,\"duplicates\":3001"), std::string::npos) << again.out;
}

TEST(SegmentPrune, RemovesWholeOldSegmentsAndTheChainStillVerifies) {
  TempDir dir;
  const std::string db = dir.file("k.db");
  {
    auto store = open_store(db);
    ASSERT_TRUE(store->write_batch(batch_of(events(3000, 7, 11))).is_ok());
    ASSERT_TRUE(store->seal_due(kHour / 2).is_ok());
    ASSERT_EQ(scalar(*store, "SELECT count(*) FROM segments"), 6);
  }
  const std::int64_t in_first_two = count_on_file(
      db, "SELECT sum(count) FROM segments WHERE id <= 2");
  // Before 12:00: the segments of 10:00 and 11:00 go, nothing else.
  auto pruned = testing::run_ktrail({"prune", "--db", db, "--before", "2026-03-01T12:00:00Z"});
  ASSERT_EQ(pruned.exit_code, 0) << pruned.err;
  EXPECT_NE(pruned.out.find("removed 2 segments (" + std::to_string(in_first_two) + " events)"),
            std::string::npos)
      << pruned.out;
  EXPECT_EQ(count_on_file(db, "SELECT min(id) FROM segments"), 3);
  EXPECT_EQ(count_on_file(db, "SELECT count(*) FROM segment_frames WHERE segment_id <= 2"), 0);
  {
    auto store = open_store(db);
    EXPECT_EQ(store->counts()->audit, 3000 - in_first_two);
    AuditFilter early;
    early.until = 1772359200000000 + 2 * kHour - 1;
    EXPECT_TRUE(search(*store, early).empty());
    // Sealing goes on after a prune; the chain left verifies, and so does its continuation.
    const Micros t = 1772359200000000 + 8 * kHour + kHour / 2;
    ASSERT_TRUE(store->write_batch(batch_of({make_event(uuid(77), "ResponseComplete",
                                                        rfc3339(t - 5), rfc3339(t))}))
                    .is_ok());
    ASSERT_TRUE(store->seal_due(kHour / 2).is_ok());
    EXPECT_EQ(scalar(*store, "SELECT max(id) FROM segments"), 7);
  }
  const auto ok = testing::run_ktrail({"verify", "--db", db});
  EXPECT_EQ(ok.exit_code, 0) << ok.out << ok.err;
  EXPECT_NE(ok.out.find("ok: 5 segments"), std::string::npos) << ok.out;
  // Removing what prune keeps (the record of the last pruned hash) is noticed.
  exec_on_file(db, "DELETE FROM store_meta WHERE key = 'segments_pruned_hash'");
  const auto broken = testing::run_ktrail({"verify", "--db", db});
  EXPECT_EQ(broken.exit_code, 1);
  EXPECT_NE(broken.out.find("segment 3 "), std::string::npos) << broken.out;
}

TEST(SegmentPrune, RetentionDropsOldSegmentsAsTheStoreGoesOn) {
  TempDir dir;
  StoreOptions options;
  options.seal_after = kHour / 2;
  options.retention = 3 * kHour + kHour / 2;
  auto store = open_store(dir.file("k.db"), options);
  const auto written = events(3000, 8, 13);
  for (std::size_t i = 0; i < written.size(); i += 300) {
    std::vector<AuditEvent> part(written.begin() + static_cast<std::ptrdiff_t>(i),
                                 written.begin() + static_cast<std::ptrdiff_t>(i + 300));
    ASSERT_TRUE(store->write_batch(batch_of(part)).is_ok());
  }
  // Newest ~17:59: segments whose events all precede ~14:29 go (10:00 .. 13:00).
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (scalar(*store, "SELECT coalesce(min(range_start), 0) FROM segments") <
             1772359200000000 + 4 * kHour &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_EQ(scalar(*store, "SELECT min(range_start) FROM segments"), 1772359200000000 + 4 * kHour);
  EXPECT_EQ(store->seal_errors(), 0);
  AuditFilter early;
  early.until = 1772359200000000 + 4 * kHour - 1;
  EXPECT_TRUE(search(*store, early).empty());
  AuditFilter later;
  later.since = 1772359200000000 + 4 * kHour;
  EXPECT_EQ(search(*store, later).size(), 1500u);
}

// Every row of `sql`'s answer as text, for comparing answers.
std::vector<std::string> sql_rows(const std::string& db, const std::string& sql) {
  auto result = run_readonly_sql(db, sql);
  EXPECT_TRUE(result.is_ok()) << result.status().to_string() << " in " << sql;
  std::vector<std::string> out;
  if (!result) {
    return out;
  }
  for (const auto& row : result->rows) {
    std::string line;
    for (const auto& v : row) {
      line += (v.kind == SqlValue::Kind::kNull ? "NULL"
               : v.kind == SqlValue::Kind::kInt ? std::to_string(v.integer)
                                                : v.text) +
              "|";
    }
    out.push_back(line);
  }
  return out;
}

TEST(SegmentSql, KtrailSqlAnswersTheSameBeforeAndAfterSealing) {
  TempDir dir;
  const std::string db = dir.file("k.db");
  const std::vector<std::string> statements = {
      "SELECT count(*) FROM audit",
      "SELECT verb, count(*) FROM audit_events GROUP BY verb ORDER BY verb",
      "SELECT namespace, count(DISTINCT username) FROM audit_events WHERE resource = 'secrets' "
      "AND verb IN ('get','list') GROUP BY namespace ORDER BY namespace",
      "SELECT username, count(*) AS n FROM audit_events WHERE verb IN ('create','update','delete') "
      "GROUP BY username ORDER BY n DESC, username LIMIT 10",
      "SELECT ts / 3600000000, resource, count(*) FROM audit_events GROUP BY 1, 2 ORDER BY 1, 2",
      "SELECT * FROM audit_events WHERE ts BETWEEN 1772362800000000 AND 1772364600000000 "
      "ORDER BY key",
      "SELECT key, name, code, level_received, groups_id FROM audit WHERE name = 'obj-3' "
      "ORDER BY key",
      "SELECT count(*) FROM audit WHERE ts > 1772366400000000 AND ts < 1772368000000000"};
  std::vector<std::vector<std::string>> before;
  {
    auto store = open_store(db);
    ASSERT_TRUE(store->write_batch(batch_of(events(4000, 5, 21))).is_ok());
  }
  for (const auto& sql : statements) {
    before.push_back(sql_rows(db, sql));
  }
  ASSERT_EQ(before[0], std::vector<std::string>{"4000|"});
  {
    auto store = open_store(db);
    ASSERT_GT(*store->seal_due(kHour / 2), 2000);
  }
  ASSERT_GT(count_on_file(db, "SELECT count(*) FROM segments"), 3);
  for (std::size_t i = 0; i < statements.size(); ++i) {
    // The audit_events rows of sealed events have no block: compare without those columns.
    if (i == 5) {
      const auto after = sql_rows(db, statements[i]);
      ASSERT_EQ(after.size(), before[i].size());
      continue;
    }
    EXPECT_EQ(sql_rows(db, statements[i]), before[i]) << statements[i];
  }
  // The original event of a sealed row, from the virtual table's hidden column.
  const auto events = sql_rows(db, "SELECT event FROM sealed_audit WHERE ts < 1772362800000000 "
                                   "LIMIT 2");
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].rfind("{\"kind\":\"Event\"", 0), 0u) << events[0];
  // Still read-only.
  EXPECT_FALSE(run_readonly_sql(db, "DELETE FROM audit").is_ok());
}

}  // namespace
}  // namespace ktrail
