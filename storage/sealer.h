// Private to storage/: seals due partitions (storage/segments.h) on a thread of the store, off
// the writer thread.
//
// Contract: the thread has its own writable connection. It wakes after the writer's commits
// (at most once a second) and seals every due partition, one transaction per segment; the
// writer meanwhile goes on (its BEGIN waits, within its busy timeout, only for a segment's
// commit, never for the reading and compressing). A partition that changed while being sealed
// is tried again on the next wake. With a retention, segments whose events are all older than
// the newest stored event less the retention are then removed (prune_segments). Errors are counted and kept (last_error), not fatal: the rows
// stay hot and readable. The destructor stops and joins the thread (a seal in progress finishes
// or rolls back first; either way nothing is lost or doubled).
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "core/status.h"
#include "core/time.h"
#include "storage/sqlite_util.h"

namespace ktrail::storage {

struct SealerOptions {
  Micros partition = 3600LL * 1000000;
  Micros seal_after = 0;
  Micros retention = 0;  // prune segments older than this before the newest event (0: never)
  int zstd_level = 3;
};

class Sealer {
 public:
  static Result<std::unique_ptr<Sealer>> start(const std::string& path,
                                               const SealerOptions& options);
  ~Sealer();
  Sealer(const Sealer&) = delete;
  Sealer& operator=(const Sealer&) = delete;

  // After a commit of the writer: there may be something due.
  void wake();

  std::int64_t segments() const { return segments_.load(); }
  std::int64_t rows() const { return rows_.load(); }
  std::int64_t errors() const { return errors_.load(); }
  std::int64_t pruned() const { return pruned_.load(); }
  std::string last_error();

 private:
  Sealer(sqlite::Db db, const SealerOptions& options);
  void loop();
  Status pass();

  sqlite::Db db_;
  SealerOptions options_;
  std::atomic<std::int64_t> segments_{0};
  std::atomic<std::int64_t> rows_{0};
  std::atomic<std::int64_t> errors_{0};
  std::atomic<std::int64_t> pruned_{0};
  std::mutex mu_;
  std::condition_variable wake_;
  bool stop_ = false;     // guarded by mu_
  bool pending_ = false;  // guarded by mu_
  std::string last_error_;  // guarded by mu_
  std::thread thread_;
};

}  // namespace ktrail::storage
