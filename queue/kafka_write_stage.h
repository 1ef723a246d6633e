// The store side of the Kafka consumer: a thread that writes the partition batches the
// consumer's thread decoded, several in ONE store transaction (group commit: whatever has
// queued up while the previous transaction ran, up to a bound), and commits their Kafka offsets
// only after that transaction committed.
//
// Contract:
// - Offsets are committed in Kafka only for messages whose write returned ok, and never before
//   it returned. Each commit names, per topic partition, the offset after the last written
//   message; groups are written and committed in queue order, so commits never go backwards.
// - A failed write commits nothing of its group and drops everything queued after it (writing
//   later messages and committing them would skip the failed ones). The stage then refuses new
//   work until the consumer takes the failure: take_failure() returns, per topic partition, the
//   first offset that is not durable among all the work dropped, to seek back to.
// - push() blocks while the queue holds `max_queued_messages` or more (back-pressure on
//   decoding). It appends the work to the last queued piece while that stays within
//   `max_group_messages`, so the merging of a group happens on the pushing thread and the store
//   thread usually writes one batch as it is.
// - What was written is freed by the consumer's thread (release_written()), not by the store
//   thread, whose time bounds the throughput; past twice `max_queued_messages` messages the
//   store thread frees it itself.
//
// Threads: one store thread (started by the constructor); every other call from the consumer's
// thread.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "queue/kafka_consumer.h"

namespace ktrail::kafka {

// Offsets of one topic partition covered by a piece of work.
struct OffsetSpan {
  std::string topic;
  std::int32_t partition = 0;
  std::int64_t first = -1;
  std::int64_t last = -1;
};

// One partition batch as the consumer hands it over.
struct WriteWork {
  PartitionBatch item;
  std::vector<OffsetSpan> spans;
  std::size_t messages = 0;
};

using TopicPartition = std::pair<std::string, std::int32_t>;

struct WriteStageOptions {
  std::size_t max_group_messages = 20'000;
  std::size_t max_queued_messages = 20'000;
};

class WriteStage {
 public:
  // Commits offsets in Kafka (next offset to read per topic partition); true when committed.
  using Commit = std::function<bool(const std::vector<SourceOffset>&)>;

  WriteStage(WriteStageOptions options, BatchWriter* writer, Commit commit);
  ~WriteStage();  // stop()
  WriteStage(const WriteStage&) = delete;
  WriteStage& operator=(const WriteStage&) = delete;

  // Queues `work`, waiting while the queue is full. After a failure (until take_failure) the
  // work is dropped into the rewind points instead; returns false then.
  bool push(WriteWork work);
  // Waits until nothing is queued and no write is in flight.
  void drain();
  // Drops what is queued (not its offsets: nothing of it is committed) and waits for the write
  // in flight; clears any failure. For partitions that are lost.
  void discard();
  // Nothing queued and no write in flight.
  bool idle();
  // Frees what the store thread has written (call from the consumer's thread).
  void release_written();
  bool failed();
  // The rewind points of the work dropped since the failure; clears it. Call after drain().
  std::map<TopicPartition, std::int64_t> take_failure();
  // Writes what is queued, then ends the store thread. Idempotent.
  void stop();

  // Messages written and committed so far.
  std::int64_t committed_messages() const { return committed_messages_; }
  // Messages queued, not yet taken by the store thread.
  std::size_t queued_messages();
  // Store transactions (groups) written so far.
  std::int64_t groups_written() const { return groups_written_; }

 private:
  void loop();
  void write_group(std::vector<WriteWork>& group);
  void drop_locked(const WriteWork& work);
  void update_idle_locked() { idle_ = queue_.empty() && !writing_; }

  WriteStageOptions options_;
  BatchWriter* writer_;
  Commit commit_;

  std::mutex mutex_;
  std::condition_variable changed_;
  std::deque<WriteWork> queue_;
  std::size_t queued_messages_ = 0;
  std::vector<PartitionBatch> written_;  // to be freed by release_written()
  std::size_t written_messages_ = 0;
  std::atomic<bool> has_written_{false};
  bool writing_ = false;
  bool stopping_ = false;
  // Written under mutex_, read without it by idle() and failed() (once per consumed message).
  std::atomic<bool> failed_{false};
  std::atomic<bool> idle_{true};
  std::map<TopicPartition, std::int64_t> rewind_;
  std::atomic<std::int64_t> committed_messages_{0};
  std::atomic<std::int64_t> groups_written_{0};
  std::thread thread_;
};

}  // namespace ktrail::kafka
