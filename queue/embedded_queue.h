// The embedded queue: the bounded, in-process buffer between the HTTP threads (producers) and
// the single pipeline worker (consumer) of `ktrail serve` in embedded mode.
//
// Contract:
//  - Bounded by cost, not by item count alone: every item carries a Cost (events and bytes),
//    and try_push() refuses an item that would take either total past its limit. A batch of
//    400 events therefore weighs 400 times a batch of one, which keeps memory bounded.
//  - An item larger than a limit is still accepted when the queue is empty, so an oversized
//    (but otherwise legal) batch is slow rather than refused forever.
//  - try_push() never blocks (HTTP threads must answer 429 at once); push_wait() blocks the
//    producer until the item fits (for replays, which have nobody to answer 429 to); pop() and
//    pop_group() block the consumer; pop_group() returns an empty group only once closed and
//    empty.
//  - close() refuses further pushes; pop() keeps returning what is queued, then nullopt.
//  - Any number of producers; one or more consumers. Thread-safe.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <mutex>
#include <optional>
#include <utility>
#include <vector>

namespace ktrail {

struct QueueCost {
  std::size_t events = 0;
  std::size_t bytes = 0;
};

struct QueueLimits {
  std::size_t max_events = 20000;
  std::size_t max_bytes = 256u << 20;
};

enum class PushResult { kAccepted, kFull, kClosed };

template <typename T>
class EmbeddedQueue {
 public:
  explicit EmbeddedQueue(QueueLimits limits) : limits_(limits) {}

  PushResult try_push(T item, QueueCost cost) {
    {
      std::lock_guard lock(mutex_);
      if (closed_) {
        return PushResult::kClosed;
      }
      if (!fits(cost)) {
        return PushResult::kFull;
      }
      used_.events += cost.events;
      used_.bytes += cost.bytes;
      items_.push_back({std::move(item), cost});
    }
    ready_.notify_one();
    return PushResult::kAccepted;
  }

  // Like try_push(), but waits while the queue is full instead of answering kFull. `item` is
  // moved from only when accepted.
  PushResult push_wait(T& item, QueueCost cost) {
    {
      std::unique_lock lock(mutex_);
      space_.wait(lock, [&] { return closed_ || fits(cost); });
      if (closed_) {
        return PushResult::kClosed;
      }
      used_.events += cost.events;
      used_.bytes += cost.bytes;
      items_.push_back({std::move(item), cost});
    }
    ready_.notify_one();
    return PushResult::kAccepted;
  }

  // Blocks until an item is available (returns it) or the queue is closed and empty (nullopt).
  std::optional<T> pop() {
    std::unique_lock lock(mutex_);
    ready_.wait(lock, [&] { return !items_.empty() || closed_; });
    if (items_.empty()) {
      return std::nullopt;
    }
    Entry entry = std::move(items_.front());
    items_.pop_front();
    used_.events -= entry.cost.events;
    used_.bytes -= entry.cost.bytes;
    lock.unlock();
    space_.notify_all();
    return std::move(entry.item);
  }

  // Like pop(), then also takes the items queued behind the first while their events total at
  // most `max_events` (the first is taken whatever its size), oldest first.
  std::vector<T> pop_group(std::size_t max_events) {
    std::vector<T> group;
    std::unique_lock lock(mutex_);
    ready_.wait(lock, [&] { return !items_.empty() || closed_; });
    std::size_t events = 0;
    while (!items_.empty() &&
           (group.empty() || events + items_.front().cost.events <= max_events)) {
      Entry entry = std::move(items_.front());
      items_.pop_front();
      used_.events -= entry.cost.events;
      used_.bytes -= entry.cost.bytes;
      events += entry.cost.events;
      group.push_back(std::move(entry.item));
    }
    lock.unlock();
    space_.notify_all();
    return group;
  }

  void close() {
    {
      std::lock_guard lock(mutex_);
      closed_ = true;
    }
    ready_.notify_all();
    space_.notify_all();
  }

  QueueCost used() const {
    std::lock_guard lock(mutex_);
    return used_;
  }
  std::size_t size() const {
    std::lock_guard lock(mutex_);
    return items_.size();
  }
  bool closed() const {
    std::lock_guard lock(mutex_);
    return closed_;
  }

 private:
  // An item fits when the queue is empty (however large the item) or both totals stay within
  // their limits. Called with the mutex held.
  bool fits(QueueCost cost) const {
    return items_.empty() || (used_.events + cost.events <= limits_.max_events &&
                              used_.bytes + cost.bytes <= limits_.max_bytes);
  }

  struct Entry {
    T item;
    QueueCost cost;
  };
  const QueueLimits limits_;
  mutable std::mutex mutex_;
  std::condition_variable ready_;  // an item was pushed, or closed
  std::condition_variable space_;  // items were popped, or closed
  std::deque<Entry> items_;
  QueueCost used_;
  bool closed_ = false;
};

}  // namespace ktrail
