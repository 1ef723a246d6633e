// The consumer's store thread (queue/kafka_write_stage.h) without Kafka: a writer the test
// holds inside write() and a commit function that checks, at every commit, that the offsets
// are not ahead of what the writer has made durable.
#include "queue/kafka_write_stage.h"
#include "queue/kafka_consumer.h"

#include <gtest/gtest.h>

#include <condition_variable>
#include <mutex>
#include <thread>

namespace ktrail::kafka {
namespace {

using namespace std::chrono_literals;

const std::string kTopic = "t.audit";

// A writer whose write() waits while the gate is closed and fails when told to.
class GateWriter : public BatchWriter {
 public:
  void process(std::int32_t, Batch&, BatchOutcome&) override {}
  Status write(std::vector<PartitionBatch>& group) override {
    std::unique_lock lock(mutex);
    ++entered;
    changed.notify_all();
    changed.wait(lock, [&] { return open; });
    if (fail_next > 0) {
      --fail_next;
      return database_error("injected failure");
    }
    std::vector<std::string> ids;
    for (const PartitionBatch& item : group) {
      for (const AuditEvent& e : item.batch.audit) {
        ids.push_back(e.audit_id);
      }
      for (const SourceOffset& o : item.offsets) {
        std::int64_t& d = durable[{o.topic, o.partition}];
        d = std::max(d, o.next_offset);
      }
    }
    groups.push_back(ids);
    changed.notify_all();
    return Status::ok();
  }
  std::int64_t stored_offset(const std::string&, std::int32_t) override { return -1; }
  void assigned(const std::vector<std::int32_t>&, std::int32_t) override {}
  void revoked(const std::vector<std::int32_t>&) override {}

  void set_open(bool value) {
    std::lock_guard lock(mutex);
    open = value;
    changed.notify_all();
  }
  bool wait_entered(int n) {
    std::unique_lock lock(mutex);
    return changed.wait_for(lock, 10s, [&] { return entered >= n; });
  }

  std::mutex mutex;
  std::condition_variable changed;
  bool open = true;
  int entered = 0;
  int fail_next = 0;
  std::vector<std::vector<std::string>> groups;  // audit IDs of each written group
  std::map<TopicPartition, std::int64_t> durable;
};

// Records commits; fails the test when one is ahead of the writer's durable offsets.
struct CommitLog {
  explicit CommitLog(GateWriter* w) : writer(w) {}
  WriteStage::Commit fn() {
    return [this](const std::vector<SourceOffset>& offsets) {
      {
        std::lock_guard lock(writer->mutex);
        for (const SourceOffset& o : offsets) {
          auto it = writer->durable.find({o.topic, o.partition});
          EXPECT_TRUE(it != writer->durable.end() && o.next_offset <= it->second)
              << "commit of " << o.topic << "/" << o.partition << "@" << o.next_offset
              << " ahead of the store";
        }
      }
      std::lock_guard lock(mutex);
      commits.push_back(offsets);
      changed.notify_all();
      return accept;
    };
  }
  bool wait_commits(std::size_t n) {
    std::unique_lock lock(mutex);
    return changed.wait_for(lock, 10s, [&] { return commits.size() >= n; });
  }
  std::size_t count() {
    std::lock_guard lock(mutex);
    return commits.size();
  }

  GateWriter* writer;
  std::mutex mutex;
  std::condition_variable changed;
  std::vector<std::vector<SourceOffset>> commits;
  bool accept = true;
};

// Work of `n` messages of partition `p`, offsets first..first+n-1; audit IDs name the offsets.
WriteWork work(std::int32_t p, std::int64_t first, std::size_t n) {
  WriteWork w;
  w.item.partitions = {p};
  for (std::size_t i = 0; i < n; ++i) {
    AuditEvent e;
    e.audit_id = std::to_string(p) + "@" + std::to_string(first + static_cast<std::int64_t>(i));
    w.item.batch.audit.push_back(e);
  }
  const std::int64_t last = first + static_cast<std::int64_t>(n) - 1;
  w.item.offsets = {{kTopic, p, last + 1}};
  w.spans = {{kTopic, p, first, last}};
  w.messages = n;
  return w;
}

TEST(KafkaWriteStage, CommitsOnlyAfterTheWriteReturned) {
  GateWriter writer;
  CommitLog log(&writer);
  WriteStage stage({}, &writer, log.fn());
  writer.set_open(false);
  ASSERT_TRUE(stage.push(work(0, 0, 10)));
  ASSERT_TRUE(writer.wait_entered(1));
  EXPECT_EQ(log.count(), 0u);  // the write has not returned: nothing may be committed
  EXPECT_EQ(stage.committed_messages(), 0);
  EXPECT_FALSE(stage.idle());
  writer.set_open(true);
  ASSERT_TRUE(log.wait_commits(1));
  stage.drain();
  ASSERT_EQ(log.commits[0].size(), 1u);
  EXPECT_EQ(log.commits[0][0].next_offset, 10);
  EXPECT_EQ(stage.committed_messages(), 10);
  EXPECT_TRUE(stage.idle());
}

TEST(KafkaWriteStage, WhatQueuesDuringAWriteGoesInOneTransaction) {
  GateWriter writer;
  CommitLog log(&writer);
  WriteStage stage({}, &writer, log.fn());
  writer.set_open(false);
  ASSERT_TRUE(stage.push(work(0, 0, 5)));
  ASSERT_TRUE(writer.wait_entered(1));
  ASSERT_TRUE(stage.push(work(0, 5, 5)));
  ASSERT_TRUE(stage.push(work(1, 0, 3)));
  ASSERT_TRUE(stage.push(work(0, 10, 5)));
  writer.set_open(true);
  stage.drain();
  ASSERT_EQ(writer.groups.size(), 2u);
  EXPECT_EQ(writer.groups[0].size(), 5u);
  EXPECT_EQ(writer.groups[1].size(), 13u);  // the three queued batches together
  EXPECT_EQ(writer.groups[1].front(), "0@5");
  EXPECT_EQ(writer.groups[1].back(), "0@14");  // queue order kept
  ASSERT_EQ(log.commits.size(), 2u);
  // One offset per partition: the last of the group.
  std::map<std::int32_t, std::int64_t> second;
  for (const SourceOffset& o : log.commits[1]) {
    second[o.partition] = o.next_offset;
  }
  EXPECT_EQ(second, (std::map<std::int32_t, std::int64_t>{{0, 15}, {1, 3}}));
  EXPECT_EQ(stage.committed_messages(), 18);
  EXPECT_EQ(stage.groups_written(), 2);
}

TEST(KafkaWriteStage, AGroupStaysWithinItsBound) {
  GateWriter writer;
  CommitLog log(&writer);
  WriteStage stage({/*max_group_messages=*/8, /*max_queued_messages=*/100}, &writer, log.fn());
  writer.set_open(false);
  ASSERT_TRUE(stage.push(work(0, 0, 1)));
  ASSERT_TRUE(writer.wait_entered(1));
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(stage.push(work(0, 1 + 3 * i, 3)));  // 15 messages queued
  }
  writer.set_open(true);
  stage.drain();
  ASSERT_EQ(writer.groups.size(), 4u);  // 1, then 6, 6 and 3
  EXPECT_EQ(writer.groups[1].size(), 6u);
  EXPECT_EQ(writer.groups[2].size(), 6u);
  EXPECT_EQ(writer.groups[3].size(), 3u);
  EXPECT_EQ(stage.committed_messages(), 16);
}

TEST(KafkaWriteStage, AFailedWriteCommitsNothingAndDropsWhatCameAfter) {
  GateWriter writer;
  CommitLog log(&writer);
  WriteStage stage({}, &writer, log.fn());
  ASSERT_TRUE(stage.push(work(0, 0, 4)));  // written and committed
  stage.drain();
  ASSERT_EQ(log.count(), 1u);

  writer.set_open(false);
  writer.fail_next = 1;
  ASSERT_TRUE(stage.push(work(0, 4, 4)));  // fails
  ASSERT_TRUE(writer.wait_entered(2));
  ASSERT_TRUE(stage.push(work(0, 8, 4)));  // queued behind it: must not be written
  ASSERT_TRUE(stage.push(work(1, 20, 2)));
  writer.set_open(true);
  stage.drain();
  EXPECT_TRUE(stage.failed());
  EXPECT_EQ(writer.groups.size(), 1u);  // only the first
  EXPECT_EQ(log.count(), 1u);
  EXPECT_EQ(stage.committed_messages(), 4);
  // Work handed over before the consumer noticed is refused and only noted for the rewind.
  EXPECT_FALSE(stage.push(work(2, 7, 1)));
  const auto rewind = stage.take_failure();
  EXPECT_EQ(rewind, (std::map<TopicPartition, std::int64_t>{
                        {{kTopic, 0}, 4}, {{kTopic, 1}, 20}, {{kTopic, 2}, 7}}));
  EXPECT_FALSE(stage.failed());
  // After the rewind the same messages come again and are written once.
  ASSERT_TRUE(stage.push(work(0, 4, 8)));
  stage.drain();
  ASSERT_EQ(writer.groups.size(), 2u);
  EXPECT_EQ(writer.groups[1].front(), "0@4");
  EXPECT_EQ(stage.committed_messages(), 12);
}

TEST(KafkaWriteStage, DiscardWaitsForTheWriteInFlightAndDropsTheQueue) {
  GateWriter writer;
  CommitLog log(&writer);
  WriteStage stage({}, &writer, log.fn());
  writer.set_open(false);
  ASSERT_TRUE(stage.push(work(0, 0, 2)));
  ASSERT_TRUE(writer.wait_entered(1));
  ASSERT_TRUE(stage.push(work(0, 2, 2)));
  std::atomic<bool> discarded{false};
  ASSERT_EQ(stage.queued_messages(), 2u);
  std::thread t([&] {
    stage.discard();
    discarded = true;
  });
  // The write in flight holds discard() back; the queue is already gone.
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (stage.queued_messages() != 0 && std::chrono::steady_clock::now() < deadline) {
    std::unique_lock lock(writer.mutex);
    writer.changed.wait_for(lock, 1ms);
  }
  ASSERT_EQ(stage.queued_messages(), 0u);
  EXPECT_FALSE(discarded);
  writer.set_open(true);
  t.join();
  EXPECT_TRUE(discarded);
  EXPECT_TRUE(stage.idle());
  EXPECT_FALSE(stage.failed());
  ASSERT_EQ(writer.groups.size(), 1u);  // the write in flight finished; the queued one went
  EXPECT_EQ(writer.groups[0].size(), 2u);
  EXPECT_TRUE(stage.take_failure().empty());  // discarded work is no failure to rewind
}

TEST(KafkaWriteStage, StopWritesWhatIsQueuedThenRefuses) {
  GateWriter writer;
  CommitLog log(&writer);
  WriteStage stage({}, &writer, log.fn());
  writer.set_open(false);
  ASSERT_TRUE(stage.push(work(0, 0, 3)));
  ASSERT_TRUE(writer.wait_entered(1));
  ASSERT_TRUE(stage.push(work(0, 3, 3)));
  std::thread t([&] { stage.stop(); });
  writer.set_open(true);
  t.join();
  EXPECT_EQ(writer.groups.size(), 2u);
  EXPECT_EQ(stage.committed_messages(), 6);
  EXPECT_FALSE(stage.push(work(0, 6, 1)));  // nothing is accepted after stop
  stage.stop();                             // idempotent
}

TEST(KafkaWriteStage, AFailedCommitIsNotCounted) {
  GateWriter writer;
  CommitLog log(&writer);
  log.accept = false;
  WriteStage stage({}, &writer, log.fn());
  ASSERT_TRUE(stage.push(work(0, 0, 3)));
  stage.drain();
  EXPECT_EQ(writer.groups.size(), 1u);  // stored: the redelivery is a duplicate the store absorbs
  EXPECT_EQ(log.count(), 1u);
  EXPECT_EQ(stage.committed_messages(), 0);
  EXPECT_FALSE(stage.failed());
}

}  // namespace
}  // namespace ktrail::kafka

namespace ktrail::kafka {
namespace {

// Batches merged into one transaction keep every kind of item, findings and tallies included.
TEST(AppendBatch, KeepsEveryKindOfItem) {
  PartitionBatch to, from;
  to.partitions = {1};
  from.partitions = {2};
  to.batch.findings.push_back(Finding{});
  to.batch.findings.back().rule = "first";
  from.batch.findings.push_back(Finding{});
  from.batch.findings.back().rule = "second";
  from.batch.tallies.push_back({5, "truncated"});
  from.batch.rejected.push_back({"why", "{}"});
  append_partition_batch(to, from);
  ASSERT_EQ(to.batch.findings.size(), 2u);
  EXPECT_EQ(to.batch.findings[0].rule, "first");
  EXPECT_EQ(to.batch.findings[1].rule, "second");
  EXPECT_EQ(to.batch.tallies.size(), 1u);
  EXPECT_EQ(to.batch.rejected.size(), 1u);
  EXPECT_EQ(to.partitions, (std::vector<std::int32_t>{1, 2}));
}

}  // namespace
}  // namespace ktrail::kafka
