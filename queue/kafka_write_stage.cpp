#include "queue/kafka_write_stage.h"

#include <spdlog/spdlog.h>

#include <algorithm>

namespace ktrail::kafka {

WriteStage::WriteStage(WriteStageOptions options, BatchWriter* writer, Commit commit)
    : options_(options), writer_(writer), commit_(std::move(commit)) {
  options_.max_group_messages = std::max<std::size_t>(options_.max_group_messages, 1);
  options_.max_queued_messages = std::max<std::size_t>(options_.max_queued_messages, 1);
  thread_ = std::thread([this] { loop(); });
}

WriteStage::~WriteStage() { stop(); }

void WriteStage::drop_locked(const WriteWork& work) {
  for (const OffsetSpan& span : work.spans) {
    const TopicPartition tp{span.topic, span.partition};
    auto it = rewind_.find(tp);
    if (it == rewind_.end() || span.first < it->second) {
      rewind_[tp] = span.first;
    }
  }
}

bool WriteStage::push(WriteWork work) {
  std::unique_lock lock(mutex_);
  changed_.wait(lock, [&] {
    return failed_ || stopping_ || queued_messages_ < options_.max_queued_messages;
  });
  if (failed_ || stopping_) {
    drop_locked(work);
    return false;
  }
  queued_messages_ += work.messages;
  if (!queue_.empty() && queue_.back().messages + work.messages <= options_.max_group_messages) {
    WriteWork& tail = queue_.back();  // not taken yet: the store thread takes under the lock
    append_partition_batch(tail.item, work.item);
    tail.spans.insert(tail.spans.end(), work.spans.begin(), work.spans.end());
    tail.messages += work.messages;
  } else {
    queue_.push_back(std::move(work));
  }
  update_idle_locked();
  changed_.notify_all();
  return true;
}

void WriteStage::drain() {
  std::unique_lock lock(mutex_);
  changed_.wait(lock, [&] { return queue_.empty() && !writing_; });
}

void WriteStage::discard() {
  std::unique_lock lock(mutex_);
  queue_.clear();
  queued_messages_ = 0;
  update_idle_locked();
  changed_.notify_all();
  changed_.wait(lock, [&] { return !writing_; });
  failed_ = false;
  rewind_.clear();
}

bool WriteStage::idle() { return idle_; }

void WriteStage::release_written() {
  if (!has_written_) {
    return;
  }
  std::vector<PartitionBatch> written;
  {
    std::lock_guard lock(mutex_);
    written.swap(written_);
    written_messages_ = 0;
    has_written_ = false;
  }
  // `written` is freed here, on the caller's thread.
}

std::size_t WriteStage::queued_messages() {
  std::lock_guard lock(mutex_);
  return queued_messages_;
}

bool WriteStage::failed() { return failed_; }

std::map<TopicPartition, std::int64_t> WriteStage::take_failure() {
  std::lock_guard lock(mutex_);
  failed_ = false;
  std::map<TopicPartition, std::int64_t> out;
  out.swap(rewind_);
  return out;
}

void WriteStage::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    changed_.notify_all();
  }
  if (thread_.joinable()) {
    thread_.join();
  }
}

void WriteStage::loop() {
  std::unique_lock lock(mutex_);
  for (;;) {
    changed_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
    if (queue_.empty()) {
      return;  // stopping, and everything queued is written
    }
    // Group commit: everything queued, up to the bound (at least one piece of work).
    std::vector<WriteWork> group;
    std::size_t messages = 0;
    while (!queue_.empty() &&
           (group.empty() || messages + queue_.front().messages <= options_.max_group_messages)) {
      messages += queue_.front().messages;
      group.push_back(std::move(queue_.front()));
      queue_.pop_front();
    }
    queued_messages_ -= messages;
    writing_ = true;
    update_idle_locked();
    changed_.notify_all();  // room in the queue
    lock.unlock();
    write_group(group);
    lock.lock();
    writing_ = false;
    update_idle_locked();
    changed_.notify_all();
  }
}

void WriteStage::write_group(std::vector<WriteWork>& group) {
  std::vector<PartitionBatch> items;
  items.reserve(group.size());
  std::size_t messages = 0;
  std::map<TopicPartition, std::int64_t> next;  // offset after the last message, per partition
  for (WriteWork& work : group) {
    items.push_back(std::move(work.item));
    messages += work.messages;
    for (const OffsetSpan& span : work.spans) {
      std::int64_t& n = next[{span.topic, span.partition}];
      n = std::max(n, span.last + 1);
    }
  }
  const Status status = writer_->write(items);
  if (!status.is_ok()) {
    spdlog::error("kafka consumer: writing {} messages failed, will read them again: {}", messages,
                  status.to_string());
    std::lock_guard lock(mutex_);
    failed_ = true;
    for (const WriteWork& work : group) {
      drop_locked(work);
    }
    for (const WriteWork& work : queue_) {
      drop_locked(work);
    }
    queue_.clear();
    queued_messages_ = 0;
    update_idle_locked();
    return;
  }
  ++groups_written_;
  std::vector<SourceOffset> offsets;
  offsets.reserve(next.size());
  for (const auto& [tp, offset] : next) {
    offsets.push_back({tp.first, tp.second, offset});
  }
  // A failed commit is harmless beyond redelivery: the store already holds these messages, and
  // the offsets it recorded make a new owner start after them.
  if (offsets.empty() || commit_(offsets)) {
    committed_messages_ += static_cast<std::int64_t>(messages);
  }
  std::lock_guard lock(mutex_);
  if (written_messages_ + messages > 2 * options_.max_queued_messages) {
    return;  // nobody is freeing: `items` goes with this frame
  }
  for (PartitionBatch& item : items) {
    written_.push_back(std::move(item));
  }
  written_messages_ += messages;
  has_written_ = true;
}

}  // namespace ktrail::kafka
