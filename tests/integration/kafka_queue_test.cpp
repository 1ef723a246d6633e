// The Kafka buffer against a real broker (started by the ctest fixture "kafka"), in process:
// producer -> broker -> consumer group -> SQLite shards. The process-level scenarios (ktrail
// binaries, SIGKILL, broker stop) are in kafka_serve_test.cpp.
#include <gtest/gtest.h>

#include <atomic>
#include <set>
#include <thread>

#include "app/kafka_store_writer.h"
#include "core/json.h"
#include "queue/kafka_consumer.h"
#include "queue/kafka_producer.h"
#include "storage/source_offsets.h"
#include "storage/store.h"
#include "tests/support/kafka_env.h"

namespace ktrail {
namespace {

using namespace std::chrono_literals;
using testing::audit_event;
using testing::wait_until;

Result<KubeEvent> decode_uid_event(std::string_view text) {
  rapidjson::Document doc;
  KTRAIL_RETURN_IF_ERROR(json::parse(text, &doc));
  if (!doc.IsObject() || !doc.HasMember("metadata") || !doc["metadata"].IsObject()) {
    return parse_error("not an Event");
  }
  KubeEvent e;
  e.uid = std::string(json::get_string(doc["metadata"], "uid"));
  e.reason = std::string(json::get_string(doc, "reason"));
  e.first_time = e.last_time = 1'700'000'000'000'000;
  e.json = std::string(text);
  return e;
}

kafka::KafkaOptions kafka_options(const std::string& prefix) {
  kafka::KafkaOptions options;
  options.brokers = testing::kafka_brokers();
  options.topic_prefix = prefix;
  options.partitions = 4;
  return options;
}

// One process-role member: a shard, a writer and a consumer on its own thread.
struct Member {
  Member(const std::filesystem::path& dir, const std::string& name,
         const kafka::KafkaOptions& kafka) {
    auto opened = Store::open((dir / (name + ".db")).string(), StoreOptions{});
    EXPECT_TRUE(opened.is_ok()) << opened.status().to_string();
    store = std::move(*opened);
    auto w = app::KafkaStoreWriter::create(
        store.get(), nullptr, {dir.string(), {kafka.topic_prefix, kafka.topic_prefix + "-group"}});
    EXPECT_TRUE(w.is_ok()) << w.status().to_string();
    writer = std::move(*w);
    kafka::ConsumerOptions options;
    options.kafka = kafka;
    options.kafka.client_id = name;
    options.group_id = kafka.topic_prefix + "-group";
    options.max_batch_wait = 100ms;
    options.kafka.extra = {{"session.timeout.ms", "6000"}, {"heartbeat.interval.ms", "500"}};
    auto c = kafka::KafkaConsumer::create(options, writer.get(), decode_uid_event);
    EXPECT_TRUE(c.is_ok()) << c.status().to_string();
    consumer = std::move(*c);
    thread = std::thread([this] { result = consumer->run(); });
  }
  void stop() {
    if (thread.joinable()) {
      consumer->stop();
      thread.join();
    }
  }
  ~Member() { stop(); }

  std::unique_ptr<Store> store;
  std::unique_ptr<app::KafkaStoreWriter> writer;
  std::unique_ptr<kafka::KafkaConsumer> consumer;
  std::thread thread;
  Status result;
};

// What a shard holds, read through its own read-only connection (the member's connection
// belongs to the member's thread).
Result<StoreCounts> counts_of(const std::string& path) {
  StoreOptions options;
  options.read_only = true;
  auto store = Store::open(path, options);
  if (!store) {
    return store.status();
  }
  return (*store)->counts();
}

std::int64_t stored_audit(const std::vector<Member*>& members) {
  std::int64_t n = 0;
  for (Member* m : members) {
    auto c = counts_of(m->store->path());
    n += c ? c->audit + c->kube_events : 0;
  }
  return n;
}

// Submits `batches` batches of `per_batch` audit events (and one Event each); returns how many
// distinct items were acknowledged. Every batch is sent twice, as a retrying apiserver would.
std::int64_t produce(kafka::KafkaProducer& producer, const std::string& run, int batches,
                     int per_batch) {
  std::atomic<int> ok{0};
  std::atomic<int> finished{0};
  int accepted = 0;
  for (int b = 0; b < batches; ++b) {
    for (int copy = 0; copy < 2; ++copy) {
      Batch batch;
      for (int i = 0; i < per_batch; ++i) {
        batch.audit.push_back(audit_event(run, b * per_batch + i));
      }
      KubeEvent e = *decode_uid_event(R"({"metadata":{"uid":")" + run + "-ev-" + std::to_string(b) +
                                      R"("},"reason":"BackOff"})");
      e.object = {"Pod", "prod", "web-5d9c7b8f6-x2x4k", "", "v1", ""};
      batch.events.push_back(std::move(e));
      const SubmitResult r =
          producer.submit(std::move(batch), [&](const Status& s, const BatchOutcome&) {
            ok += s.is_ok() ? 1 : 0;
            ++finished;
          });
      EXPECT_EQ(r, SubmitResult::kAccepted);
      accepted += r == SubmitResult::kAccepted ? 1 : 0;
    }
  }
  EXPECT_TRUE(wait_until([&] { return finished.load() == accepted; }, 60s));
  EXPECT_EQ(ok.load(), accepted);
  return static_cast<std::int64_t>(batches) * (per_batch + 1);
}

TEST(KafkaBroker, EveryAcknowledgedEventIsStoredExactlyOnce) {
  testing::TempDir dir;
  const std::string prefix = testing::unique_name("e2e");
  kafka::ProducerOptions poptions;
  poptions.kafka = kafka_options(prefix);
  auto producer = kafka::KafkaProducer::create(poptions);
  ASSERT_TRUE(producer.is_ok()) << producer.status().to_string();
  ASSERT_TRUE((*producer)->ready());
  const std::int64_t want = produce(**producer, prefix, 40, 50);

  Member member(std::filesystem::path(dir.path()), "shard-a", poptions.kafka);
  EXPECT_TRUE(wait_until([&] { return stored_audit({&member}) >= want; }, 60s));
  // Let it commit, then make sure nothing more arrives (no duplicates stored).
  EXPECT_TRUE(wait_until([&] { return member.consumer->committed_messages() >= 2 * want; }, 30s));
  member.stop();
  EXPECT_TRUE(member.result.is_ok()) << member.result.to_string();
  auto counts = member.store->counts();
  ASSERT_TRUE(counts.is_ok());
  EXPECT_EQ(counts->audit, 40 * 50);
  EXPECT_EQ(counts->kube_events, 40);
  EXPECT_EQ(member.writer->totals().duplicates, static_cast<std::size_t>(want));
}

TEST(KafkaBroker, TwoMembersShareThePartitionsAndOneTakesOver) {
  testing::TempDir dir;
  const std::string prefix = testing::unique_name("takeover");
  kafka::ProducerOptions poptions;
  poptions.kafka = kafka_options(prefix);
  auto producer = kafka::KafkaProducer::create(poptions);
  ASSERT_TRUE(producer.is_ok()) << producer.status().to_string();

  Member a(std::filesystem::path(dir.path()), "shard-a", poptions.kafka);
  Member b(std::filesystem::path(dir.path()), "shard-b", poptions.kafka);
  // Both have joined: the 4 indexes are split between them.
  ASSERT_TRUE(wait_until(
      [&] {
        const std::size_t na = a.writer->owned_partitions();
        const std::size_t nb = b.writer->owned_partitions();
        return na > 0 && nb > 0 && na + nb == 4;
      },
      60s));
  std::int64_t want = produce(**producer, prefix + "-1", 20, 50);
  EXPECT_TRUE(wait_until([&] { return stored_audit({&a, &b}) >= want; }, 60s));
  auto ca = counts_of(a.store->path());
  auto cb = counts_of(b.store->path());
  ASSERT_TRUE(ca.is_ok() && cb.is_ok());
  EXPECT_GT(ca->audit, 0);  // both members got partitions
  EXPECT_GT(cb->audit, 0);

  a.stop();  // a leaves; b takes its partitions
  want += produce(**producer, prefix + "-2", 20, 50);
  EXPECT_TRUE(wait_until([&] { return stored_audit({&a, &b}) >= want; }, 60s));
  b.stop();
  EXPECT_EQ(stored_audit({&a, &b}), want);  // exactly once across the shards
}

TEST(KafkaBroker, NextOwnerStartsAfterWhatADeadMemberStored) {
  testing::TempDir dir;
  const std::string prefix = testing::unique_name("crashwindow");
  kafka::KafkaOptions kopts = kafka_options(prefix);
  kopts.partitions = 1;
  kafka::ProducerOptions poptions;
  poptions.kafka = kopts;
  auto producer = kafka::KafkaProducer::create(poptions);
  ASSERT_TRUE(producer.is_ok());
  const std::int64_t want = produce(**producer, prefix, 10, 10);  // 20 messages per partition...

  // A member that died after its SQLite commit and before its Kafka commit: its shard holds
  // the first 5 batches' audit messages (offsets 0..99 of the audit topic, each batch twice).
  {
    auto dead =
        Store::open((std::filesystem::path(dir.path()) / "dead.db").string(), StoreOptions{});
    ASSERT_TRUE(dead.is_ok());
    // The same deployment as the next member (Member below): a peer shard.
    auto writer = app::KafkaStoreWriter::create(
        dead->get(), nullptr, {dir.path(), {kopts.topic_prefix, kopts.topic_prefix + "-group"}});
    ASSERT_TRUE(writer.is_ok());
    std::vector<kafka::PartitionBatch> group(1);
    for (int i = 0; i < 50; ++i) {
      group[0].batch.audit.push_back(audit_event(prefix, i));
    }
    // Batches 0..4 were produced twice each: 100 audit messages, offsets 0..99.
    group[0].offsets = {{kopts.audit_topic(), 0, 100}};
    ASSERT_TRUE((*writer)->write(group).is_ok());
  }
  Member next(std::filesystem::path(dir.path()), "next", kopts);
  EXPECT_TRUE(wait_until(
      [&] {
        auto c = counts_of(next.store->path());
        return c && c->audit + c->kube_events >= want - 50;
      },
      60s));
  next.stop();
  auto c = next.store->counts();
  ASSERT_TRUE(c.is_ok());
  EXPECT_EQ(c->audit, 50);  // only what the dead member had not stored
  EXPECT_EQ(c->kube_events, 10);
}

}  // namespace
}  // namespace ktrail
