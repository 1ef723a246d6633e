// A partition that moves to another member continues its incidents, against the real broker
// (ctest fixture "kafka"): member A correlates the first part of a stream of real incident
// signals and leaves the group with restart storms open; member B, alone, takes every
// partition, rebuilds each partition's correlator from its own (empty) shard and A's shard, and
// correlates the rest. The two shards read together hold the incidents one process finds.
#include <gtest/gtest.h>

#include <filesystem>

#include "app/kafka_roles.h"
#include "app/partition_restore.h"
#include "app/processor_chain.h"
#include "processors/correlate/processor.h"
#include "tests/support/kafka_env.h"
#include "tests/support/stream_check.h"

namespace ktrail {
namespace {

using namespace std::chrono_literals;

constexpr int kPartitions = 4;

// One process-role member in this process, as `ktrail serve --role process` wires it.
std::unique_ptr<app::KafkaRoles> start_member(const std::string& prefix, Store* store,
                                              const std::string& shard_dir,
                                              const std::string& name) {
  app::KafkaRolesOptions options;
  options.role = app::KafkaRole::kProcess;
  options.kafka.brokers = testing::kafka_brokers();
  options.kafka.topic_prefix = prefix;
  options.kafka.partitions = kPartitions;
  options.kafka.client_id = name;
  options.kafka.extra = {{"session.timeout.ms", "6000"}, {"heartbeat.interval.ms", "500"}};
  options.group_id = prefix + "-group";
  options.store = store;
  options.peer_dir = shard_dir;
  options.chain = app::make_partition_chain_factory({app::ServeOptions{}, shard_dir});
  auto roles = app::KafkaRoles::start(options);
  EXPECT_TRUE(roles.is_ok()) << roles.status().to_string();
  return roles ? std::move(*roles) : nullptr;
}

// The incidents of one process correlating the whole stream (the embedded pipeline's chain).
std::vector<Incident> single_process(const testing::IncidentStream& s, const std::string& db) {
  auto store = Store::open(db, StoreOptions{});
  EXPECT_TRUE(store.is_ok());
  auto chain = app::make_processor_chain(app::ServeOptions{});
  EXPECT_TRUE(chain.is_ok());
  for (const auto& [begin, end] : s.batches(0, s.items.size(), 20)) {
    Batch b = s.batch(begin, end);
    BatchOutcome outcome;
    for (auto& p : *chain) p->process(b, outcome);
    EXPECT_TRUE((*store)->write_batch(b).is_ok());
  }
  auto found = (*store)->find_incidents({});
  EXPECT_TRUE(found.is_ok());
  return found ? *found : std::vector<Incident>{};
}

std::set<std::string> ids_in(const std::string& shard) {
  StoreOptions options;
  options.read_only = true;
  auto store = Store::open(shard, options);
  std::set<std::string> ids;
  if (!store) return ids;
  auto found = (*store)->find_incidents({});
  for (const auto& i : found ? *found : std::vector<Incident>{}) ids.insert(i.id);
  return ids;
}

TEST(KafkaRestore, NewOwnerContinuesTheIncidentsOfAPartitionThatMoved) {
  const testing::IncidentStream stream = testing::incident_stream(kPartitions);
  testing::TempDir dir;
  const std::string shard_dir = dir.file("shards");
  std::filesystem::create_directories(shard_dir);
  const std::string a_path = shard_dir + "/a.db";
  const std::string b_path = shard_dir + "/b.db";
  const auto want = single_process(stream, dir.file("single.db"));
  ASSERT_EQ(want.size(), 2u + 2 * kPartitions);  // drains, storms, node episodes

  const std::string prefix = testing::unique_name("restore");
  kafka::ProducerOptions producer_options;
  producer_options.kafka.brokers = testing::kafka_brokers();
  producer_options.kafka.topic_prefix = prefix;
  producer_options.kafka.partitions = kPartitions;
  auto producer = kafka::KafkaProducer::create(producer_options);
  ASSERT_TRUE(producer.is_ok()) << producer.status().to_string();

  // A alone correlates up to 09:30, when every partition has a storm and a node episode open,
  // and leaves.
  const std::size_t cut = stream.index_of(*parse_rfc3339("2026-03-01T09:30:00Z"));
  {
    auto a_store = Store::open(a_path, StoreOptions{});
    ASSERT_TRUE(a_store.is_ok());
    auto a = start_member(prefix, a_store->get(), shard_dir, "a");
    ASSERT_NE(a, nullptr);
    ASSERT_TRUE(testing::send_range(**producer, stream, 0, cut, 20));
    EXPECT_TRUE(
        testing::wait_until([&] { return testing::shards_hold({a_path}, stream, cut); }, 120s));
    a->stop(10s);
  }
  StoreOptions read_only;
  read_only.read_only = true;
  {
    auto a_store = Store::open(a_path, read_only);
    ASSERT_TRUE(a_store.is_ok());
    IncidentFilter open;
    open.open_only = true;
    auto left_open = (*a_store)->find_incidents(open);
    ASSERT_TRUE(left_open.is_ok());
    ASSERT_EQ(left_open->size(), 2u * kPartitions);
  }

  // B takes every partition, rebuilds it from A's shard, and correlates the rest.
  auto b_store = Store::open(b_path, StoreOptions{});
  ASSERT_TRUE(b_store.is_ok());
  auto b = start_member(prefix, b_store->get(), shard_dir, "b");
  ASSERT_NE(b, nullptr);
  ASSERT_TRUE(testing::send_range(**producer, stream, cut, stream.items.size(), 20));
  EXPECT_TRUE(testing::wait_until(
      [&] {
        return testing::shards_hold({a_path, b_path}, stream, stream.items.size());
      },
      120s));
  b->stop(10s);

  auto shards = app::ShardSet::open({a_path, b_path}, read_only);
  ASSERT_TRUE(shards.is_ok()) << shards.status().to_string();
  auto got = shards->find_incidents({});
  ASSERT_TRUE(got.is_ok());
  EXPECT_EQ(testing::summary(*got), testing::summary(want));
  // Continued, not started again: B wrote to every incident A had left open.
  std::size_t continued = 0;
  const auto in_a = ids_in(a_path);
  for (const auto& id : ids_in(b_path)) continued += in_a.count(id);
  EXPECT_EQ(continued, 2u * kPartitions);
}

}  // namespace
}  // namespace ktrail
