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
// member, so one index is one correlation domain: process() receives one index at a time, and
// assigned()/revoked() let the writer build or drop that index's correlator state.
//
// Pipeline: the consumer's thread polls, decodes and runs process() (policy, correlation); a
// store thread (queue/kafka_write_stage.h) writes what has queued up, several batches in one
// transaction (group commit), and commits their offsets after the transaction committed. So
// decoding and SQLite use two cores. The queue between them is bounded.
//
// Quiet partitions: an owned index that received nothing for `idle_after` is reported to the
// writer (BatchWriter::idle) every second while it stays quiet, so stages that wait on later
// messages do not wait forever (a finished replay, a workload gone still); at stop the writer
// releases everything it holds (BatchWriter::finish). What they release is stored without
// offsets: the messages behind it were committed with their own batches.
//
// Rebalance: on revocation the pending and queued batches are finished (written and committed)
// before the partitions go; if a write fails, or the partitions were lost (session timeout),
// they are abandoned uncommitted and the new owner reads them again. A failed write drops
// everything decoded after it, rewinds those partitions to the first offset not durable, and
// retries after a back-off.
//
// Threads: run() blocks the calling thread (poll, decode, process, rebalance) and runs the
// store thread; stop() and ready() may be called from any thread. BatchWriter::write runs on
// the store thread; the other BatchWriter calls on run()'s thread, and stored_offset(),
// assigned() and revoked() only while no write is in flight.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string_view>
#include <vector>

#include "core/audit_json.h"
#include "core/batch.h"
#include "core/metrics.h"
#include "queue/kafka_handles.h"
#include "queue/kafka_options.h"

namespace ktrail::kafka {

class WriteStage;

struct ConsumerOptions {
  KafkaOptions kafka;
  std::string group_id = "ktrail-process";
  // A partition's decoded messages are handed to the store thread at this count, after
  // max_batch_wait, or as soon as the store thread is idle and no message is waiting.
  std::size_t max_batch_messages = 2'000;
  std::chrono::milliseconds max_batch_wait{200};
  // Group commit: at most this many messages per store transaction.
  std::size_t max_group_messages = 20'000;
  // Decoded messages waiting for the store thread; decoding pauses above this.
  std::size_t max_queued_messages = 20'000;
  std::chrono::milliseconds retry_backoff{1'000};  // after a failed write
  std::chrono::milliseconds lag_interval{2'000};   // consumer lag metrics refresh
  // An owned partition index that received nothing for this long is quiet (BatchWriter::idle).
  std::chrono::milliseconds idle_after{10'000};
};

// Where the messages of a batch end: the offset to read next in one topic partition.
struct SourceOffset {
  std::string topic;
  std::int32_t partition = 0;
  std::int64_t next_offset = 0;
};

// Processed batches on their way to the store, and where their messages end. One partition
// index's batch as the consumer hands it over; the store thread's queue appends later batches
// to it while it waits (group commit), so it may hold several indexes, each in offset order.
struct PartitionBatch {
  std::vector<std::int32_t> partitions;  // the indexes whose messages it holds
  Batch batch;
  std::vector<SourceOffset> offsets;
  BatchOutcome outcome;  // what process() counted (dropped by policy, truncated)
};

// Moves the items of `from` to the end of `to` (each kind keeps its order).
void append_batch(Batch& to, Batch& from);
// Appends `from` to `to`: items, offsets, partitions, outcome.
void append_partition_batch(PartitionBatch& to, PartitionBatch& from);
// "kafka partition 3", "kafka partitions 1,4": the origin of a batch from these indexes.
std::string kafka_origin(std::vector<std::int32_t> partitions);

class BatchWriter {
 public:
  virtual ~BatchWriter() = default;
  // The CPU stages of one partition index (policy, correlation), on the consumer's thread,
  // before the batch is queued for the store.
  virtual void process(std::int32_t partition, Batch& batch, BatchOutcome& outcome) = 0;
  // Makes the batches durable in ONE store transaction that also records all their offsets
  // (batches of one partition come in offset order). Ok means committed. Store thread. The
  // batches' contents may be moved between the group's items (it is freed afterwards).
  virtual Status write(std::vector<PartitionBatch>& group) = 0;
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
  // Owned indexes that received no message for ConsumerOptions::idle_after (`quiet`), between
  // hand-overs; `all_quiet` when no owned index received one (a replayed file ended, or the
  // stream stopped). Stateful stages that wait on later messages (correlation's reorder window)
  // should move on without them; what that produces (incidents) goes into `batch`, which is
  // stored like a consumed batch but holds no offsets. Called again while they stay quiet.
  virtual void idle(const std::vector<std::int32_t>& /*quiet*/, bool /*all_quiet*/,
                    Batch& /*batch*/) {}
  // The consumer stops (shutdown): release everything held back into `batch`, as at the end of
  // a replay.
  virtual void finish(Batch& /*batch*/) {}
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
  std::int64_t committed_messages() const;
  // Store transactions written so far (group commit: fewer than the batches handed over).
  std::int64_t groups_written() const;

 private:
  struct Span {
    std::int64_t first = -1;
    std::int64_t last = -1;
  };
  // One partition index's decoded messages not yet handed to the store thread.
  struct Pending {
    Batch batch;           // Events, forwarded rejects; audit events join at hand-over
    DecodedAudit decoded;  // the audit topic's messages
    Span spans[2];         // [0] the audit topic, [1] the events topic
    std::size_t messages = 0;
  };

  KafkaConsumer(ConsumerOptions options, BatchWriter* writer, KubeEventDecoder decode_event);
  Status start();
  void add_message(const rd_kafka_message_t* msg);
  // Runs the CPU stages of every pending batch and queues them for the store thread.
  void hand_over();
  // After a failed write: drops what is pending, seeks back to the first offset not durable,
  // and waits out the back-off (polling, so the membership stays alive).
  void recover_from_failure();
  void abandon() {
    pending_.clear();
    pending_messages_ = 0;
  }
  const std::string& topic_name(int index) const {
    return index == 0 ? audit_topic_ : events_topic_;
  }
  void on_rebalance(rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* partitions);
  static void rebalance_cb(rd_kafka_t* rk, rd_kafka_resp_err_t err,
                           rd_kafka_topic_partition_list_t* partitions, void* opaque);
  static void error_cb(rd_kafka_t* rk, int err, const char* reason, void* opaque);
  void update_lag();
  // Tells the writer which owned indexes are quiet, and queues what it released for the store.
  void check_idle(std::chrono::steady_clock::time_point now);
  // Queues a batch that holds no messages (incidents released by idle() or finish()).
  void queue_released(Batch batch, std::vector<std::int32_t> partitions);
  void start_after_store(rd_kafka_topic_partition_list_t* partitions);
  bool commit(const std::vector<SourceOffset>& offsets);

  ConsumerOptions options_;
  BatchWriter* writer_;
  KubeEventDecoder decode_event_;
  std::string audit_topic_;
  std::string events_topic_;
  HandlePtr rk_;
  std::map<std::int32_t, Pending> pending_;
  std::size_t pending_messages_ = 0;
  std::vector<std::pair<std::string, std::int32_t>> assignment_;
  // Owned indexes and when each last received a message (or was assigned).
  std::map<std::int32_t, std::chrono::steady_clock::time_point> last_message_;
  std::unique_ptr<WriteStage> stage_;  // the store thread; stopped when run() ends

  std::atomic<bool> stopping_{false};
  std::atomic<bool> ready_{false};

  Metric& rebalances_;
  Metric& consumed_;
  Metric& commit_errors_;
  Metric& write_errors_;
};

}  // namespace ktrail::kafka
