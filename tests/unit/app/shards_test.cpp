#include "app/shards.h"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <algorithm>
#include <filesystem>
#include <map>

#include "core/audit_json.h"
#include "tests/support/test_env.h"

namespace ktrail::app {
namespace {

AuditEvent event(const std::string& id, int second) {
  const std::string ts =
      "2026-01-01T00:00:" + std::string(second < 10 ? "0" : "") + std::to_string(second) + "Z";
  const std::string json =
      R"({"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata","auditID":")" + id +
      R"(","stage":"ResponseComplete","requestURI":"/api/v1/pods","verb":"list","user":{"username":"u"},)"
      R"("requestReceivedTimestamp":")" +
      ts + R"(","stageTimestamp":")" + ts + R"("})";
  auto decoded = decode_audit_document(json);
  EXPECT_TRUE(decoded.is_ok());
  return decoded->events.at(0);
}

void write_shard(const std::string& path, const std::vector<AuditEvent>& events) {
  auto store = Store::open(path, StoreOptions{});
  ASSERT_TRUE(store.is_ok()) << store.status().to_string();
  Batch b;
  b.audit = events;
  ASSERT_TRUE((*store)->write_batch(b).is_ok());
}

TEST(Shards, DirectoryExpandsToItsStoreFiles) {
  testing::TempDir dir;
  write_shard(dir.file("b.db"), {event("x", 1)});
  write_shard(dir.file("a.db"), {event("y", 2)});
  testing::write_file(dir.file("notes.txt"), "not a store");
  auto paths = expand_db_paths({dir.path()});
  ASSERT_TRUE(paths.is_ok());
  EXPECT_EQ(*paths, (std::vector<std::string>{dir.file("a.db"), dir.file("b.db")}));
  auto again = expand_db_paths({dir.path(), dir.file("a.db")});
  ASSERT_TRUE(again.is_ok());
  EXPECT_EQ(again->size(), 2u);  // no duplicates
}

TEST(Shards, EmptyDirectoryAndNothingAreErrors) {
  testing::TempDir dir;
  EXPECT_EQ(expand_db_paths({dir.path()}).status().code(), ErrorCode::kNotFound);
  EXPECT_EQ(expand_db_paths({}).status().code(), ErrorCode::kInvalidArgument);
}

TEST(Shards, MergesOldestFirstShowsADuplicateOnceAndLimitsTheMerge) {
  testing::TempDir dir;
  write_shard(dir.file("a.db"), {event("e1", 1), event("e3", 3), event("dup", 5)});
  write_shard(dir.file("b.db"), {event("e2", 2), event("e4", 4), event("dup", 5)});
  StoreOptions options;
  options.read_only = true;
  AuditFilter filter;
  auto rows = find_audit_in_shards({dir.file("a.db"), dir.file("b.db")}, filter, options);
  ASSERT_TRUE(rows.is_ok()) << rows.status().to_string();
  std::vector<std::string> ids;
  for (const auto& r : *rows) {
    ids.push_back(r.audit_id);
  }
  EXPECT_EQ(ids, (std::vector<std::string>{"e1", "e2", "e3", "e4", "dup"}));
  filter.limit = 2;
  rows = find_audit_in_shards({dir.file("a.db"), dir.file("b.db")}, filter, options);
  ASSERT_TRUE(rows.is_ok());
  ASSERT_EQ(rows->size(), 2u);
  EXPECT_EQ((*rows)[0].audit_id, "e4");
  EXPECT_EQ((*rows)[1].audit_id, "dup");
}

TEST(Shards, MissingShardIsAnErrorNamingIt) {
  testing::TempDir dir;
  StoreOptions options;
  options.read_only = true;
  auto rows = find_audit_in_shards({dir.file("missing.db")}, AuditFilter{}, options);
  ASSERT_FALSE(rows.is_ok());
  EXPECT_NE(rows.status().message().find("missing.db"), std::string::npos);
}

IncidentMember member(const std::string& ref, Micros time) {
  IncidentMember m;
  m.ref = ref;
  m.time = time;
  m.source = MemberSource::kEvent;
  m.reason = "BackOff";
  m.object = "Pod/shop/checkout-1";
  return m;
}

Incident storm(Micros start, std::vector<IncidentMember> members, std::optional<Micros> end,
               std::vector<std::string> objects) {
  Incident i;
  i.kind = IncidentKind::kRestartStorm;
  i.key = "shop/checkout";
  i.start = start;
  i.id = make_incident_id(i.kind, i.key, i.start);
  i.title = "restart storm";
  i.namespace_ = "shop";
  i.workload = "checkout";
  i.end = end;
  i.objects = std::move(objects);
  i.members = std::move(members);
  i.count = static_cast<std::int64_t>(i.members.size());
  return i;
}

void write_incidents(const std::string& path, const std::vector<Incident>& incidents) {
  auto store = Store::open(path, StoreOptions{});
  ASSERT_TRUE(store.is_ok()) << store.status().to_string();
  Batch b;
  b.incidents = incidents;
  ASSERT_TRUE((*store)->write_batch(b).is_ok());
}

Result<ShardSet> open_both(const testing::TempDir& dir) {
  StoreOptions options;
  options.read_only = true;
  return ShardSet::open({dir.file("a.db"), dir.file("b.db")}, options);
}

std::vector<std::string> ids(const std::vector<Incident>& incidents) {
  std::vector<std::string> out;
  for (const auto& i : incidents) out.push_back(i.id);
  return out;
}

// Shard a: the start of episode X (left open: the partition moved) and an older incident Y.
// Shard b: the rest of X, closed, and a later open incident Z.
class SameIncidentInTwoShards : public ::testing::Test {
 protected:
  void SetUp() override {
    write_incidents(dir_.file("a.db"),
                    {x_first_, storm(50, {member("y1", 50)}, 60, {"shop/checkout-0"})});
    write_incidents(dir_.file("b.db"),
                    {x_rest_, storm(500, {member("z1", 500)}, std::nullopt, {"shop/other-1"})});
  }
  testing::TempDir dir_;
  Incident x_first_ =
      storm(100, {member("a", 100), member("b", 200)}, std::nullopt, {"shop/checkout-1"});
  Incident x_rest_ =
      storm(100, {member("b", 250), member("c", 300), member("d", 400)}, 400, {"shop/checkout-2"});
};

TEST_F(SameIncidentInTwoShards, ListShowsOneCombinedIncident) {
  auto shards = open_both(dir_);
  ASSERT_TRUE(shards.is_ok()) << shards.status().to_string();
  auto all = shards->find_incidents({});
  ASSERT_TRUE(all.is_ok()) << all.status().to_string();
  ASSERT_EQ(all->size(), 3u);
  const Incident& x = (*all)[1];
  EXPECT_EQ(x.id, x_first_.id);
  EXPECT_EQ(x.start, 100);
  ASSERT_TRUE(x.end.has_value());
  EXPECT_EQ(*x.end, 400);
  EXPECT_EQ(x.count, 4);
  EXPECT_TRUE(x.members.empty());  // list: no members asked for
  EXPECT_EQ(x.objects, (std::vector<std::string>{"shop/checkout-1", "shop/checkout-2"}));
  EXPECT_EQ((*all)[0].start, 50);
  EXPECT_EQ((*all)[2].start, 500);
}

TEST_F(SameIncidentInTwoShards, FiltersApplyToTheCombinedIncident) {
  auto shards = open_both(dir_);
  ASSERT_TRUE(shards.is_ok());
  IncidentFilter open;
  open.open_only = true;  // shard a's version of X is open, but X is over
  auto found = shards->find_incidents(open);
  ASSERT_TRUE(found.is_ok());
  EXPECT_EQ(ids(*found), (std::vector<std::string>{storm(500, {}, {}, {}).id}));
  IncidentFilter pod;
  pod.pod = "shop/checkout-2";  // only in shard b's version
  found = shards->find_incidents(pod);
  ASSERT_TRUE(found.is_ok());
  ASSERT_EQ(found->size(), 1u);
  EXPECT_EQ((*found)[0].count, 4);
  EXPECT_EQ((*found)[0].objects.size(), 2u);
  IncidentFilter since;
  since.since = 401;  // shard a's open version would match; the combined one ended at 400
  found = shards->find_incidents(since);
  ASSERT_TRUE(found.is_ok());
  EXPECT_EQ(found->size(), 1u);
}

TEST_F(SameIncidentInTwoShards, LimitAppliesToTheMergedResult) {
  auto shards = open_both(dir_);
  ASSERT_TRUE(shards.is_ok());
  IncidentFilter f;
  f.limit = 2;
  auto found = shards->find_incidents(f);
  ASSERT_TRUE(found.is_ok());
  EXPECT_EQ(ids(*found), (std::vector<std::string>{x_first_.id, storm(500, {}, {}, {}).id}));
  f.limit = 1;
  f.with_members = true;
  f.until = 450;
  found = shards->find_incidents(f);
  ASSERT_TRUE(found.is_ok());
  ASSERT_EQ(found->size(), 1u);
  EXPECT_EQ((*found)[0].members.size(), 4u);
}

TEST_F(SameIncidentInTwoShards, ShowCombinesMembers) {
  auto shards = open_both(dir_);
  ASSERT_TRUE(shards.is_ok());
  auto x = shards->get_incident(x_first_.id);
  ASSERT_TRUE(x.is_ok()) << x.status().to_string();
  std::vector<std::string> refs;
  for (const auto& m : x->members) refs.push_back(m.ref);
  EXPECT_EQ(refs, (std::vector<std::string>{"a", "b", "c", "d"}));
  EXPECT_EQ(x->count, 4);
  EXPECT_FALSE(x->open());
  EXPECT_EQ(shards->get_incident("restart-storm-0000000000000000").status().code(),
            ErrorCode::kNotFound);
}

// Many incidents over three shards, some of them split between two or three shards (same
// start, so same ID), at few distinct starts: read a page at a time, every incident comes once,
// combined, in (start, id) order, whatever the page size.
TEST(Shards, EachIncidentMergesTheShardsPageByPage) {
  testing::TempDir dir;
  std::vector<std::vector<Incident>> shard(3);
  std::map<std::string, std::pair<Micros, std::int64_t>> expected;  // id -> start, members
  for (int n = 0; n < 90; ++n) {
    const Micros start = 1000 + (n % 13) * 10;
    Incident i = storm(start, {member("m" + std::to_string(n), start)}, std::nullopt,
                       {"shop/pod-" + std::to_string(n)});
    i.key = "shop/w" + std::to_string(n);
    i.id = make_incident_id(i.kind, i.key, i.start);
    std::int64_t members = 1;
    shard[n % 3].push_back(i);
    if (n % 4 == 0) {  // a second version in the next shard, with one more member
      Incident later = i;
      later.members = {member("m" + std::to_string(n), start), member("x", start + 5)};
      later.count = 2;
      later.end = start + 5;
      shard[(n + 1) % 3].push_back(later);
      members = 2;
    }
    if (n % 9 == 0) {  // and a third
      shard[(n + 2) % 3].push_back(i);
    }
    expected[i.id] = {start, members};
  }
  const std::vector<std::string> files = {dir.file("a.db"), dir.file("b.db"), dir.file("c.db")};
  for (std::size_t s = 0; s < 3; ++s) {
    write_incidents(files[s], shard[s]);
  }
  std::vector<std::pair<Micros, std::string>> order;
  for (const auto& [id, v] : expected) {
    order.push_back({v.first, id});
  }
  std::sort(order.begin(), order.end());
  StoreOptions options;
  options.read_only = true;
  auto shards = ShardSet::open(files, options);
  ASSERT_TRUE(shards.is_ok()) << shards.status().to_string();
  for (std::size_t page : {1, 2, 7, 1000}) {
    std::vector<std::pair<Micros, std::string>> seen;
    Status s = shards->each_incident(
        IncidentFilter{},
        [&](const Incident& i) {
          seen.push_back({i.start, i.id});
          EXPECT_EQ(i.count, expected[i.id].second) << i.id;
          return Status::ok();
        },
        page);
    ASSERT_TRUE(s.is_ok()) << s.to_string();
    EXPECT_EQ(seen, order) << "page " << page;
  }
  // A filter applies to the combined incident: the versions with a second member are closed.
  IncidentFilter open;
  open.open_only = true;
  std::size_t open_count = 0;
  ASSERT_TRUE(shards
                  ->each_incident(
                      open,
                      [&](const Incident& i) {
                        EXPECT_EQ(expected[i.id].second, 1) << i.id;
                        ++open_count;
                        return Status::ok();
                      },
                      3)
                  .is_ok());
  EXPECT_EQ(open_count, 90u - 23u);  // n % 4 == 0 for 23 of 0..89
  // An error of the callback stops the read.
  int calls = 0;
  Status stopped = shards->each_incident(
      IncidentFilter{},
      [&](const Incident&) {
        return ++calls == 5 ? io_error("cannot write the output") : Status::ok();
      },
      2);
  EXPECT_EQ(stopped.code(), ErrorCode::kIo);
  EXPECT_EQ(calls, 5);
}

KubeEvent kube_event(const std::string& uid, Micros last, std::int64_t count) {
  KubeEvent e;
  e.uid = uid;
  e.namespace_ = "shop";
  e.name = uid + ".1";
  e.object.kind = "Pod";
  e.object.namespace_ = "shop";
  e.object.name = "checkout-1";
  e.reason = "BackOff";
  e.first_time = 1;
  e.last_time = last;
  e.count = count;
  e.json = "{}";
  return e;
}

TEST(Shards, AnEventInTwoShardsIsShownOnceInItsLatestVersion) {
  testing::TempDir dir;
  for (const auto& [file, events] :
       {std::pair{"a.db", std::vector{kube_event("u1", 10, 1), kube_event("u3", 5, 1)}},
        std::pair{"b.db", std::vector{kube_event("u1", 30, 3), kube_event("u2", 20, 1)}}}) {
    auto store = Store::open(dir.file(file), StoreOptions{});
    ASSERT_TRUE(store.is_ok());
    Batch b;
    b.events = events;
    ASSERT_TRUE((*store)->write_batch(b).is_ok());
  }
  auto shards = open_both(dir);
  ASSERT_TRUE(shards.is_ok());
  auto found = shards->find_kube_events({});
  ASSERT_TRUE(found.is_ok()) << found.status().to_string();
  std::vector<std::string> uids;
  for (const auto& e : *found) uids.push_back(e.uid);
  EXPECT_EQ(uids, (std::vector<std::string>{"u3", "u2", "u1"}));
  EXPECT_EQ(found->back().count, 3);
  KubeEventFilter f;
  f.limit = 1;
  found = shards->find_kube_events(f);
  ASSERT_TRUE(found.is_ok());
  ASSERT_EQ(found->size(), 1u);
  EXPECT_EQ((*found)[0].uid, "u1");
  EXPECT_EQ((*found)[0].last_time, 30);
}

// Opening the shard set fails, naming the file, for each kind of bad shard.
void expect_bad_shard(const std::string& good, const std::string& bad, const std::string& why) {
  StoreOptions options;
  options.read_only = true;
  auto shards = ShardSet::open({good, bad}, options);
  ASSERT_FALSE(shards.is_ok()) << bad;
  EXPECT_NE(shards.status().message().find(bad), std::string::npos) << shards.status().message();
  EXPECT_NE(shards.status().message().find(why), std::string::npos) << shards.status().message();
}

TEST(Shards, BadShardsAreErrorsNamingTheFile) {
  testing::TempDir dir;
  write_shard(dir.file("good.db"), {event("x", 1)});
  expect_bad_shard(dir.file("good.db"), dir.file("missing.db"), "");
  testing::write_file(dir.file("text.db"), std::string(8192, 'x'));
  expect_bad_shard(dir.file("good.db"), dir.file("text.db"), "not a database");
  testing::write_file(dir.file("empty.db"), "");
  expect_bad_shard(dir.file("good.db"), dir.file("empty.db"), "schema version 0");
  write_shard(dir.file("newer.db"), {event("y", 2)});
  {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(dir.file("newer.db").c_str(), &db), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(db, "PRAGMA user_version = 999", nullptr, nullptr, nullptr), SQLITE_OK);
    sqlite3_close(db);
  }
  expect_bad_shard(dir.file("good.db"), dir.file("newer.db"), "newer");
}

}  // namespace
}  // namespace ktrail::app
