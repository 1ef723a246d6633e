// Error paths of the Kafka producer and consumer against librdkafka's mock cluster: fast and
// deterministic. The real broker tests (tests/integration/kafka_*) prove the rest.
#include <gtest/gtest.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <atomic>
#include <condition_variable>
#include <fstream>
#include <mutex>
#include <set>
#include <thread>

#include "core/json.h"
#include "queue/kafka_consumer.h"
#include "queue/kafka_handles.h"
#include "queue/kafka_keys.h"
#include "queue/kafka_producer.h"

namespace ktrail::kafka {
namespace {

using namespace std::chrono_literals;

// A mock cluster owned by a dummy client; other clients reach it over TCP on loopback.
class MockCluster {
 public:
  explicit MockCluster(int brokers = 1) {
    auto conf = make_conf({{"test.mock.num.brokers", std::to_string(brokers)}});
    EXPECT_TRUE(conf.is_ok());
    auto rk = make_handle(RD_KAFKA_PRODUCER, std::move(*conf));
    EXPECT_TRUE(rk.is_ok()) << rk.status().to_string();
    rk_ = std::move(*rk);
    cluster_ = rd_kafka_handle_mock_cluster(rk_.get());
  }
  rd_kafka_mock_cluster_t* get() { return cluster_; }
  std::string bootstraps() { return rd_kafka_mock_cluster_bootstraps(cluster_); }
  void create_topics(const KafkaOptions& options, int partitions) {
    ASSERT_EQ(rd_kafka_mock_topic_create(cluster_, options.audit_topic().c_str(), partitions, 1),
              RD_KAFKA_RESP_ERR_NO_ERROR);
    ASSERT_EQ(rd_kafka_mock_topic_create(cluster_, options.events_topic().c_str(), partitions, 1),
              RD_KAFKA_RESP_ERR_NO_ERROR);
  }

 private:
  HandlePtr rk_;
  rd_kafka_mock_cluster_t* cluster_ = nullptr;
};

// Polls `pred` until it holds or `timeout` passes, without spinning a core.
template <typename Pred>
bool wait_until(Pred pred, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::mutex m;
  std::condition_variable never;
  std::unique_lock lock(m);
  while (!pred()) {
    if (std::chrono::steady_clock::now() >= deadline) {
      return pred();
    }
    never.wait_for(lock, 5ms);
  }
  return true;
}

// Records done() calls; waits for them with a deadline.
struct DoneLog {
  std::mutex mutex;
  std::condition_variable cv;
  std::vector<Status> calls;

  BatchDone callback() {
    return [this](const Status& status, const BatchOutcome&) {
      std::lock_guard lock(mutex);
      calls.push_back(status);
      cv.notify_all();
    };
  }
  bool wait_for(std::size_t n, std::chrono::milliseconds timeout) {
    std::unique_lock lock(mutex);
    return cv.wait_for(lock, timeout, [&] { return calls.size() >= n; });
  }
};

std::vector<AuditEvent> sample_audit_events() {
  std::ifstream in(std::string(KTRAIL_SOURCE_DIR) + "/tests/data/audit2rbac-demo-v1.jsonl");
  DecodedAudit decoded;
  for (std::string line; std::getline(in, line);) {
    decode_audit_line(line, &decoded);
  }
  return decoded.events;
}

KubeEvent sample_kube_event(const std::string& uid) {
  KubeEvent e;
  e.uid = uid;
  e.object = {"Node", "", "n1", "", "v1", ""};
  e.reason = "NodeNotReady";
  e.json = R"({"kind":"Event","metadata":{"uid":")" + uid + R"("},"reason":"NodeNotReady"})";
  return e;
}

// The test's Event decoder: the uid is enough to check what arrived.
Result<KubeEvent> decode_test_event(std::string_view text) {
  rapidjson::Document doc;
  KTRAIL_RETURN_IF_ERROR(json::parse(text, &doc));
  if (!doc.IsObject() || !doc.HasMember("metadata")) {
    return parse_error("not an Event");
  }
  KubeEvent e;
  e.uid = std::string(json::get_string(doc["metadata"], "uid"));
  e.json = std::string(text);
  return e;
}

ProducerOptions producer_options(const std::string& brokers) {
  ProducerOptions options;
  options.kafka.brokers = brokers;
  options.kafka.topic_prefix = "mocktest";
  options.ack_timeout = 3s;
  options.probe_interval = 200ms;
  options.create_topics = false;
  return options;
}

TEST(KafkaProducerMock, DeliveredBatchIsDoneOnceWithOk) {
  MockCluster cluster;
  ProducerOptions options = producer_options(cluster.bootstraps());
  cluster.create_topics(options.kafka, 4);
  auto producer = KafkaProducer::create(options);
  ASSERT_TRUE(producer.is_ok()) << producer.status().to_string();
  ASSERT_TRUE((*producer)->ready());

  Batch batch;
  batch.audit = sample_audit_events();
  ASSERT_FALSE(batch.audit.empty());
  batch.events.push_back(sample_kube_event("e1"));
  batch.rejected.push_back({"bad line", "{not json"});
  DoneLog log;
  std::atomic<int> calls{0};
  BatchOutcome seen;
  auto done = [&](const Status& s, const BatchOutcome& o) {
    ++calls;
    seen = o;
    log.callback()(s, o);
  };
  ASSERT_EQ((*producer)->submit(std::move(batch), done), SubmitResult::kAccepted);
  ASSERT_TRUE(log.wait_for(1, 10s));
  EXPECT_TRUE(log.calls[0].is_ok()) << log.calls[0].to_string();
  (*producer)->shutdown(5s);
  EXPECT_EQ(calls.load(), 1);  // still once, after shutdown
  EXPECT_EQ(seen.stored, sample_audit_events().size() + 1);
  EXPECT_EQ(seen.rejected, 1u);
  EXPECT_EQ((*producer)->queue_depth(), 0);
}

TEST(KafkaProducerMock, EmptyBatchIsDoneFromAnotherThread) {
  MockCluster cluster;
  ProducerOptions options = producer_options(cluster.bootstraps());
  cluster.create_topics(options.kafka, 1);
  auto producer = KafkaProducer::create(options);
  ASSERT_TRUE(producer.is_ok());
  DoneLog log;
  std::thread::id done_thread;
  auto done = [&](const Status& s, const BatchOutcome& o) {
    done_thread = std::this_thread::get_id();
    log.callback()(s, o);
  };
  ASSERT_EQ((*producer)->submit(Batch{}, done), SubmitResult::kAccepted);
  ASSERT_TRUE(log.wait_for(1, 5s));
  EXPECT_TRUE(log.calls[0].is_ok());
  EXPECT_NE(done_thread, std::this_thread::get_id());
}

TEST(KafkaProducerMock, SlowBrokerPastAckTimeoutIsUnavailable) {
  MockCluster cluster;
  ProducerOptions options = producer_options(cluster.bootstraps());
  options.ack_timeout = 700ms;
  cluster.create_topics(options.kafka, 1);
  auto producer = KafkaProducer::create(options);
  ASSERT_TRUE(producer.is_ok());
  ASSERT_TRUE((*producer)->ready());
  // Every answer now takes 5 s: no delivery report can arrive within the ack timeout.
  rd_kafka_mock_broker_set_rtt(cluster.get(), 1, 5000);
  Batch batch;
  batch.audit = sample_audit_events();
  DoneLog log;
  const auto started = std::chrono::steady_clock::now();
  ASSERT_EQ((*producer)->submit(std::move(batch), log.callback()), SubmitResult::kAccepted);
  ASSERT_TRUE(log.wait_for(1, 10s));
  EXPECT_EQ(log.calls[0].code(), ErrorCode::kUnavailable) << log.calls[0].to_string();
  EXPECT_GE(std::chrono::steady_clock::now() - started, 600ms);  // not before the deadline
  rd_kafka_mock_broker_set_rtt(cluster.get(), 1, 0);
  (*producer)->shutdown(10s);
  EXPECT_EQ(log.calls.size(), 1u);  // late reports do not call done again
}

TEST(KafkaProducerMock, DeliveryErrorIsUnavailable) {
  MockCluster cluster;
  ProducerOptions options = producer_options(cluster.bootstraps());
  cluster.create_topics(options.kafka, 1);
  auto producer = KafkaProducer::create(options);
  ASSERT_TRUE(producer.is_ok());
  // A non-retriable Produce error for every attempt.
  for (int i = 0; i < 10; ++i) {
    rd_kafka_mock_push_request_errors(cluster.get(), /*Produce=*/0, 1,
                                      RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED);
  }
  Batch batch;
  batch.events.push_back(sample_kube_event("e1"));
  DoneLog log;
  ASSERT_EQ((*producer)->submit(std::move(batch), log.callback()), SubmitResult::kAccepted);
  ASSERT_TRUE(log.wait_for(1, 10s));
  EXPECT_EQ(log.calls[0].code(), ErrorCode::kUnavailable);
  EXPECT_NE(log.calls[0].message().find("delivery failed"), std::string::npos)
      << log.calls[0].to_string();
}

TEST(KafkaProducerMock, BrokerDownMakesItUnreadyAndRefuses) {
  MockCluster cluster;
  ProducerOptions options = producer_options(cluster.bootstraps());
  options.ack_timeout = 1s;
  cluster.create_topics(options.kafka, 1);
  auto producer = KafkaProducer::create(options);
  ASSERT_TRUE(producer.is_ok());
  ASSERT_TRUE((*producer)->ready());
  rd_kafka_mock_broker_set_down(cluster.get(), 1);
  // Every submission fails one way or the other: refused, or accepted and then unavailable.
  const auto deadline = std::chrono::steady_clock::now() + 20s;
  while ((*producer)->ready() && std::chrono::steady_clock::now() < deadline) {
    DoneLog log;
    Batch batch;
    batch.events.push_back(sample_kube_event("e"));
    if ((*producer)->submit(std::move(batch), log.callback()) == SubmitResult::kAccepted) {
      ASSERT_TRUE(log.wait_for(1, 10s));
      EXPECT_EQ(log.calls[0].code(), ErrorCode::kUnavailable);
    }
  }
  EXPECT_FALSE((*producer)->ready());
  DoneLog log;
  EXPECT_EQ((*producer)->submit(Batch{}, log.callback()), SubmitResult::kUnavailable);
  // The broker comes back: the producer recovers by itself.
  rd_kafka_mock_broker_set_up(cluster.get(), 1);
  ASSERT_TRUE(wait_until([&] { return (*producer)->ready(); }, 20s));
  ASSERT_EQ((*producer)->submit(Batch{}, log.callback()), SubmitResult::kAccepted);
  ASSERT_TRUE(log.wait_for(1, 10s));
  EXPECT_TRUE(log.calls[0].is_ok());
}

TEST(KafkaProducerMock, RejectsBadOptions) {
  ProducerOptions options;
  EXPECT_EQ(KafkaProducer::create(options).status().code(), ErrorCode::kInvalidArgument);
  options.kafka.brokers = "127.0.0.1:1";
  options.kafka.extra["no.such.setting"] = "1";
  options.create_topics = false;
  EXPECT_EQ(KafkaProducer::create(options).status().code(), ErrorCode::kInvalidArgument);
  options.kafka.extra.clear();
  options.compression = "rot13";
  EXPECT_EQ(KafkaProducer::create(options).status().code(), ErrorCode::kInvalidArgument);
}

// The producer as configured (not a bare librdkafka client) puts every keyed message where
// partition_for_key says, which is what the process role's restore relies on.
TEST(KafkaProducerMock, KeyedMessagesLandWherePartitionForKeySays) {
  constexpr int kPartitions = 5;
  MockCluster cluster;
  ProducerOptions options = producer_options(cluster.bootstraps());
  cluster.create_topics(options.kafka, kPartitions);
  auto producer = KafkaProducer::create(options);
  ASSERT_TRUE(producer.is_ok()) << producer.status().to_string();
  Batch batch;
  batch.audit = sample_audit_events();
  for (const char* kind : {"Node", "Pod", "ReplicaSet", "ConfigMap"}) {
    for (int i = 0; i < 10; ++i) {
      KubeEvent e = sample_kube_event(std::string(kind) + std::to_string(i));
      e.object = {kind, "shop", "web-5d9c7b8f6-x2x4" + std::to_string(i), "", "v1", ""};
      batch.events.push_back(e);
    }
  }
  const std::size_t total = batch.audit.size() + batch.events.size();
  DoneLog log;
  ASSERT_EQ((*producer)->submit(std::move(batch), log.callback()), SubmitResult::kAccepted);
  ASSERT_TRUE(log.wait_for(1, 10s));
  ASSERT_TRUE(log.calls[0].is_ok()) << log.calls[0].to_string();

  auto conf = make_conf({{"bootstrap.servers", cluster.bootstraps()},
                         {"group.id", "partition-check"},
                         {"enable.partition.eof", "false"}});
  ASSERT_TRUE(conf.is_ok());
  auto consumer = make_handle(RD_KAFKA_CONSUMER, std::move(*conf));
  ASSERT_TRUE(consumer.is_ok()) << consumer.status().to_string();
  PartitionListPtr all(rd_kafka_topic_partition_list_new(2 * kPartitions));
  for (const std::string& topic : {options.kafka.audit_topic(), options.kafka.events_topic()}) {
    for (int p = 0; p < kPartitions; ++p) {
      rd_kafka_topic_partition_list_add(all.get(), topic.c_str(), p)->offset =
          RD_KAFKA_OFFSET_BEGINNING;
    }
  }
  ASSERT_EQ(rd_kafka_assign(consumer->get(), all.get()), RD_KAFKA_RESP_ERR_NO_ERROR);
  std::size_t checked = 0;
  std::set<std::int32_t> partitions;
  const auto deadline = std::chrono::steady_clock::now() + 20s;
  while (checked < total && std::chrono::steady_clock::now() < deadline) {
    MessagePtr msg(rd_kafka_consumer_poll(consumer->get(), 100));
    if (!msg || msg->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      continue;
    }
    ASSERT_GT(msg->key_len, 0u);
    // Keyed messages carry no headers: only keyless rejected items are marked.
    rd_kafka_headers_t* headers = nullptr;
    EXPECT_EQ(rd_kafka_message_headers(msg.get(), &headers), RD_KAFKA_RESP_ERR__NOENT);
    const std::string key(static_cast<const char*>(msg->key), msg->key_len);
    EXPECT_EQ(partition_for_key(key, kPartitions), msg->partition) << key;
    partitions.insert(msg->partition);
    ++checked;
  }
  EXPECT_EQ(checked, total);
  EXPECT_GT(partitions.size(), 2u);  // the keys spread, so the check covered several
  rd_kafka_consumer_close(consumer->get());
}

TEST(KafkaProducerMock, ThePartitionerCannotBeChanged) {
  ProducerOptions options = producer_options("127.0.0.1:1");
  options.kafka.extra = {{"partitioner", "murmur2_random"}};
  EXPECT_EQ(KafkaProducer::create(options).status().code(), ErrorCode::kInvalidArgument);
}

// A writer that stores in memory, idempotent on the audit identity and the Event uid, and can
// be told to fail.
class MemoryWriter : public BatchWriter {
 public:
  std::int64_t stored_offset(const std::string& topic, std::int32_t partition) override {
    std::lock_guard lock(mutex);
    auto it = offsets.find(topic + "/" + std::to_string(partition));
    return it == offsets.end() ? -1 : it->second;
  }
  void process(std::int32_t, Batch&, BatchOutcome&) override { ++processed; }
  Status write(std::vector<PartitionBatch>& group) override {
    std::lock_guard lock(mutex);
    if (fail_writes > 0) {
      --fail_writes;
      return database_error("injected failure");
    }
    for (const PartitionBatch& item : group) {
      for (const AuditEvent& e : item.batch.audit) {
        ++audit_writes;
        audit.insert(e.audit_id + "/" + to_string(e.stage));
      }
      for (const KubeEvent& e : item.batch.events) {
        events.insert(e.uid);
      }
      for (const RejectedItem& r : item.batch.rejected) {
        rejected.push_back(r);
      }
      for (const SourceOffset& o : item.offsets) {
        std::int64_t& stored = offsets[o.topic + "/" + std::to_string(o.partition)];
        stored = std::max(stored, o.next_offset);
      }
    }
    ++writes;
    return Status::ok();
  }
  void assigned(const std::vector<std::int32_t>& p, std::int32_t partition_count) override {
    std::lock_guard lock(mutex);
    assigned_count += p.size();
    partition_counts.insert(partition_count);
  }
  void revoked(const std::vector<std::int32_t>&) override {}

  std::size_t total() {
    std::lock_guard lock(mutex);
    return audit.size() + events.size() + rejected.size();
  }

  std::mutex mutex;
  std::set<std::string> audit;
  std::set<std::string> events;
  std::vector<RejectedItem> rejected;
  std::map<std::string, std::int64_t> offsets;
  int fail_writes = 0;
  int writes = 0;
  std::size_t audit_writes = 0;   // audit events written, duplicates included
  std::atomic<int> processed{0};  // process() calls (consumer thread)
  std::size_t assigned_count = 0;
  std::set<std::int32_t> partition_counts;
};

TEST(KafkaConsumerMock, RoundTripAndRetryAfterFailedWrite) {
  MockCluster cluster;
  ProducerOptions poptions = producer_options(cluster.bootstraps());
  cluster.create_topics(poptions.kafka, 2);
  auto producer = KafkaProducer::create(poptions);
  ASSERT_TRUE(producer.is_ok());
  Batch batch;
  batch.audit = sample_audit_events();
  batch.events.push_back(sample_kube_event("e1"));
  batch.events.push_back(sample_kube_event("e2"));
  batch.rejected.push_back({"bad line", "{not json"});
  const std::size_t audit_count = batch.audit.size();
  DoneLog log;
  ASSERT_EQ((*producer)->submit(std::move(batch), log.callback()), SubmitResult::kAccepted);
  ASSERT_TRUE(log.wait_for(1, 10s));
  ASSERT_TRUE(log.calls[0].is_ok());

  MemoryWriter writer;
  writer.fail_writes = 1;  // the first write fails: the messages must come again
  ConsumerOptions coptions;
  coptions.kafka = poptions.kafka;
  coptions.group_id = "mock-group";
  coptions.retry_backoff = 100ms;
  coptions.max_batch_wait = 50ms;
  auto consumer = KafkaConsumer::create(coptions, &writer, decode_test_event);
  ASSERT_TRUE(consumer.is_ok()) << consumer.status().to_string();
  Status run_status;
  std::thread runner([&] { run_status = (*consumer)->run(); });
  const std::size_t want = audit_count + 2 + 1;
  EXPECT_TRUE(wait_until([&] { return writer.total() >= want; }, 30s));
  EXPECT_TRUE(wait_until(
      [&] { return (*consumer)->committed_messages() >= static_cast<std::int64_t>(want); }, 10s));
  (*consumer)->stop();
  runner.join();
  EXPECT_TRUE(run_status.is_ok()) << run_status.to_string();
  EXPECT_EQ(writer.audit.size(), audit_count);
  EXPECT_EQ(writer.events, (std::set<std::string>{"e1", "e2"}));
  ASSERT_EQ(writer.rejected.size(), 1u);
  EXPECT_EQ(writer.rejected[0].reason, "bad line");
  EXPECT_EQ(writer.rejected[0].raw, "{not json");
  EXPECT_EQ(writer.fail_writes, 0);
  EXPECT_GT(writer.assigned_count, 0u);
  EXPECT_EQ(writer.partition_counts, (std::set<std::int32_t>{2}));  // the topics' count
  EXPECT_EQ((*consumer)->committed_messages(), static_cast<std::int64_t>(want));
}

TEST(KafkaConsumerMock, StartsAfterWhatTheStoreHolds) {
  MockCluster cluster;
  ProducerOptions poptions = producer_options(cluster.bootstraps());
  cluster.create_topics(poptions.kafka, 1);
  auto producer = KafkaProducer::create(poptions);
  ASSERT_TRUE(producer.is_ok());
  Batch batch;
  for (int i = 0; i < 10; ++i) {
    batch.events.push_back(sample_kube_event("e" + std::to_string(i)));
  }
  DoneLog log;
  ASSERT_EQ((*producer)->submit(std::move(batch), log.callback()), SubmitResult::kAccepted);
  ASSERT_TRUE(log.wait_for(1, 10s));
  ASSERT_TRUE(log.calls[0].is_ok());

  // The store already holds offsets 0..5 (a member died before its Kafka commit).
  MemoryWriter writer;
  writer.offsets[poptions.kafka.events_topic() + "/0"] = 6;
  ConsumerOptions coptions;
  coptions.kafka = poptions.kafka;
  coptions.group_id = "mock-group-2";
  coptions.max_batch_wait = 50ms;
  auto consumer = KafkaConsumer::create(coptions, &writer, decode_test_event);
  ASSERT_TRUE(consumer.is_ok());
  std::thread runner([&] { (void)(*consumer)->run(); });
  EXPECT_TRUE(wait_until([&] { return (*consumer)->committed_messages() >= 4; }, 30s));
  (*consumer)->stop();
  runner.join();
  EXPECT_EQ(writer.events, (std::set<std::string>{"e6", "e7", "e8", "e9"}));
  EXPECT_EQ(writer.offsets[poptions.kafka.events_topic() + "/0"], 10);
}

// The pipelined consumer against the mock cluster: many small batches over several partitions,
// two injected write failures. While it runs, another client of the group reads the committed
// offsets again and again: none may be ahead of what the writer holds. At the end every
// message was written exactly once (a rewind too early would write some twice, one too late
// would skip some).
TEST(KafkaConsumerMock, PipelinedCommitsNeverRunAheadOfTheStore) {
  constexpr int kPartitions = 3;
  MockCluster cluster;
  ProducerOptions poptions = producer_options(cluster.bootstraps());
  cluster.create_topics(poptions.kafka, kPartitions);
  auto producer = KafkaProducer::create(poptions);
  ASSERT_TRUE(producer.is_ok());
  std::size_t audit_count = 0;
  for (int round = 0; round < 20; ++round) {
    Batch batch;
    for (AuditEvent e : sample_audit_events()) {
      // Distinct identities per round: the consumer decodes the JSON, so change it there.
      const std::string field = "\"auditID\":\"";
      const auto at = e.json.find(field);
      ASSERT_NE(at, std::string::npos);
      e.json.insert(at + field.size(), "r" + std::to_string(round) + "-");
      batch.audit.push_back(std::move(e));
    }
    batch.events.push_back(sample_kube_event("e" + std::to_string(round)));
    audit_count += batch.audit.size();
    DoneLog log;
    ASSERT_EQ((*producer)->submit(std::move(batch), log.callback()), SubmitResult::kAccepted);
    ASSERT_TRUE(log.wait_for(1, 10s));
    ASSERT_TRUE(log.calls[0].is_ok());
  }
  const std::int64_t want = static_cast<std::int64_t>(audit_count) + 20;

  MemoryWriter writer;
  writer.fail_writes = 2;
  ConsumerOptions coptions;
  coptions.kafka = poptions.kafka;
  coptions.group_id = "mock-pipelined";
  coptions.retry_backoff = 50ms;
  coptions.max_batch_wait = 20ms;
  coptions.max_batch_messages = 7;  // many hand-overs, so groups and the queue are exercised
  coptions.max_group_messages = 30;
  coptions.max_queued_messages = 30;
  auto consumer = KafkaConsumer::create(coptions, &writer, decode_test_event);
  ASSERT_TRUE(consumer.is_ok()) << consumer.status().to_string();
  std::thread runner([&] { (void)(*consumer)->run(); });

  // The watcher: a client of the same group that never joins it, reading committed offsets.
  auto conf =
      make_conf({{"bootstrap.servers", cluster.bootstraps()}, {"group.id", "mock-pipelined"}});
  ASSERT_TRUE(conf.is_ok());
  auto watcher = make_handle(RD_KAFKA_CONSUMER, std::move(*conf));
  ASSERT_TRUE(watcher.is_ok());
  int checks = 0;
  int nonzero = 0;
  const auto deadline = std::chrono::steady_clock::now() + 60s;
  while ((*consumer)->committed_messages() < want && std::chrono::steady_clock::now() < deadline) {
    PartitionListPtr list(rd_kafka_topic_partition_list_new(2 * kPartitions));
    for (const std::string& topic : {poptions.kafka.audit_topic(), poptions.kafka.events_topic()}) {
      for (int p = 0; p < kPartitions; ++p) {
        rd_kafka_topic_partition_list_add(list.get(), topic.c_str(), p);
      }
    }
    if (rd_kafka_committed(watcher->get(), list.get(), 5000) != RD_KAFKA_RESP_ERR_NO_ERROR) {
      continue;
    }
    for (int i = 0; i < list->cnt; ++i) {
      const rd_kafka_topic_partition_t& tp = list->elems[i];
      if (tp.offset < 0) {
        continue;  // nothing committed yet
      }
      ++nonzero;
      // Read after the commit: the store's offsets only grow, so this bound is safe.
      const std::int64_t stored = writer.stored_offset(tp.topic, tp.partition);
      EXPECT_LE(tp.offset, stored) << tp.topic << "/" << tp.partition;
    }
    ++checks;
  }
  (*consumer)->stop();
  runner.join();
  EXPECT_GT(checks, 0);
  EXPECT_GT(nonzero, 0);  // the check saw commits, not only empty partitions
  EXPECT_EQ((*consumer)->committed_messages(), want);
  EXPECT_EQ(writer.fail_writes, 0);  // both failures happened and were recovered from
  std::lock_guard lock(writer.mutex);
  EXPECT_EQ(writer.audit.size(), audit_count);
  EXPECT_EQ(writer.audit_writes, audit_count);  // none written twice
  EXPECT_EQ(writer.events.size(), 20u);
  EXPECT_GT(writer.processed.load(), 0);
}

TEST(KafkaConsumerMock, RequiresWriterAndDecoder) {
  ConsumerOptions options;
  options.kafka.brokers = "127.0.0.1:1";
  EXPECT_EQ(KafkaConsumer::create(options, nullptr, decode_test_event).status().code(),
            ErrorCode::kInvalidArgument);
  MemoryWriter writer;
  EXPECT_EQ(KafkaConsumer::create(options, &writer, nullptr).status().code(),
            ErrorCode::kInvalidArgument);
}

}  // namespace
}  // namespace ktrail::kafka
