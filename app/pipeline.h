// The embedded pipeline of `ktrail serve` and `ktrail ingest`: a BatchSink that puts batches
// in the bounded embedded queue, and one worker thread that runs each batch through the
// processor chain and writes it to the store, then reports it done.
//
// Contract:
//  - submit() never blocks: kFull when the queue is at its limit (HTTP 429), kUnavailable once
//    close_and_drain() has begun (HTTP 503). submit_wait() (replays) waits for room instead of
//    answering kFull.
//  - Batches are processed in the order they were accepted and written in that order. The
//    worker takes what has queued up, up to `group_events` events, and writes it as one group
//    (one transaction): alone when the load is light, together under load, which is what makes
//    a full queue drain fast. `done` is called from the worker thread for every batch of the
//    group after the group committed (ok) or failed (the error, for each of them).
//  - The outcome is the store's (stored, duplicates, rejected: every item that reached
//    batch.rejected, whether the decoder or a processor put it there) plus what processors
//    counted as dropped by policy or truncated.
//  - With an ack_timeout, a batch accepted by submit() and not committed within it is answered
//    with kUnavailable (HTTP 503 + Retry-After) by a watchdog thread, before the apiserver's own
//    client timeout (30 s) gives up on it. The batch stays queued and is still written (a retry
//    then counts its events as duplicates); the writer's later `done` for it is dropped. Each
//    batch gets exactly one `done`.
//  - close_and_drain() refuses new batches, finishes every accepted one, then joins the worker;
//    every accepted batch gets its `done`.
//  - Written batches are freed by the next submit() or submit_wait() (on the submitting
//    thread), not by the worker: freeing thousands of decoded events is work the writer thread
//    should not do. What waits to be freed is at most what the queue held.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "core/batch_sink.h"
#include "core/status.h"
#include "processors/processor.h"
#include "queue/embedded_queue.h"

namespace ktrail::app {

// Writes a group of batches durably and atomically, returning one outcome per batch in order
// (Store::write_batches in production; a fake in tests).
using BatchWriter =
    std::function<Result<std::vector<BatchOutcome>>(const std::vector<const Batch*>&)>;

struct PipelineOptions {
  QueueLimits queue;
  // At most this many events per group (a batch larger than that is written alone).
  std::size_t group_events = 8192;
  // Longest wait of a submit()ted batch for its commit before it is answered 503; 0: no bound.
  std::chrono::milliseconds ack_timeout{0};
};

class Pipeline final : public BatchSink {
 public:
  Pipeline(const PipelineOptions& options, std::vector<std::unique_ptr<Processor>> processors,
           BatchWriter writer);
  ~Pipeline() override;
  Pipeline(const Pipeline&) = delete;
  Pipeline& operator=(const Pipeline&) = delete;

  SubmitResult submit(Batch batch, BatchDone done) override;
  // kAccepted or kUnavailable; blocks while the queue is full.
  SubmitResult submit_wait(Batch batch, BatchDone done);
  bool ready() const override;

  void close_and_drain();

 private:
  struct Item {
    Batch batch;
    BatchDone done;
    std::chrono::steady_clock::time_point queued = std::chrono::steady_clock::now();
  };
  // One submitted batch's answer, given once by whichever of the writer and the watchdog
  // comes first.
  struct Ack {
    BatchDone done;
    std::atomic<bool> answered{false};
    std::chrono::steady_clock::time_point deadline;
    // False when the answer was already given.
    bool answer(const Status& status, const BatchOutcome& outcome);
  };
  void run();
  void watch();
  // Frees the groups the worker has finished with (on the calling thread).
  void free_retired();

  std::vector<std::unique_ptr<Processor>> processors_;
  BatchWriter writer_;
  std::size_t group_events_;
  EmbeddedQueue<Item> queue_;
  std::atomic<bool> last_write_ok_{true};
  std::mutex retired_mutex_;
  std::vector<std::vector<Item>> retired_;
  std::thread worker_;
  std::chrono::milliseconds ack_timeout_;
  std::mutex watch_mutex_;
  std::condition_variable watch_cv_;
  std::deque<std::shared_ptr<Ack>> watched_;  // in deadline order; guarded by watch_mutex_
  bool watch_stop_ = false;
  std::thread watchdog_;
};

QueueCost batch_cost(const Batch& batch);

}  // namespace ktrail::app
