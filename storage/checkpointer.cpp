#include "storage/checkpointer.h"

namespace ktrail::storage {

Result<std::unique_ptr<Checkpointer>> Checkpointer::start(const std::string& path, sqlite3* writer,
                                                          const CheckpointerOptions& options) {
  auto db = sqlite::Db::open(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX);
  if (!db) {
    return db.status();
  }
  // Checkpoints read WAL frames and write database pages directly: no need for a big cache.
  KTRAIL_RETURN_IF_ERROR(db->exec("PRAGMA cache_size = -1024"));
  KTRAIL_RETURN_IF_ERROR(
      db->exec(options.sync_full ? "PRAGMA synchronous = FULL" : "PRAGMA synchronous = NORMAL"));
  KTRAIL_RETURN_IF_ERROR(db->exec("PRAGMA wal_autocheckpoint = 0"));
  auto self = std::unique_ptr<Checkpointer>(new Checkpointer(std::move(*db), writer, options));
  // Replaces SQLite's automatic checkpoint on the writer connection (it is a WAL hook too).
  sqlite3_wal_hook(writer, &Checkpointer::on_wal_commit, self.get());
  self->thread_ = std::thread([p = self.get()] { p->loop(); });
  return self;
}

Checkpointer::Checkpointer(sqlite::Db db, sqlite3* writer, const CheckpointerOptions& options)
    : db_(std::move(db)), writer_(writer), options_(options) {}

Checkpointer::~Checkpointer() {
  sqlite3_wal_hook(writer_, nullptr, nullptr);
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  wake_.notify_one();
  if (thread_.joinable()) {
    thread_.join();
  }
}

int Checkpointer::on_wal_commit(void* self, sqlite3* /*db*/, const char* /*name*/, int pages) {
  auto* c = static_cast<Checkpointer*>(self);
  c->wal_pages_.store(pages);
  if (pages >= c->options_.start_pages) {
    {
      std::lock_guard<std::mutex> lock(c->mu_);
      ++c->commits_;
    }
    c->wake_.notify_one();
  }
  return SQLITE_OK;
}

void Checkpointer::after_commit() {
  if (wal_pages_.load() < options_.limit_pages) {
    return;
  }
  // No commit can race with this one, so it finishes (unless the background checkpoint
  // holds the checkpoint lock right now: then that one goes on and this is skipped).
  int log = 0;
  int done = 0;
  const int rc =
      sqlite3_wal_checkpoint_v2(writer_, nullptr, SQLITE_CHECKPOINT_PASSIVE, &log, &done);
  if (rc == SQLITE_OK) {
    ++writer_runs_;
    wal_pages_.store(0);
  }
}

void Checkpointer::loop() {
  std::uint64_t seen = 0;
  for (;;) {
    {
      std::unique_lock<std::mutex> lock(mu_);
      wake_.wait(lock, [&] { return stop_ || commits_ != seen; });
      if (stop_) {
        return;
      }
      seen = commits_;
    }
    int log = 0;
    int done = 0;
    // Errors (SQLITE_BUSY while the writer checkpoints, I/O) are retried after the next
    // commit; the writer's fallback bounds the WAL meanwhile.
    if (sqlite3_wal_checkpoint_v2(db_.get(), nullptr, SQLITE_CHECKPOINT_PASSIVE, &log, &done) ==
        SQLITE_OK) {
      ++runs_;
    }
  }
}

}  // namespace ktrail::storage
