// The process role's BatchWriter on a real SQLite shard: a group of batches from several
// partitions is one transaction holding all their offsets; process() runs each partition's own
// chain.
#include "app/kafka_store_writer.h"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <fstream>

#include "processors/correlate/processor.h"
#include "storage/shard_identity.h"
#include "storage/source_offsets.h"
#include "tests/support/test_env.h"
#include "tests/unit/processors/correlate_harness.h"

namespace ktrail::app {
namespace {

std::vector<AuditEvent> sample_events() {
  std::ifstream in(std::string(KTRAIL_SOURCE_DIR) + "/tests/data/audit2rbac-demo-v1.jsonl");
  DecodedAudit decoded;
  for (std::string line; std::getline(in, line);) {
    decode_audit_line(line, &decoded);
  }
  return decoded.events;
}

// Counts the batches it saw and drops every event of one user (a policy stand-in).
class MarkingProcessor : public Processor {
 public:
  MarkingProcessor(std::int32_t partition, std::map<std::int32_t, int>* seen)
      : partition_(partition), seen_(seen) {}
  void process(Batch& batch, BatchOutcome& outcome) override {
    ++(*seen_)[partition_];
    const std::size_t before = batch.audit.size();
    std::erase_if(batch.audit, [](const AuditEvent& e) { return e.user.username == "drop-me"; });
    outcome.dropped_by_policy += before - batch.audit.size();
  }

 private:
  std::int32_t partition_;
  std::map<std::int32_t, int>* seen_;
};

std::string one_origin(sqlite3* db) {
  sqlite3_stmt* st = nullptr;
  EXPECT_EQ(sqlite3_prepare_v2(db, "SELECT origin FROM dead_letters", -1, &st, nullptr), SQLITE_OK);
  std::string out;
  if (sqlite3_step(st) == SQLITE_ROW) {
    out = reinterpret_cast<const char*>(sqlite3_column_text(st, 0));
  }
  sqlite3_finalize(st);
  return out;
}

TEST(KafkaStoreWriter, AGroupOfSeveralPartitionsIsOneTransactionWithAllOffsets) {
  testing::TempDir dir;
  auto store = Store::open(dir.file("shard.db"), StoreOptions{});
  ASSERT_TRUE(store.is_ok()) << store.status().to_string();
  auto writer = KafkaStoreWriter::create(store->get(), nullptr, {});
  ASSERT_TRUE(writer.is_ok());
  const std::vector<AuditEvent> events = sample_events();
  ASSERT_GE(events.size(), 4u);

  std::vector<kafka::PartitionBatch> group(3);
  group[0].partitions = {1};
  group[0].batch.audit = {events[0], events[1]};
  group[0].offsets = {{"t.audit", 1, 5}};
  group[1].partitions = {4};
  group[1].batch.audit = {events[2]};
  group[1].batch.rejected = {{"not an audit event", "{}"}};
  group[1].offsets = {{"t.audit", 4, 9}, {"t.events", 4, 3}};
  group[1].outcome.dropped_by_policy = 2;
  group[2].partitions = {1};
  group[2].batch.audit = {events[3]};
  group[2].offsets = {{"t.audit", 1, 7}};
  ASSERT_TRUE((*writer)->write(group).is_ok());

  auto counts = (*store)->counts();
  ASSERT_TRUE(counts.is_ok());
  EXPECT_EQ(counts->audit, 4);
  EXPECT_EQ(counts->dead_letters, 1);
  EXPECT_EQ((*writer)->stored_offset("t.audit", 1), 7);  // the later batch of partition 1
  EXPECT_EQ((*writer)->stored_offset("t.audit", 4), 9);
  EXPECT_EQ((*writer)->stored_offset("t.events", 4), 3);
  EXPECT_EQ((*writer)->stored_offset("t.events", 1), -1);
  EXPECT_EQ(one_origin((*store)->handle()), "kafka partitions 1,4");
  EXPECT_EQ((*writer)->totals().stored, 4u);
  EXPECT_EQ((*writer)->totals().rejected, 1u);
  EXPECT_EQ((*writer)->totals().dropped_by_policy, 2u);

  // The same messages again (a redelivery): duplicates, and the offsets do not go back.
  std::vector<kafka::PartitionBatch> again(1);
  again[0].partitions = {1};
  again[0].batch.audit = {events[0]};
  again[0].offsets = {{"t.audit", 1, 6}};
  ASSERT_TRUE((*writer)->write(again).is_ok());
  EXPECT_EQ((*writer)->totals().duplicates, 1u);
  EXPECT_EQ((*writer)->stored_offset("t.audit", 1), 7);
}

TEST(KafkaStoreWriter, ProcessRunsThePartitionsOwnChain) {
  testing::TempDir dir;
  auto store = Store::open(dir.file("shard.db"), StoreOptions{});
  ASSERT_TRUE(store.is_ok());
  std::map<std::int32_t, int> seen;
  std::vector<std::int32_t> built;
  ChainFactory factory = [&](const std::vector<std::int32_t>& partitions, std::int32_t, Store&) {
    std::map<std::int32_t, ProcessorChain> chains;
    for (std::int32_t p : partitions) {
      built.push_back(p);
      chains[p].push_back(std::make_unique<MarkingProcessor>(p, &seen));
    }
    return chains;
  };
  auto writer = KafkaStoreWriter::create(store->get(), factory, {});
  ASSERT_TRUE(writer.is_ok());
  (*writer)->assigned({0, 2}, 3);
  EXPECT_EQ((*writer)->owned_partitions(), 2u);

  Batch batch;
  batch.audit = sample_events();
  const std::size_t total = batch.audit.size();
  batch.audit[0].user.username = "drop-me";
  BatchOutcome outcome;
  (*writer)->process(2, batch, outcome);
  EXPECT_EQ(seen, (std::map<std::int32_t, int>{{2, 1}}));
  EXPECT_EQ(batch.audit.size(), total - 1);
  EXPECT_EQ(outcome.dropped_by_policy, 1u);

  // An index never announced gets its chain built on first use, not skipped.
  Batch other;
  (*writer)->process(1, other, outcome);
  EXPECT_EQ(seen[1], 1);
  EXPECT_EQ(built, (std::vector<std::int32_t>{0, 2, 1}));

  (*writer)->revoked({0, 1, 2});
  EXPECT_EQ((*writer)->owned_partitions(), 0u);
}

// Chains of one correlation stage each, whose correlators the test can look at.
ChainFactory correlating(std::map<std::int32_t, correlate::CorrelateProcessor*>* stages) {
  return [stages](const std::vector<std::int32_t>& partitions, std::int32_t, Store&) {
    std::map<std::int32_t, ProcessorChain> chains;
    for (std::int32_t p : partitions) {
      auto stage = std::make_unique<correlate::CorrelateProcessor>();
      (*stages)[p] = stage.get();
      chains[p].push_back(std::move(stage));
    }
    return chains;
  };
}

Batch events_batch(const std::vector<testing::Item>& items) {
  Batch b;
  for (const auto& it : items) {
    b.events.push_back(it.e);
  }
  return b;
}

KubeEvent later_event(Micros time) {
  KubeEvent e;
  e.uid = "later";
  e.reason = "Pulled";
  e.namespace_ = "other";
  e.first_time = e.last_time = time;
  return e;
}

// A partition that receives nothing follows the event time of those still receiving: its
// reorder window releases what that time passed, and its quiet incidents close.
TEST(KafkaStoreWriter, AQuietPartitionFollowsTheOthersEventTime) {
  testing::TempDir dir;
  auto store = Store::open(dir.file("shard.db"), StoreOptions{});
  ASSERT_TRUE(store.is_ok());
  std::map<std::int32_t, correlate::CorrelateProcessor*> stages;
  auto writer = KafkaStoreWriter::create(store->get(), correlating(&stages), {});
  ASSERT_TRUE(writer.is_ok());
  (*writer)->assigned({0, 1}, 2);
  // The storm's own Events (the file goes on with quiet node Events that would close it).
  auto items =
      testing::load_items(testing::scenario("restart-storm.watch.jsonl"), testing::Feed::kEvents);
  std::erase_if(items, [](const testing::Item& it) { return it.e.reason == "Starting"; });
  ASSERT_FALSE(items.empty());
  Batch storm = events_batch(items);
  BatchOutcome outcome;
  (*writer)->process(0, storm, outcome);
  correlate::Correlator& quiet = stages.at(0)->correlator();
  const std::size_t held = quiet.buffered();
  ASSERT_GT(held, 0u);  // the last reorder window of the storm
  for (const Incident& i : storm.incidents) {
    ASSERT_TRUE(i.open()) << i.id;
  }

  // Nothing else has moved: there is no other time to follow.
  Batch released;
  (*writer)->idle({0}, false, released);
  EXPECT_TRUE(released.incidents.empty());
  EXPECT_EQ(quiet.buffered(), held);

  // Partition 1 moves on an hour; partition 0 follows it.
  const Micros later = quiet.watermark() + 3600LL * 1'000'000;
  Batch other;
  other.events = {later_event(later)};
  (*writer)->process(1, other, outcome);
  (*writer)->idle({0}, false, released);
  EXPECT_EQ(quiet.buffered(), 0u);
  EXPECT_EQ(quiet.watermark(), later);
  ASSERT_FALSE(released.incidents.empty());
  bool closed_storm = false;
  for (const Incident& i : released.incidents) {
    closed_storm |= i.kind == IncidentKind::kRestartStorm && !i.open();
  }
  EXPECT_TRUE(closed_storm);
  // Partition 1 itself was not quiet: it keeps its own window.
  EXPECT_EQ(stages.at(1)->correlator().buffered(), 1u);
}

// When every partition is quiet (a replayed file ended), or at shutdown, every window is
// released: the incidents are those of one correlator given the whole input and flushed.
TEST(KafkaStoreWriter, AllQuietOrFinishReleasesEverythingAsAReplayEnds) {
  const auto items =
      testing::load_items(testing::scenario("restart-storm.watch.jsonl"), testing::Feed::kEvents);
  correlate::CorrelateProcessor alone;
  Batch whole = events_batch(items);
  BatchOutcome outcome;
  alone.process(whole, outcome);
  alone.finish(whole);
  std::map<std::string, Incident> want;
  for (Incident& i : whole.incidents) {
    want[i.id] = i;  // the last update of each
  }
  ASSERT_FALSE(want.empty());

  for (const bool at_shutdown : {false, true}) {
    testing::TempDir dir;
    auto store = Store::open(dir.file("shard.db"), StoreOptions{});
    ASSERT_TRUE(store.is_ok());
    std::map<std::int32_t, correlate::CorrelateProcessor*> stages;
    auto writer = KafkaStoreWriter::create(store->get(), correlating(&stages), {});
    ASSERT_TRUE(writer.is_ok());
    (*writer)->assigned({0, 1}, 2);
    Batch b = events_batch(items);
    (*writer)->process(0, b, outcome);
    Batch released;
    if (at_shutdown) {
      (*writer)->finish(released);
    } else {
      (*writer)->idle({0, 1}, true, released);
    }
    EXPECT_EQ(stages.at(0)->correlator().buffered(), 0u);
    std::map<std::string, Incident> got;
    for (Incident& i : b.incidents) got[i.id] = i;
    for (Incident& i : released.incidents) got[i.id] = i;
    ASSERT_EQ(got.size(), want.size()) << at_shutdown;
    for (const auto& [id, w] : want) {
      ASSERT_EQ(got.count(id), 1u) << id;
      EXPECT_EQ(got[id].start, w.start) << id;
      EXPECT_EQ(got[id].end, w.end) << id;
      EXPECT_EQ(got[id].kind, w.kind) << id;
    }
  }
}

TEST(KafkaStoreWriter, RecordsItsDeploymentAndRefusesAnotherOnesShard) {
  testing::TempDir dir;
  auto store = Store::open(dir.file("shard.db"), StoreOptions{});
  ASSERT_TRUE(store.is_ok());
  const ShardIdentity mine{"ktrail", "ktrail-process"};
  ASSERT_TRUE(KafkaStoreWriter::create(store->get(), nullptr, {dir.path(), mine}).is_ok());
  auto recorded = read_shard_identity((*store)->handle());
  ASSERT_TRUE(recorded.is_ok() && recorded->has_value());
  EXPECT_EQ(**recorded, mine);
  auto other = KafkaStoreWriter::create(store->get(), nullptr, {dir.path(), {"ktrail", "other"}});
  ASSERT_FALSE(other.is_ok());
  EXPECT_NE(other.status().message().find("shard.db"), std::string::npos);
  // Peers without an identity to match them by: refused.
  EXPECT_FALSE(KafkaStoreWriter::create(store->get(), nullptr, {dir.path(), {}}).is_ok());
}

// stored_offset() reads the offsets of peer shards only: a store of another deployment beside
// the shard, however far ahead its offsets, does not move where a partition starts.
TEST(KafkaStoreWriter, OffsetsAreReadFromPeerShardsOnly) {
  testing::TempDir dir;
  const ShardIdentity mine{"t", "g"};
  auto write_offset = [&](const std::string& name, const ShardIdentity& identity,
                          std::int64_t next) {
    auto s = Store::open(dir.file(name), StoreOptions{});
    ASSERT_TRUE(s.is_ok());
    auto w = KafkaStoreWriter::create(s->get(), nullptr, {dir.path(), identity});
    ASSERT_TRUE(w.is_ok()) << w.status().to_string();
    std::vector<kafka::PartitionBatch> group(1);
    group[0].partitions = {0};
    group[0].offsets = {{"t.audit", 0, next}};
    ASSERT_TRUE((*w)->write(group).is_ok());
  };
  write_offset("peer.db", mine, 40);
  write_offset("other.db", {"t", "another-group"}, 900);
  auto own = Store::open(dir.file("own.db"), StoreOptions{});
  ASSERT_TRUE(own.is_ok());
  auto writer = KafkaStoreWriter::create(own->get(), nullptr, {dir.path(), mine});
  ASSERT_TRUE(writer.is_ok());
  EXPECT_EQ((*writer)->stored_offset("t.audit", 0), 40);
}

}  // namespace
}  // namespace ktrail::app
