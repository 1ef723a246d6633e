// End to end without the network: scenario files go through the correlation stage into a real
// SQLite store in batches, then the real `ktrail` binary lists, shows and merges them. Also:
// a restart in the middle of an incident (state rebuilt from the store) gives the same result.
#include <gtest/gtest.h>
#include <rapidjson/document.h>
#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "app/correlation_restore.h"
#include "core/json.h"
#include "processors/correlate/processor.h"
#include "storage/store.h"
#include "tests/unit/processors/correlate_harness.h"
#include "tests/unit/storage/store_test_util.h"

namespace ktrail {
namespace {

using testing::Feed;
using testing::Item;

struct RunResult {
  int code = -1;
  std::string out;
};

std::string quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

RunResult run(const std::vector<std::string>& args) {
  std::string cmd = quote(KTRAIL_BINARY);
  for (const auto& a : args) cmd += " " + quote(a);
  cmd += " 2>/dev/null";
  RunResult r;
  FILE* p = popen(cmd.c_str(), "r");
  if (p == nullptr) return r;
  char buf[4096];
  std::size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, n);
  const int status = pclose(p);
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

std::vector<Item> merged(std::vector<std::vector<Item>> parts) {
  std::vector<Item> all;
  for (auto& p : parts) all.insert(all.end(), p.begin(), p.end());
  std::stable_sort(all.begin(), all.end(),
                   [](const Item& a, const Item& b) { return a.time < b.time; });
  return all;
}

// Writes `items` in batches of `batch_size` through the correlation stage.
void ingest(Store& store, correlate::CorrelateProcessor& stage, const std::vector<Item>& items,
            std::size_t batch_size, bool finish) {
  for (std::size_t i = 0; i < items.size(); i += batch_size) {
    Batch b;
    b.origin = "test";
    for (std::size_t j = i; j < std::min(items.size(), i + batch_size); ++j) {
      if (items[j].audit) {
        b.audit.push_back(items[j].a);
      } else {
        b.events.push_back(items[j].e);
      }
    }
    BatchOutcome outcome;
    stage.process(b, outcome);
    auto written = store.write_batch(b);
    ASSERT_TRUE(written.is_ok()) << written.status().to_string();
  }
  if (finish) {
    Batch last;
    stage.finish(last);
    ASSERT_TRUE(store.write_batch(last).is_ok());
  }
}

class IncidentsCli : public ::testing::Test {
 protected:
  void SetUp() override {
    db_ = dir_.file("ktrail.db");
    auto store = Store::open(db_, StoreOptions{});
    ASSERT_TRUE(store.is_ok());
    correlate::CorrelateProcessor stage;
    auto items = merged(
        {testing::load_items(testing::scenario("node-not-ready.audit.jsonl"), Feed::kAudit),
         testing::load_items(testing::scenario("node-not-ready.events.jsonl"), Feed::kEvents),
         testing::load_items(testing::scenario("node-drain.audit.jsonl"), Feed::kAudit),
         testing::load_items(testing::scenario("restart-storm.watch.jsonl"), Feed::kEvents)});
    ingest(**store, stage, items, 7, true);
  }

  rapidjson::Document json(const std::vector<std::string>& args) {
    std::vector<std::string> full = args;
    full.insert(full.end(), {"--db", db_, "-o", "json"});
    RunResult r = run(full);
    EXPECT_EQ(r.code, 0) << r.out;
    rapidjson::Document doc;
    EXPECT_TRUE(json::parse(r.out, &doc).is_ok()) << r.out;
    return doc;
  }

  testing::TempDir dir_;
  std::string db_;
};

TEST_F(IncidentsCli, ListJsonHasTheContractKeys) {
  auto doc = json({"incidents", "list"});
  ASSERT_TRUE(doc.IsArray());
  ASSERT_EQ(doc.Size(), 3u);
  std::vector<std::string> kinds;
  for (const auto& i : doc.GetArray()) {
    for (const char* key : {"id", "kind", "title", "start", "end", "node", "namespace", "workload",
                            "actor", "objects", "count"}) {
      EXPECT_TRUE(i.HasMember(key)) << key;
    }
    EXPECT_TRUE(i["objects"].IsArray());
    EXPECT_TRUE(i["count"].IsInt64());
    EXPECT_GT(i["count"].GetInt64(), 0);
    kinds.push_back(i["kind"].GetString());
  }
  // Oldest start first: the node (02:14), the storm (09:00), the drain (10:00).
  EXPECT_EQ(kinds, (std::vector<std::string>{"node-not-ready", "restart-storm", "node-drain"}));
  EXPECT_STREQ(doc[0]["node"].GetString(), "worker-3");
  // The controller's Ready=Unknown write and the kubelet's Ready=True write (the Events of the
  // same moments have whole seconds only).
  EXPECT_STREQ(doc[0]["start"].GetString(), "2026-03-01T02:14:00.412000Z");
  EXPECT_STREQ(doc[0]["end"].GetString(), "2026-03-01T02:41:00.250000Z");
  EXPECT_EQ(doc[0]["objects"].Size(), 4u);
  EXPECT_TRUE(doc[0]["actor"].IsNull());
  EXPECT_STREQ(doc[1]["namespace"].GetString(), "shop");
  EXPECT_STREQ(doc[1]["workload"].GetString(), "checkout");
  EXPECT_STREQ(doc[1]["cause"].GetString(), "liveness-probe");
  EXPECT_STREQ(doc[2]["actor"].GetString(), "alice@example.com");
}

TEST_F(IncidentsCli, ListFilters) {
  auto drains = json({"incidents", "list", "--kind", "node-drain"});
  ASSERT_EQ(drains.Size(), 1u);
  EXPECT_STREQ(drains[0]["kind"].GetString(), "node-drain");
  EXPECT_EQ(json({"incidents", "list", "--open"}).Size(), 0u);
  EXPECT_EQ(json({"incidents", "list", "--since", "2026-03-01T09:30:00Z"}).Size(), 2u);
  EXPECT_EQ(run({"incidents", "list", "--db", db_, "--kind", "bogus"}).code, 2);
  EXPECT_EQ(run({"incidents", "list", "--db", db_, "--since", "yesterday-ish"}).code, 2);
  EXPECT_EQ(run({"incidents", "list", "--db", dir_.file("missing.db")}).code, 1);
  RunResult csv = run({"incidents", "list", "--db", db_, "-o", "csv"});
  EXPECT_EQ(csv.code, 0);
  EXPECT_EQ(csv.out.rfind("id,kind,title,start,end,", 0), 0u) << csv.out;
  RunResult table = run({"incidents", "list", "--db", db_});
  EXPECT_EQ(table.code, 0);
  EXPECT_NE(table.out.find("node worker-3 not ready"), std::string::npos);
}

TEST_F(IncidentsCli, ShowHasTimeOrderedMembersFromBothSources) {
  auto list = json({"incidents", "list", "--kind", "node-not-ready"});
  ASSERT_EQ(list.Size(), 1u);
  const std::string id = list[0]["id"].GetString();
  auto shown = json({"incidents", "show", id});
  ASSERT_TRUE(shown.IsObject());
  EXPECT_EQ(std::string(shown["id"].GetString()), id);
  ASSERT_TRUE(shown["members"].IsArray());
  const auto& members = shown["members"];
  EXPECT_EQ(static_cast<std::int64_t>(members.Size()), shown["count"].GetInt64());
  std::set<std::string> sources;
  std::string previous;
  for (const auto& m : members.GetArray()) {
    for (const char* key : {"time", "source", "reason", "object", "message"}) {
      EXPECT_TRUE(m.HasMember(key)) << key;
    }
    const std::string time = m["time"].GetString();
    EXPECT_LE(previous, time);  // RFC 3339 with fixed width sorts as text
    previous = time;
    sources.insert(m["source"].GetString());
  }
  EXPECT_EQ(sources, (std::set<std::string>{"audit", "event"}));
  RunResult table = run({"incidents", "show", id, "--db", db_});
  EXPECT_EQ(table.code, 0);
  EXPECT_NE(table.out.find("TaintManagerEviction"), std::string::npos);
  EXPECT_EQ(run({"incidents", "show", "no-such-incident", "--db", db_}).code, 1);
  EXPECT_EQ(run({"incidents", "show", "--db", db_}).code, 2);
}

TEST_F(IncidentsCli, TimelineOfANodeMergesAllThreeSources) {
  auto rows = json({"query", "timeline", "--node", "worker-3", "--since", "2026-03-01T00:00:00Z",
                    "--until", "2026-03-01T23:59:59Z", "--limit", "0"});
  ASSERT_TRUE(rows.IsArray());
  std::set<std::string> sources;
  std::string previous;
  for (const auto& r : rows.GetArray()) {
    sources.insert(r["source"].GetString());
    const std::string time = r["time"].GetString();
    EXPECT_LE(previous, time);
    previous = time;
  }
  EXPECT_EQ(sources, (std::set<std::string>{"audit", "event", "incident"}));
  auto by_user = json({"query", "timeline", "--user", "alice@example.com"});
  ASSERT_GE(by_user.Size(), 6u);  // cordon, 3 evictions, uncordon, and the drain incident
  for (const auto& r : by_user.GetArray()) {
    EXPECT_NE(std::string(r["source"].GetString()), "event");
  }
  auto pod = json({"query", "timeline", "--pod", "shop/checkout-7d9f8b6c5-x2x9z"});
  ASSERT_GT(pod.Size(), 0u);
  EXPECT_EQ(run({"query", "timeline", "--db", db_, "--pod", "x", "--node", "y"}).code, 2);
}

std::vector<std::string> summary(Store& store) {
  IncidentFilter all;
  all.with_members = true;
  auto found = store.find_incidents(all);
  EXPECT_TRUE(found.is_ok());
  std::vector<std::string> out;
  for (const auto& i : *found) {
    std::string line = i.id + " " + std::to_string(i.start) + " " +
                       (i.end ? std::to_string(*i.end) : "open") + " " + i.title + " " + i.actor;
    for (const auto& o : i.objects) line += " " + o;
    for (const auto& r : i.replacements) line += " " + r;
    out.push_back(line);
  }
  return out;
}

TEST(IncidentsRestart, RebuiltFromTheStoreAfterARestart) {
  auto items =
      merged({testing::load_items(testing::scenario("node-not-ready.events.jsonl"), Feed::kEvents),
              testing::load_items(testing::scenario("node-not-ready.audit.jsonl"), Feed::kAudit)});
  testing::TempDir dir;
  // Straight through.
  auto whole = Store::open(dir.file("whole.db"), StoreOptions{});
  ASSERT_TRUE(whole.is_ok());
  {
    correlate::CorrelateProcessor stage;
    ingest(**whole, stage, items, 5, true);
  }
  // Stopped at 02:30 (the node still NotReady), then a new process rebuilds from the store.
  const Micros cut = *parse_rfc3339("2026-03-01T02:30:00Z");
  std::vector<Item> before, after;
  for (const auto& it : items) (it.time < cut ? before : after).push_back(it);
  ASSERT_FALSE(before.empty());
  ASSERT_FALSE(after.empty());
  auto split = Store::open(dir.file("split.db"), StoreOptions{});
  ASSERT_TRUE(split.is_ok());
  {
    correlate::CorrelateProcessor stage;
    ingest(**split, stage, before, 5, false);  // killed: no flush
  }
  IncidentFilter open;
  open.open_only = true;
  auto open_now = (*split)->find_incidents(open);
  ASSERT_TRUE(open_now.is_ok());
  ASSERT_EQ(open_now->size(), 1u);
  {
    correlate::CorrelateProcessor stage;
    auto restored = app::restore_correlation(**split, stage.correlator(),
                                             app::restore_horizon(correlate::Rules{}));
    ASSERT_TRUE(restored.is_ok()) << restored.status().to_string();
    EXPECT_EQ(restored->open_incidents, 1u);
    EXPECT_GT(restored->replayed, 0u);
    Batch b;
    b.incidents = restored->updates;
    ASSERT_TRUE((*split)->write_batch(b).is_ok());
    ingest(**split, stage, after, 5, true);
  }
  EXPECT_EQ(summary(**split), summary(**whole));
}

// Kafka mode in miniature: the partition moves at 02:30 from the member writing shard a to the
// member writing shard b, which rebuilds its correlator from shard a. The query commands read
// both shards (a directory, or --db twice) and answer as they do for one store of the whole.
class IncidentsShards : public ::testing::Test {
 protected:
  void SetUp() override {
    items_ = merged(
        {testing::load_items(testing::scenario("node-not-ready.events.jsonl"), Feed::kEvents),
         testing::load_items(testing::scenario("node-not-ready.audit.jsonl"), Feed::kAudit),
         testing::load_items(testing::scenario("restart-storm.watch.jsonl"), Feed::kEvents)});
    whole_ = dir_.file("whole.db");
    std::filesystem::create_directories(dir_.file("shards"));
    a_ = dir_.file("shards/a.db");
    b_ = dir_.file("shards/b.db");
    auto whole = Store::open(whole_, StoreOptions{});
    ASSERT_TRUE(whole.is_ok());
    {
      correlate::CorrelateProcessor stage;
      ingest(**whole, stage, items_, 5, true);
    }
    const Micros cut = *parse_rfc3339("2026-03-01T02:30:00Z");
    std::vector<Item> before, after;
    for (const auto& it : items_) (it.time < cut ? before : after).push_back(it);
    auto a = Store::open(a_, StoreOptions{});
    auto b = Store::open(b_, StoreOptions{});
    ASSERT_TRUE(a.is_ok() && b.is_ok());
    {
      correlate::CorrelateProcessor stage;
      ingest(**a, stage, before, 5, false);  // the first owner dies with the incident open
    }
    correlate::CorrelateProcessor stage;
    auto restored =
        app::restore_correlation(**a, stage.correlator(), app::restore_horizon(correlate::Rules{}));
    ASSERT_TRUE(restored.is_ok()) << restored.status().to_string();
    Batch seed;
    seed.incidents = restored->updates;
    ASSERT_TRUE((*b)->write_batch(seed).is_ok());
    ingest(**b, stage, after, 5, true);
    // The last items of shard a stored again in shard b, as a crash between the SQLite and the
    // Kafka commit can leave them when the shards cannot see each other.
    Batch again;
    for (std::size_t i = before.size() - 6; i < before.size(); ++i) {
      if (before[i].audit) {
        again.audit.push_back(before[i].a);
      } else {
        again.events.push_back(before[i].e);
      }
    }
    auto stored = (*b)->write_batch(again);
    ASSERT_TRUE(stored.is_ok());
    ASSERT_EQ(stored->stored, 6u);  // new to shard b
  }

  std::string out(std::vector<std::string> args, const std::vector<std::string>& dbs) {
    for (const auto& db : dbs) {
      args.push_back("--db");
      args.push_back(db);
    }
    args.insert(args.end(), {"-o", "json"});
    RunResult r = run(args);
    EXPECT_EQ(r.code, 0) << r.out;
    return r.out;
  }

  testing::TempDir dir_;
  std::vector<Item> items_;
  std::string whole_, a_, b_;
};

TEST_F(IncidentsShards, ListAndShowMatchOneStoreOfTheWhole) {
  const std::string dir = dir_.file("shards");
  const std::string want = out({"incidents", "list"}, {whole_});
  rapidjson::Document doc;
  ASSERT_TRUE(json::parse(want, &doc).is_ok());
  ASSERT_EQ(doc.Size(), 2u);
  EXPECT_EQ(out({"incidents", "list"}, {dir}), want);
  EXPECT_EQ(out({"incidents", "list"}, {a_, b_}), want);
  // Shard a alone has the node incident open: only the merge says it ended.
  EXPECT_NE(out({"incidents", "list"}, {a_}), want);
  EXPECT_EQ(out({"incidents", "list", "--open"}, {dir}), "[]\n");
  EXPECT_EQ(out({"incidents", "list", "--limit", "1"}, {dir}),
            out({"incidents", "list", "--limit", "1"}, {whole_}));
  for (const auto& i : doc.GetArray()) {
    const std::string id = i["id"].GetString();
    EXPECT_EQ(out({"incidents", "show", id}, {dir}), out({"incidents", "show", id}, {whole_}));
  }
}

TEST_F(IncidentsShards, TimelineMatchesOneStoreOfTheWhole) {
  const std::string dir = dir_.file("shards");
  for (const auto& args : std::vector<std::vector<std::string>>{
           {"query", "timeline", "--node", "worker-3", "--limit", "0"},
           {"query", "timeline", "--limit", "0"},
           {"query", "timeline", "--limit", "25"},
           {"query", "timeline", "--namespace", "shop", "--limit", "10"},
           {"query", "timeline", "--since", "2026-03-01T02:20:00Z", "--until",
            "2026-03-01T02:40:00Z"}}) {
    EXPECT_EQ(out(args, {dir}), out(args, {whole_})) << args.back();
  }
}

TEST_F(IncidentsShards, BadShardsAreErrors) {
  const std::string dir = dir_.file("shards");
  std::ofstream(dir_.file("shards/notes.db")) << "not a store";
  for (const auto& args : std::vector<std::vector<std::string>>{
           {"incidents", "list"}, {"incidents", "show", "x"}, {"query", "timeline"}}) {
    std::vector<std::string> full = args;
    full.insert(full.end(), {"--db", dir});
    EXPECT_EQ(run(full).code, 1);
    full = args;
    full.insert(full.end(), {"--db", a_, "--db", dir_.file("missing.db")});
    EXPECT_EQ(run(full).code, 1);
    full = args;
    full.insert(full.end(), {"--db", dir_.file("empty-dir-does-not-exist/")});
    EXPECT_EQ(run(full).code, 1);
  }
  std::filesystem::create_directories(dir_.file("empty"));
  EXPECT_EQ(run({"incidents", "list", "--db", dir_.file("empty")}).code, 1);
}

}  // namespace
}  // namespace ktrail
