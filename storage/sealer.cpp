#include "storage/sealer.h"

#include <chrono>
#include <cstdint>
#include <string>

#include "storage/segments.h"

namespace ktrail::storage {

Result<std::unique_ptr<Sealer>> Sealer::start(const std::string& path,
                                              const SealerOptions& options) {
  auto db = sqlite::Db::open(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX);
  if (!db) {
    return db.status();
  }
  sqlite3_busy_timeout(db->get(), 10000);
  KTRAIL_RETURN_IF_ERROR(db->exec("PRAGMA secure_delete = OFF"));
  KTRAIL_RETURN_IF_ERROR(db->exec("PRAGMA wal_autocheckpoint = 0"));
  auto sealer = std::unique_ptr<Sealer>(new Sealer(std::move(*db), options));
  sealer->thread_ = std::thread([s = sealer.get()] { s->loop(); });
  return sealer;
}

Sealer::Sealer(sqlite::Db db, const SealerOptions& options)
    : db_(std::move(db)), options_(options) {}

Sealer::~Sealer() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

void Sealer::wake() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    pending_ = true;
  }
  wake_.notify_all();
}

std::string Sealer::last_error() {
  std::lock_guard<std::mutex> lock(mu_);
  return last_error_;
}

Status Sealer::pass() {
  auto due = due_partitions(db_, options_.partition, options_.seal_after);
  if (!due) {
    return due.status();
  }
  for (const Micros start : *due) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stop_) {
        return Status::ok();
      }
    }
    auto sealed = seal_partition(db_, start, options_.partition, options_.zstd_level);
    if (!sealed) {
      return sealed.status();
    }
    segments_ += sealed->segments;
    rows_ += sealed->rows;
  }
  if (options_.retention > 0) {
    auto newest = sqlite::query_int(
        db_, "SELECT max(coalesce((SELECT max(key) >> 10 FROM audit), -1), "
             "coalesce((SELECT max(max_ts) FROM segments), -1))");
    if (!newest) {
      return newest.status();
    }
    // Only when the first segment of the chain is old enough: no write lock taken otherwise.
    auto first = sqlite::query_int(
        db_, "SELECT coalesce((SELECT max_ts FROM segments ORDER BY id LIMIT 1), " +
                 std::to_string(INT64_MAX) + ")");
    if (!first) {
      return first.status();
    }
    if (*newest >= 0 && *first < *newest - options_.retention) {
      auto pruned = prune_segments(db_, *newest - options_.retention);
      if (!pruned) {
        return pruned.status();
      }
      pruned_ += pruned->segments;
    }
  }
  return Status::ok();
}

void Sealer::loop() {
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    wake_.wait_for(lock, std::chrono::seconds(1), [&] { return stop_ || pending_; });
    if (stop_) {
      return;
    }
    pending_ = false;
    lock.unlock();
    const Status s = pass();
    lock.lock();
    if (!s.is_ok()) {
      ++errors_;
      last_error_ = s.message();
    }
  }
}

}  // namespace ktrail::storage
