// The embedded pipeline: order, processors before the store, outcome accounting, write
// failures, back-pressure and draining on close.
#include "app/pipeline.h"

#include <gtest/gtest.h>

#include <condition_variable>
#include <mutex>

namespace ktrail::app {
namespace {

Batch batch_of(int n, const std::string& prefix) {
  Batch b;
  for (int i = 0; i < n; ++i) {
    AuditEvent e;
    e.audit_id = prefix + std::to_string(i);
    e.json = "{}";
    b.audit.push_back(std::move(e));
  }
  return b;
}

// Drops events whose ID ends in '0', counting them, as a policy stage would.
class DropZeros final : public Processor {
 public:
  void process(Batch& batch, BatchOutcome& outcome) override {
    std::vector<AuditEvent> kept;
    for (auto& e : batch.audit) {
      if (e.audit_id.back() == '0') {
        ++outcome.dropped_by_policy;
      } else {
        kept.push_back(std::move(e));
      }
    }
    batch.audit = std::move(kept);
  }
};

// A group writer that writes each batch of a group with `one`, as the store does in one
// transaction; `groups` (if given) records the number of events of each group.
BatchWriter each(std::function<Result<BatchOutcome>(const Batch&)> one,
                 std::vector<std::size_t>* groups = nullptr) {
  return [one = std::move(one),
          groups](const std::vector<const Batch*>& group) -> Result<std::vector<BatchOutcome>> {
    if (groups != nullptr) {
      std::size_t events = 0;
      for (const Batch* b : group) {
        events += b->audit.size();
      }
      groups->push_back(events);
    }
    std::vector<BatchOutcome> outcomes;
    for (const Batch* b : group) {
      auto o = one(*b);
      if (!o) {
        return o.status();
      }
      outcomes.push_back(*o);
    }
    return outcomes;
  };
}

// Collects outcomes; waits for a number of completions.
struct Completions {
  std::mutex mutex;
  std::condition_variable cv;
  std::vector<std::pair<Status, BatchOutcome>> done;
  BatchDone callback() {
    return [this](const Status& s, const BatchOutcome& o) {
      std::lock_guard lock(mutex);
      done.emplace_back(s, o);
      cv.notify_all();
    };
  }
  bool wait(std::size_t n) {
    std::unique_lock lock(mutex);
    return cv.wait_for(lock, std::chrono::seconds(10), [&] { return done.size() >= n; });
  }
};

TEST(Pipeline, WritesInOrderAfterProcessorsAndReportsOutcome) {
  std::vector<std::string> written;
  std::vector<std::unique_ptr<Processor>> chain;
  chain.push_back(std::make_unique<DropZeros>());
  Pipeline pipeline({}, std::move(chain), each([&](const Batch& b) -> Result<BatchOutcome> {
                      for (const auto& e : b.audit) {
                        written.push_back(e.audit_id);
                      }
                      BatchOutcome o;
                      o.stored = b.audit.size();
                      return o;
                    }));
  Completions c;
  ASSERT_EQ(pipeline.submit(batch_of(3, "a"), c.callback()), SubmitResult::kAccepted);
  ASSERT_EQ(pipeline.submit(batch_of(2, "b"), c.callback()), SubmitResult::kAccepted);
  ASSERT_TRUE(c.wait(2));
  pipeline.close_and_drain();
  EXPECT_EQ(written, (std::vector<std::string>{"a1", "a2", "b1"}));
  ASSERT_TRUE(c.done[0].first.is_ok());
  EXPECT_EQ(c.done[0].second.stored, 2u);
  EXPECT_EQ(c.done[0].second.dropped_by_policy, 1u);
  EXPECT_EQ(c.done[1].second.stored, 1u);
}

TEST(Pipeline, WriteFailureIsReportedAndClearsReadinessUntilAWriteSucceeds) {
  bool fail = true;
  Pipeline pipeline({}, {}, each([&](const Batch&) -> Result<BatchOutcome> {
                      if (fail) {
                        return Status(ErrorCode::kDatabase, "database is locked");
                      }
                      return BatchOutcome{};
                    }));
  Completions c;
  ASSERT_EQ(pipeline.submit(batch_of(1, "x"), c.callback()), SubmitResult::kAccepted);
  ASSERT_TRUE(c.wait(1));
  EXPECT_EQ(c.done[0].first.code(), ErrorCode::kDatabase);
  EXPECT_FALSE(pipeline.ready());
  fail = false;  // the worker reads it only after the next submit below
  ASSERT_EQ(pipeline.submit(batch_of(1, "y"), c.callback()), SubmitResult::kAccepted);
  ASSERT_TRUE(c.wait(2));
  EXPECT_TRUE(c.done[1].first.is_ok());
  EXPECT_TRUE(pipeline.ready());
}

TEST(Pipeline, FullQueueRefusesAndCloseDrainsEverythingAccepted) {
  std::mutex gate_mutex;
  std::condition_variable gate_cv;
  bool open = false;
  int writes = 0;
  PipelineOptions options;
  options.queue = {.max_events = 10, .max_bytes = 1u << 20};
  Pipeline pipeline(options, {}, each([&](const Batch& b) -> Result<BatchOutcome> {
                      std::unique_lock lock(gate_mutex);
                      gate_cv.wait(lock, [&] { return open; });
                      ++writes;
                      BatchOutcome o;
                      o.stored = b.audit.size();
                      return o;
                    }));
  Completions c;
  // The first batch is taken by the worker (blocked in the writer); the queue then holds 10.
  std::size_t accepted = 0;
  SubmitResult last = SubmitResult::kAccepted;
  for (int i = 0; i < 20 && last == SubmitResult::kAccepted; ++i) {
    last = pipeline.submit(batch_of(4, "q" + std::to_string(i) + "-"), c.callback());
    accepted += last == SubmitResult::kAccepted ? 1 : 0;
  }
  EXPECT_EQ(last, SubmitResult::kFull);
  EXPECT_GE(accepted, 2u);
  EXPECT_LE(accepted, 4u);
  {
    std::lock_guard lock(gate_mutex);
    open = true;
  }
  gate_cv.notify_all();
  pipeline.close_and_drain();
  EXPECT_EQ(c.done.size(), accepted);
  EXPECT_EQ(writes, static_cast<int>(accepted));
  EXPECT_EQ(pipeline.submit(batch_of(1, "late"), c.callback()), SubmitResult::kUnavailable);
  EXPECT_FALSE(pipeline.ready());
}

TEST(Pipeline, WhatQueuesUpIsWrittenAsOneGroupWithOutcomesPerBatch) {
  std::mutex gate_mutex;
  std::condition_variable gate_cv;
  bool open = false;
  std::vector<std::size_t> groups;
  PipelineOptions options;
  options.group_events = 10;
  Pipeline pipeline(options, {},
                    each(
                        [&](const Batch& b) -> Result<BatchOutcome> {
                          std::unique_lock lock(gate_mutex);
                          gate_cv.wait(lock, [&] { return open; });
                          BatchOutcome o;
                          o.stored = b.audit.size();
                          return o;
                        },
                        &groups));
  Completions c;
  // The worker takes the first batch (maybe with some behind it) and waits at the gate; the
  // rest queue up and are taken in groups of at most 10 events.
  ASSERT_EQ(pipeline.submit(batch_of(1, "first"), c.callback()), SubmitResult::kAccepted);
  for (int i = 0; i < 7; ++i) {
    ASSERT_EQ(pipeline.submit(batch_of(3, "g" + std::to_string(i) + "-"), c.callback()),
              SubmitResult::kAccepted);
  }
  {
    std::lock_guard lock(gate_mutex);
    open = true;
  }
  gate_cv.notify_all();
  ASSERT_TRUE(c.wait(8));
  pipeline.close_and_drain();
  std::size_t events = 0;
  for (std::size_t g : groups) {
    EXPECT_LE(g, 10u);
    events += g;
  }
  EXPECT_EQ(events, 22u);
  EXPECT_LE(groups.size(), 4u);  // 22 events in groups of at most 10 (3 batches of 3 each)
  // Every batch got its own outcome, in submission order.
  ASSERT_EQ(c.done.size(), 8u);
  EXPECT_EQ(c.done[0].second.stored, 1u);
  for (std::size_t i = 1; i < 8; ++i) {
    EXPECT_TRUE(c.done[i].first.is_ok());
    EXPECT_EQ(c.done[i].second.stored, 3u);
  }
}

TEST(Pipeline, FailedGroupFailsEveryBatchInIt) {
  std::mutex gate_mutex;
  std::condition_variable gate_cv;
  bool open = false;
  int calls = 0;
  Pipeline pipeline({}, {},
                    [&](const std::vector<const Batch*>&) -> Result<std::vector<BatchOutcome>> {
                      std::unique_lock lock(gate_mutex);
                      gate_cv.wait(lock, [&] { return open; });
                      ++calls;
                      return Status(ErrorCode::kDatabase, "disk I/O error");
                    });
  Completions c;
  for (int i = 0; i < 4; ++i) {
    ASSERT_EQ(pipeline.submit(batch_of(2, "f" + std::to_string(i) + "-"), c.callback()),
              SubmitResult::kAccepted);
  }
  {
    std::lock_guard lock(gate_mutex);
    open = true;
  }
  gate_cv.notify_all();
  ASSERT_TRUE(c.wait(4));
  pipeline.close_and_drain();
  for (const auto& [status, outcome] : c.done) {
    EXPECT_EQ(status.code(), ErrorCode::kDatabase);
    EXPECT_EQ(outcome.stored, 0u);
  }
  EXPECT_LE(calls, 2);  // the first alone, the other three together
}

TEST(Pipeline, BatchNotCommittedWithinAckTimeoutIsAnsweredUnavailableOnce) {
  // A store that takes long to commit: the batch is answered kUnavailable (HTTP 503) after the
  // ack timeout, while it stays queued and is still written; its late outcome is not delivered.
  std::mutex mutex;
  std::condition_variable cv;
  bool release = false;
  int written = 0;
  PipelineOptions options;
  options.ack_timeout = std::chrono::milliseconds(200);
  Pipeline pipeline(options, {}, each([&](const Batch& b) -> Result<BatchOutcome> {
                      std::unique_lock lock(mutex);
                      cv.wait(lock, [&] { return release; });
                      ++written;
                      cv.notify_all();
                      BatchOutcome o;
                      o.stored = b.audit.size();
                      return o;
                    }));
  Completions c;
  const auto start = std::chrono::steady_clock::now();
  ASSERT_EQ(pipeline.submit(batch_of(3, "slow-"), c.callback()), SubmitResult::kAccepted);
  ASSERT_EQ(pipeline.submit(batch_of(2, "queued-"), c.callback()), SubmitResult::kAccepted);
  ASSERT_TRUE(c.wait(2));
  const auto waited = std::chrono::steady_clock::now() - start;
  EXPECT_GE(waited, std::chrono::milliseconds(200));
  {
    std::lock_guard lock(c.mutex);
    for (const auto& [status, outcome] : c.done) {
      EXPECT_EQ(status.code(), ErrorCode::kUnavailable) << status.to_string();
      EXPECT_NE(status.message().find("--ack-timeout"), std::string::npos);
    }
  }
  {
    std::unique_lock lock(mutex);
    release = true;
    cv.notify_all();
    ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(10), [&] { return written == 2; }));
  }
  // A batch committed in time is answered with its outcome.
  ASSERT_EQ(pipeline.submit(batch_of(4, "fast-"), c.callback()), SubmitResult::kAccepted);
  ASSERT_TRUE(c.wait(3));
  pipeline.close_and_drain();
  std::lock_guard lock(c.mutex);
  ASSERT_EQ(c.done.size(), 3u);  // one answer per batch, none for the late commits
  EXPECT_TRUE(c.done[2].first.is_ok());
  EXPECT_EQ(c.done[2].second.stored, 4u);
}

}  // namespace
}  // namespace ktrail::app
