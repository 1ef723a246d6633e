// A newly owned Kafka partition's correlator rebuilt from what belongs to that partition, read
// from this member's shard and the peers' shards.
#include "app/partition_restore.h"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <filesystem>
#include <optional>

#include "app/processor_chain.h"
#include "app/shards.h"
#include "processors/correlate/processor.h"
#include "queue/kafka_keys.h"
#include "storage/shard_identity.h"
#include "tests/support/test_env.h"
#include "tests/unit/processors/correlate_harness.h"

namespace ktrail::app {
namespace {

using ktrail::testing::Feed;
using ktrail::testing::Item;

const ShardIdentity kDeployment{"ktrail", "ktrail-process"};

void record(Store& store, const ShardIdentity& identity = kDeployment) {
  ASSERT_TRUE(record_shard_identity(store.handle(), identity).is_ok());
}

std::vector<Item> by_time(std::vector<std::vector<Item>> parts) {
  std::vector<Item> all;
  for (auto& p : parts) all.insert(all.end(), p.begin(), p.end());
  std::stable_sort(all.begin(), all.end(),
                   [](const Item& a, const Item& b) { return a.time < b.time; });
  return all;
}

Batch batch_of(const std::vector<Item>& items, std::size_t from, std::size_t to) {
  Batch b;
  b.origin = "test";
  for (std::size_t i = from; i < std::min(to, items.size()); ++i) {
    if (items[i].audit) {
      b.audit.push_back(items[i].a);
    } else {
      b.events.push_back(items[i].e);
    }
  }
  return b;
}

// Runs `items` through `chain` into `store` in batches of 5; `finish` flushes the correlator.
void run_chain(ProcessorChain& chain, Store& store, const std::vector<Item>& items, bool finish) {
  for (std::size_t i = 0; i < items.size(); i += 5) {
    Batch b = batch_of(items, i, i + 5);
    BatchOutcome outcome;
    for (auto& p : chain) p->process(b, outcome);
    ASSERT_TRUE(store.write_batch(b).is_ok());
  }
  if (finish) {
    for (auto& p : chain) {
      if (auto* c = dynamic_cast<correlate::CorrelateProcessor*>(p.get())) {
        Batch last;
        c->finish(last);
        ASSERT_TRUE(store.write_batch(last).is_ok());
      }
    }
  }
}

correlate::Correlator* correlator_of(ProcessorChain& chain) {
  for (auto& p : chain) {
    if (auto* c = dynamic_cast<correlate::CorrelateProcessor*>(p.get())) return &c->correlator();
  }
  return nullptr;
}

std::int32_t partition_of(const std::string& key, std::int32_t count) {
  return *kafka::partition_for_key(key, count);
}

// A partition count that puts the two keys on different partitions.
std::int32_t count_separating(const std::string& a, const std::string& b) {
  for (std::int32_t n = 2; n < 64; ++n) {
    if (partition_of(a, n) != partition_of(b, n)) return n;
  }
  ADD_FAILURE() << "no partition count separates " << a << " and " << b;
  return 2;
}

std::vector<Item> scenario_items() {
  return by_time({ktrail::testing::load_items(
                      ktrail::testing::scenario("restart-storm.watch.jsonl"), Feed::kEvents),
                  ktrail::testing::load_items(
                      ktrail::testing::scenario("node-not-ready.events.jsonl"), Feed::kEvents),
                  ktrail::testing::load_items(ktrail::testing::scenario("node-drain.audit.jsonl"),
                                              Feed::kAudit)});
}

TEST(PartitionScope, EveryItemIsReplayedInTheOnePartitionItsKeyGoesTo) {
  ktrail::testing::TempDir dir;
  auto store = Store::open(dir.file("s.db"), StoreOptions{});
  ASSERT_TRUE(store.is_ok());
  const auto items = scenario_items();
  ASSERT_TRUE((*store)->write_batch(batch_of(items, 0, items.size())).is_ok());
  const std::vector<Store*> stores = {store->get()};
  auto input = read_restore_input(stores, 365LL * 24 * 3600 * 1'000'000);  // everything
  ASSERT_TRUE(input.is_ok()) << input.status().to_string();
  correlate::Correlator unscoped;
  auto all = replay_restore_input(*input, RestoreScope{}, stores, unscoped);
  ASSERT_TRUE(all.is_ok());
  ASSERT_GT(all->replayed, 20u);
  constexpr std::int32_t kCount = 4;
  std::size_t sum = 0;
  std::size_t nonempty = 0;
  std::map<std::string, std::set<std::int32_t>> incident_partitions;
  for (std::int32_t p = 0; p < kCount; ++p) {
    correlate::Correlator c;
    auto part = replay_restore_input(*input, partition_scope(p, kCount), stores, c);
    ASSERT_TRUE(part.is_ok());
    sum += part->replayed;
    nonempty += part->replayed > 0 ? 1 : 0;
    std::size_t expected = 0;
    for (const auto& item : input->items) {
      const std::string key =
          item.audit ? kafka::partition_key(*item.audit) : kafka::partition_key(*item.event);
      expected += partition_of(key, kCount) == p ? 1 : 0;
    }
    EXPECT_EQ(part->replayed, expected) << "partition " << p;
    c.flush();
    for (const auto& i : c.incidents()) incident_partitions[i.id].insert(p);
  }
  EXPECT_EQ(sum, all->replayed);
  EXPECT_GE(nonempty, 2u);
  // The storm's Events all travel with workload/shop/checkout: one partition sees the storm.
  bool storm = false;
  for (const auto& [id, partitions] : incident_partitions) {
    if (id.rfind("restart-storm-", 0) == 0) {
      storm = true;
      EXPECT_EQ(partitions,
                (std::set<std::int32_t>{partition_of("workload/shop/checkout", kCount)}));
    }
  }
  EXPECT_TRUE(storm);
}

TEST(PartitionScope, OpenIncidentsAreReseededInTheirPartitionOnly) {
  Incident storm;
  storm.kind = IncidentKind::kRestartStorm;
  storm.key = "shop/checkout";
  storm.namespace_ = "shop";
  storm.workload = "checkout";
  storm.start = 1;
  storm.id = make_incident_id(storm.kind, storm.key, storm.start);
  RestoreInput input;
  input.open = {storm};
  const std::int32_t count = 7;
  for (std::int32_t p = 0; p < count; ++p) {
    correlate::Correlator c;
    auto r = replay_restore_input(input, partition_scope(p, count), {}, c);
    ASSERT_TRUE(r.is_ok());
    const bool ours = p == partition_of("workload/shop/checkout", count);
    EXPECT_EQ(r->open_incidents, ours ? 1u : 0u) << p;
    EXPECT_EQ(c.incidents().size(), ours ? 1u : 0u) << p;
  }
}

// The previous owner wrote the first half of a restart storm into its shard and died with the
// storm open; the new owner's correlator, rebuilt from that peer shard, continues the same
// incident, and the two shards read together equal one uninterrupted run.
TEST(PartitionChains, NewOwnerContinuesTheIncidentFromThePeerShard) {
  const auto items = scenario_items();
  const std::string storm_key = "workload/shop/checkout";
  const std::int32_t count = count_separating(storm_key, "node/worker-3");
  const std::int32_t p = partition_of(storm_key, count);
  const std::int32_t other = partition_of("node/worker-3", count);
  const Micros cut = *parse_rfc3339("2026-03-01T09:30:00Z");
  std::map<std::int32_t, std::vector<Item>> before;  // by partition
  std::vector<Item> mine, after;                     // the storm's partition
  for (const auto& it : items) {
    const std::string key = it.audit ? kafka::partition_key(it.a) : kafka::partition_key(it.e);
    const std::int32_t q = partition_of(key, count);
    if (it.time < cut) before[q].push_back(it);
    if (q != p) continue;
    mine.push_back(it);
    if (it.time >= cut) after.push_back(it);
  }
  ASSERT_FALSE(before[p].empty());
  ASSERT_FALSE(after.empty());
  ktrail::testing::TempDir dir;
  // What one uninterrupted owner of the partition stores.
  auto whole = Store::open(dir.file("whole-run.sqlite"), StoreOptions{});
  ASSERT_TRUE(whole.is_ok());
  auto chain = make_processor_chain(ServeOptions{});
  ASSERT_TRUE(chain.is_ok());
  run_chain(*chain, **whole, mine, true);

  std::filesystem::create_directories(dir.file("shards"));
  {
    // The previous owner had every partition, one chain each, and was killed: nothing flushed.
    auto previous = Store::open(dir.file("shards/a.db"), StoreOptions{});
    ASSERT_TRUE(previous.is_ok());
    record(**previous);
    for (const auto& [q, part] : before) {
      auto first = make_processor_chain(ServeOptions{});
      ASSERT_TRUE(first.is_ok());
      run_chain(*first, **previous, part, false);
    }
  }
  auto own = Store::open(dir.file("shards/b.db"), StoreOptions{});
  ASSERT_TRUE(own.is_ok());
  record(**own);
  auto factory = make_partition_chain_factory({ServeOptions{}, dir.file("shards")});
  auto chains = factory({p, other}, count, **own);
  ASSERT_EQ(chains.size(), 2u);
  ASSERT_NE(correlator_of(chains[p]), nullptr);
  ASSERT_NE(correlator_of(chains[other]), nullptr);
  auto held = correlator_of(chains[p])->incidents();
  ASSERT_EQ(held.size(), 1u);  // the open storm, from the peer shard
  EXPECT_EQ(held[0].kind, IncidentKind::kRestartStorm);
  EXPECT_TRUE(held[0].open());
  EXPECT_FALSE(held[0].members.empty());
  // worker-3's incident ended long before: nothing of it is open or inside the horizon.
  EXPECT_TRUE(correlator_of(chains[other])->incidents().empty());

  run_chain(chains[p], **own, after, true);
  StoreOptions read_only;
  read_only.read_only = true;
  auto shards = ShardSet::open({dir.file("shards/a.db"), dir.file("shards/b.db")}, read_only);
  ASSERT_TRUE(shards.is_ok()) << shards.status().to_string();
  IncidentFilter storms;
  storms.kind = IncidentKind::kRestartStorm;
  auto got = shards->find_incidents(storms);
  auto want = (*whole)->find_incidents(storms);
  ASSERT_TRUE(got.is_ok() && want.is_ok());
  ASSERT_EQ(want->size(), 1u);
  ASSERT_EQ(got->size(), 1u);
  EXPECT_EQ((*got)[0].id, (*want)[0].id);
  EXPECT_EQ((*got)[0].start, (*want)[0].start);
  EXPECT_EQ((*got)[0].end, (*want)[0].end);
  EXPECT_EQ((*got)[0].cause, (*want)[0].cause);
  EXPECT_EQ((*got)[0].objects, (*want)[0].objects);
  EXPECT_EQ((*got)[0].count, (*want)[0].count);
}

TEST(PartitionChains, UnknownPartitionCountStartsEmpty) {
  ktrail::testing::TempDir dir;
  auto own = Store::open(dir.file("own.db"), StoreOptions{});
  ASSERT_TRUE(own.is_ok());
  Incident open;
  open.kind = IncidentKind::kRestartStorm;
  open.key = "shop/checkout";
  open.start = 5;
  open.id = make_incident_id(open.kind, open.key, open.start);
  Batch b;
  b.incidents = {open};
  ASSERT_TRUE((*own)->write_batch(b).is_ok());
  auto chains = make_partition_chain_factory({ServeOptions{}, dir.path()})({0, 1}, 0, **own);
  ASSERT_EQ(chains.size(), 2u);
  for (auto& [p, chain] : chains) {
    ASSERT_NE(correlator_of(chain), nullptr);
    EXPECT_TRUE(correlator_of(chain)->incidents().empty());
  }
}

Store& open_recorded(ktrail::testing::TempDir& dir, const std::string& name,
                    std::vector<std::unique_ptr<Store>>& keep,
                    const std::optional<ShardIdentity>& identity = kDeployment) {
  auto opened = Store::open(dir.file(name), StoreOptions{});
  EXPECT_TRUE(opened.is_ok()) << opened.status().to_string();
  keep.push_back(std::move(*opened));
  if (identity) {
    record(*keep.back(), *identity);
  }
  return *keep.back();
}

TEST(PeerShards, UnreadableShardsAreSkipped) {
  ktrail::testing::TempDir dir;
  std::vector<std::unique_ptr<Store>> keep;
  open_recorded(dir, "own.db", keep);
  open_recorded(dir, "peer.db", keep);
  open_recorded(dir, "newer.db", keep);
  keep.clear();
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(dir.file("newer.db").c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "PRAGMA user_version = 999", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(db);
  ktrail::testing::write_file(dir.file("junk.db"), std::string(8192, 'j'));
  ktrail::testing::write_file(dir.file("notes.txt"), "not a shard");
  auto reopened = Store::open(dir.file("own.db"), StoreOptions{});
  ASSERT_TRUE(reopened.is_ok());
  auto peers = open_peer_shards(dir.path(), **reopened);
  ASSERT_EQ(peers.size(), 1u);
  EXPECT_EQ(std::filesystem::path(peers[0]->path()).filename(), "peer.db");
  EXPECT_TRUE(open_peer_shards(dir.file("no-such-dir"), **reopened).empty());
}

// Only stores that record this deployment's topic prefix and consumer group are peers: not an
// embedded store, not another deployment's shard (prefix or group differ), whatever their name.
TEST(PeerShards, OnlyStoresOfTheSameDeploymentArePeers) {
  ktrail::testing::TempDir dir;
  std::vector<std::unique_ptr<Store>> keep;
  Store& own = open_recorded(dir, "process-0.db", keep);
  open_recorded(dir, "process-1.db", keep);
  open_recorded(dir, "embedded.db", keep, std::nullopt);
  open_recorded(dir, "other-prefix.db", keep, ShardIdentity{"staging", "ktrail-process"});
  open_recorded(dir, "other-group.db", keep, ShardIdentity{"ktrail", "ktrail-replay"});
  open_recorded(dir, "numeric.db", keep, ShardIdentity{"1e5", "007"});
  std::string described;
  auto peers = open_peer_shards(dir.path(), own, &described);
  ASSERT_EQ(peers.size(), 1u);
  EXPECT_EQ(std::filesystem::path(peers[0]->path()).filename(), "process-1.db");
  EXPECT_NE(described.find("embedded.db (records no Kafka deployment)"), std::string::npos)
      << described;
  EXPECT_NE(described.find("other-group.db (records topics ktrail.audit/.events, consumer "
                           "group ktrail-replay)"),
            std::string::npos)
      << described;
  // Names that look like numbers are kept as written.
  auto numeric = read_shard_identity_file(dir.file("numeric.db"));
  ASSERT_TRUE(numeric.is_ok() && numeric->has_value());
  EXPECT_EQ((*numeric)->topic_prefix, "1e5");
  EXPECT_EQ((*numeric)->group, "007");
  // A shard without a recorded deployment has no peers at all.
  EXPECT_TRUE(open_peer_shards(dir.path(), *keep[2]).empty());
}

TEST(PeerShards, AShardOfAnotherDeploymentIsRefused) {
  ktrail::testing::TempDir dir;
  std::vector<std::unique_ptr<Store>> keep;
  Store& store = open_recorded(dir, "process-0.db", keep);
  EXPECT_TRUE(record_shard_identity(store.handle(), kDeployment).is_ok());  // the same: fine
  const Status other = record_shard_identity(store.handle(), {"ktrail", "another-group"});
  EXPECT_EQ(other.code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(other.message().find("consumer group ktrail-process"), std::string::npos)
      << other.message();
  auto kept = read_shard_identity(store.handle());
  ASSERT_TRUE(kept.is_ok() && kept->has_value());
  EXPECT_EQ(**kept, kDeployment);
}

// An unrelated store beside the shards holds an open incident of a partition this member is
// assigned: the fresh shard does not adopt it (it used to, and closed it as its own).
TEST(PartitionChains, AnUnrelatedStoreBesideTheShardsIsNotRestoredFrom) {
  ktrail::testing::TempDir dir;
  const std::int32_t count = 4;
  Incident open;
  open.kind = IncidentKind::kRestartStorm;
  open.key = "shop/checkout";
  open.start = *parse_rfc3339("2021-06-01T10:00:00Z");
  open.id = make_incident_id(open.kind, open.key, open.start);
  const std::int32_t p = partition_of(kafka::partition_key(open), count);
  std::vector<std::unique_ptr<Store>> keep;
  for (const auto& [name, identity] :
       std::vector<std::pair<std::string, std::optional<ShardIdentity>>>{
           {"embedded.db", std::nullopt}, {"staging-0.db", ShardIdentity{"staging", "g"}}}) {
    Store& unrelated = open_recorded(dir, name, keep, identity);
    Batch b;
    b.incidents = {open};
    ASSERT_TRUE(unrelated.write_batch(b).is_ok());
  }
  Store& own = open_recorded(dir, "process-0.db", keep);
  auto chains = make_partition_chain_factory({ServeOptions{}, dir.path()})({p}, count, own);
  ASSERT_NE(correlator_of(chains[p]), nullptr);
  EXPECT_TRUE(correlator_of(chains[p])->incidents().empty());
  auto stored = own.find_incidents(IncidentFilter{});
  ASSERT_TRUE(stored.is_ok());
  EXPECT_TRUE(stored->empty());

  // Control: the same store recording this deployment is a peer, and its incident is adopted.
  Store& peer = open_recorded(dir, "process-1.db", keep);
  Batch b;
  b.incidents = {open};
  ASSERT_TRUE(peer.write_batch(b).is_ok());
  auto again = make_partition_chain_factory({ServeOptions{}, dir.path()})({p}, count, own);
  ASSERT_NE(correlator_of(again[p]), nullptr);
  EXPECT_EQ(correlator_of(again[p])->incidents().size(), 1u);
}

}  // namespace
}  // namespace ktrail::app
