// The process role's Kafka consumer: one consumer group over <prefix>.audit and
// <prefix>.events, turning messages into Batches for a BatchWriter (policy, correlation and
// the store, wired by app/).
//
// Delivery guarantee: at least once, made exactly once by the store. Offsets are committed
// only after BatchWriter::write returned ok, i.e. after the SQLite transaction holding those
// messages committed. A crash between the two redelivers the messages, and the store's
// idempotent write (audit identity, Event uid) turns them into duplicates it does not store.
//
// The store also records the offsets it holds (in the same transaction), and a newly assigned
// partition starts after them: a member that dies between its SQLite commit and its Kafka
// commit does not make the next owner write the same messages into another shard.
//
// Partitions: messages are grouped by partition index. Both topics have the same partition
// count and the same keys, and the range assignor gives partition i of both topics to the same
// member, so one index is one correlation domain: write() receives one index at a time, and
// assigned()/revoked() let the writer build or drop that index's correlator state.
//
// Rebalance: on revocation the in-flight batch is finished (written and committed) before the
// partitions go; if the write fails, or the partitions were lost (session timeout), it is
// abandoned uncommitted and the new owner reads it again.
//
// Threads: run() blocks the calling thread and does everything (poll, write, commit); stop()
// and ready() may be called from any thread.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string_view>
#include <vector>

#include "core/batch.h"
#include "core/metrics.h"
#include "queue/kafka_handles.h"
#include "queue/kafka_options.h"

namespace ktrail::kafka {

struct ConsumerOptions {
  KafkaOptions kafka;
  std::string group_id = "ktrail-process";
  std::size_t max_batch_messages = 5'000;
  std::chrono::milliseconds max_batch_wait{200};
  std::chrono::milliseconds retry_backoff{1'000};  // after a failed write
  std::chrono::milliseconds lag_interval{2'000};   // consumer lag metrics refresh
};

// Where the messages of a batch end: the offset to read next in one topic partition.
struct SourceOffset {
  std::string topic;
  std::int32_t partition = 0;
  std::int64_t next_offset = 0;
};

class BatchWriter {
 public:
  virtual ~BatchWriter() = default;
  // Makes the batch durable, in one store transaction that also records `offsets`. Ok means
  // committed.
  virtual Status write(std::int32_t partition, Batch& batch,
                       const std::vector<SourceOffset>& offsets) = 0;
  // The next offset to read for a topic partition according to the store (this member's shard
  // and any peer shards it can see), or -1 when the store knows nothing of it. At assignment the
  // consumer starts from the larger of this and Kafka's committed offset.
  virtual std::int64_t stored_offset(const std::string& topic, std::int32_t partition) = 0;
  // This member now owns these partition indexes, of `partition_count` per topic (0 when the
  // metadata could not be read): rebuild their state from the store.
  virtual void assigned(const std::vector<std::int32_t>& partitions,
                        std::int32_t partition_count) = 0;
  // These indexes went to another member: drop their state.
  virtual void revoked(const std::vector<std::int32_t>& partitions) = 0;
};

// Decodes one Kubernetes Event (the JSON the ingest role produced).
using KubeEventDecoder = std::function<Result<KubeEvent>(std::string_view json)>;

class KafkaConsumer {
 public:
  static Result<std::unique_ptr<KafkaConsumer>> create(ConsumerOptions options, BatchWriter* writer,
                                                       KubeEventDecoder decode_event);
  ~KafkaConsumer();
  KafkaConsumer(const KafkaConsumer&) = delete;
  KafkaConsumer& operator=(const KafkaConsumer&) = delete;

  // Consumes until stop(); then finishes the in-flight batch and leaves the group.
  Status run();
  void stop() { stopping_ = true; }
  bool ready() const { return ready_; }

  // Messages written and committed so far (for tests and logs).
  std::int64_t committed_messages() const { return committed_messages_; }

 private:
  struct Span {
    std::int64_t first = -1;
    std::int64_t last = -1;
  };
  struct Pending {
    Batch batch;
    std::map<std::string, Span> spans;  // topic -> offsets consumed of this index
    std::size_t messages = 0;
  };

  KafkaConsumer(ConsumerOptions options, BatchWriter* writer, KubeEventDecoder decode_event);
  Status start();
  void add_message(const rd_kafka_message_t* msg);
  // Writes and commits everything pending; on a failed write, rewinds that index.
  void flush(bool rewind_on_failure);
  void abandon() {
    pending_.clear();
    pending_messages_ = 0;
  }
  void on_rebalance(rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* partitions);
  static void rebalance_cb(rd_kafka_t* rk, rd_kafka_resp_err_t err,
                           rd_kafka_topic_partition_list_t* partitions, void* opaque);
  static void error_cb(rd_kafka_t* rk, int err, const char* reason, void* opaque);
  void update_lag();
  void start_after_store(rd_kafka_topic_partition_list_t* partitions);

  ConsumerOptions options_;
  BatchWriter* writer_;
  KubeEventDecoder decode_event_;
  HandlePtr rk_;
  std::map<std::int32_t, Pending> pending_;
  std::size_t pending_messages_ = 0;
  std::vector<std::pair<std::string, std::int32_t>> assignment_;
  bool write_failed_ = false;

  std::atomic<bool> stopping_{false};
  std::atomic<bool> ready_{false};
  std::atomic<std::int64_t> committed_messages_{0};

  Metric& rebalances_;
  Metric& consumed_;
  Metric& commit_errors_;
  Metric& write_errors_;
};

}  // namespace ktrail::kafka
