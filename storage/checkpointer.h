// Private to storage/: WAL checkpoints off the writer thread.
//
// Contract:
// - The writer connection's automatic checkpoints are turned off (a WAL hook replaces them);
//   after each commit the hook records the WAL size and wakes a background thread, which runs
//   PASSIVE checkpoints on its own connection once the WAL holds `start_pages` frames. A
//   PASSIVE checkpoint never blocks the writer, so commits no longer pay for copying 64 MB of
//   pages into the database, and the copying runs on another core.
// - Durability is unchanged: a commit is in the WAL before write_batch returns; checkpoints
//   only move committed pages into the database file.
// - Bound on WAL growth: a PASSIVE checkpoint that races with commits may never finish, and
//   SQLite only rewinds the WAL after a finished one. When the WAL passes `limit_pages`, the
//   writer runs one checkpoint itself right after its commit (no commit can race with it), as
//   SQLite's automatic checkpoint would.
// - RAII: the destructor stops and joins the thread and closes its connection.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "core/status.h"
#include "storage/sqlite_util.h"

namespace ktrail::storage {

struct CheckpointerOptions {
  int start_pages = 16000;  // WAL frames that start a background checkpoint
  int limit_pages = 64000;  // WAL frames past which the writer checkpoints itself
  bool sync_full = false;   // mirror the writer's synchronous setting
};

class Checkpointer {
 public:
  // Opens a second connection to `path` and installs the WAL hook on `writer`.
  static Result<std::unique_ptr<Checkpointer>> start(const std::string& path, sqlite3* writer,
                                                     const CheckpointerOptions& options);
  ~Checkpointer();
  Checkpointer(const Checkpointer&) = delete;
  Checkpointer& operator=(const Checkpointer&) = delete;

  // To call on the writer thread after a COMMIT: runs the fallback checkpoint when the WAL
  // has passed its limit.
  void after_commit();

  // Background checkpoints run so far (for tests and benchmarks).
  std::int64_t runs() const { return runs_.load(); }
  // Checkpoints the writer had to run itself.
  std::int64_t writer_runs() const { return writer_runs_.load(); }

 private:
  Checkpointer(sqlite::Db db, sqlite3* writer, const CheckpointerOptions& options);
  static int on_wal_commit(void* self, sqlite3* db, const char* name, int pages);
  void loop();

  sqlite::Db db_;
  sqlite3* writer_;
  CheckpointerOptions options_;
  std::atomic<int> wal_pages_{0};
  std::atomic<std::int64_t> runs_{0};
  std::atomic<std::int64_t> writer_runs_{0};
  std::mutex mu_;
  std::condition_variable wake_;
  bool stop_ = false;          // guarded by mu_
  std::uint64_t commits_ = 0;  // guarded by mu_
  std::thread thread_;
};

}  // namespace ktrail::storage
