// A BatchSink for HTTP-layer tests: records what it receives and completes batches from its
// own thread, at once or only when the test releases them; or refuses (full, unavailable), or
// reports write failures.
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>
#include <vector>

#include "core/batch_sink.h"

namespace ktrail::testing {

class FakeSink final : public BatchSink {
 public:
  enum class Mode { kComplete, kHold, kFull, kUnavailable, kFail };

  FakeSink() : worker_([this] { run(); }) {}
  ~FakeSink() override {
    {
      std::lock_guard lock(mutex_);
      stop_ = true;
      mode_ = Mode::kComplete;
    }
    cv_.notify_all();
    worker_.join();
  }

  void set_mode(Mode mode) {
    {
      std::lock_guard lock(mutex_);
      mode_ = mode;
    }
    cv_.notify_all();
  }
  void set_ready(bool ready) {
    std::lock_guard lock(mutex_);
    ready_ = ready;
  }

  SubmitResult submit(Batch batch, BatchDone done) override {
    std::lock_guard lock(mutex_);
    if (mode_ == Mode::kFull) {
      return SubmitResult::kFull;
    }
    if (mode_ == Mode::kUnavailable) {
      return SubmitResult::kUnavailable;
    }
    received_.push_back(batch);
    pending_.push_back({std::move(batch), std::move(done)});
    cv_.notify_all();
    return SubmitResult::kAccepted;
  }
  bool ready() const override {
    std::lock_guard lock(mutex_);
    return ready_;
  }

  // Waits until `n` batches were accepted in total.
  bool wait_received(std::size_t n, std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    std::unique_lock lock(mutex_);
    return cv_.wait_for(lock, timeout, [&] { return received_.size() >= n; });
  }
  // Waits until `n` batches were completed (their callbacks called and released).
  bool wait_completed(std::size_t n, std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    std::unique_lock lock(mutex_);
    return cv_.wait_for(lock, timeout, [&] { return released_ >= n; });
  }
  std::vector<Batch> received() const {
    std::lock_guard lock(mutex_);
    return received_;
  }
  std::size_t completed() const {
    std::lock_guard lock(mutex_);
    return completed_;
  }

 private:
  struct Pending {
    Batch batch;
    BatchDone done;
  };

  void run() {
    std::unique_lock lock(mutex_);
    for (;;) {
      cv_.wait(lock, [&] {
        return stop_ || (!pending_.empty() && (mode_ == Mode::kComplete || mode_ == Mode::kFail));
      });
      if (pending_.empty() && stop_) {
        return;
      }
      if (pending_.empty()) {
        continue;
      }
      Pending p = std::move(pending_.front());
      pending_.pop_front();
      const bool fail = mode_ == Mode::kFail;
      // Counted before `done`, which lets the answer go out: a client that has its answer
      // must already see the batch as completed.
      ++completed_;
      lock.unlock();
      BatchOutcome outcome;
      outcome.stored = p.batch.audit.size();
      outcome.rejected = p.batch.rejected.size();
      if (fail) {
        p.done(Status(ErrorCode::kDatabase, "disk I/O error"), {});
      } else {
        p.done(Status::ok(), outcome);
      }
      p = Pending{};  // the callback is released before the batch counts as released
      lock.lock();
      ++released_;
      cv_.notify_all();
    }
  }

  mutable std::mutex mutex_;
  std::condition_variable cv_;
  Mode mode_ = Mode::kComplete;
  bool ready_ = true;
  bool stop_ = false;
  std::vector<Batch> received_;
  std::deque<Pending> pending_;
  std::size_t completed_ = 0;
  std::size_t released_ = 0;
  std::thread worker_;
};

}  // namespace ktrail::testing
