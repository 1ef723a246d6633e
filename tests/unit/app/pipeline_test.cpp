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
  Pipeline pipeline({}, std::move(chain), [&](const Batch& b) -> Result<BatchOutcome> {
    for (const auto& e : b.audit) {
      written.push_back(e.audit_id);
    }
    BatchOutcome o;
    o.stored = b.audit.size();
    return o;
  });
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
  Pipeline pipeline({}, {}, [&](const Batch&) -> Result<BatchOutcome> {
    if (fail) {
      return Status(ErrorCode::kDatabase, "database is locked");
    }
    return BatchOutcome{};
  });
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
  Pipeline pipeline(options, {}, [&](const Batch& b) -> Result<BatchOutcome> {
    std::unique_lock lock(gate_mutex);
    gate_cv.wait(lock, [&] { return open; });
    ++writes;
    BatchOutcome o;
    o.stored = b.audit.size();
    return o;
  });
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

}  // namespace
}  // namespace ktrail::app
