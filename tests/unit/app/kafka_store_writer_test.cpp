// The process role's BatchWriter on a real SQLite shard: a group of batches from several
// partitions is one transaction holding all their offsets; process() runs each partition's own
// chain.
#include "app/kafka_store_writer.h"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <fstream>

#include "storage/source_offsets.h"
#include "tests/support/test_env.h"

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

}  // namespace
}  // namespace ktrail::app
