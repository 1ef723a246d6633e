#include "storage/block_compressor.h"

#include <zstd.h>

namespace ktrail::storage {

BlockCompressor::BlockCompressor(int zstd_level) : level_(zstd_level) {
  thread_ = std::thread([this] { run(); });
}

BlockCompressor::~BlockCompressor() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  work_.notify_all();
  thread_.join();
}

void BlockCompressor::submit(std::int64_t id, std::vector<std::string_view> events) {
  {
    std::lock_guard lock(mutex_);
    todo_.push_back({id, std::move(events)});
  }
  work_.notify_one();
}

Result<std::vector<PackedBlock>> BlockCompressor::collect() {
  std::unique_lock lock(mutex_);
  done_.wait(lock, [&] { return todo_.empty() && busy_ == 0; });
  std::vector<PackedBlock> out;
  out.swap(packed_);
  Status error = error_;
  error_ = Status::ok();
  if (!error.is_ok()) {
    return error;
  }
  return out;
}

void BlockCompressor::discard() { (void)collect(); }

void BlockCompressor::run() {
  ZSTD_CCtx* cctx = level_ > 0 ? ZSTD_createCCtx() : nullptr;
  std::string plain;  // reused from block to block
  std::string buffer;
  std::unique_lock lock(mutex_);
  for (;;) {
    work_.wait(lock, [&] { return stop_ || !todo_.empty(); });
    if (todo_.empty()) {
      break;  // stopping, nothing left
    }
    Todo todo = std::move(todo_.front());
    todo_.pop_front();
    ++busy_;
    lock.unlock();
    PackedBlock block;
    block.id = todo.id;
    block.count = static_cast<std::int64_t>(todo.events.size());
    plain.clear();
    append_plain_layout(todo.events, &plain);
    Status status;
    if (cctx != nullptr) {
      buffer.resize(ZSTD_compressBound(plain.size()));
      const std::size_t n =
          ZSTD_compressCCtx(cctx, buffer.data(), buffer.size(), plain.data(), plain.size(), level_);
      if (ZSTD_isError(n)) {
        status = internal_error(std::string("zstd compression failed: ") + ZSTD_getErrorName(n));
      } else {
        block.data.assign(buffer.data(), n);
        block.format = BlockFormat::kZstd;
      }
    } else {
      block.data = plain;
    }
    lock.lock();
    --busy_;
    if (!status.is_ok() && error_.is_ok()) {
      error_ = status;
    }
    // Blocks are compressed one at a time, in order, so packed_ stays in submission order.
    packed_.push_back(std::move(block));
    if (todo_.empty() && busy_ == 0) {
      done_.notify_all();
    }
  }
  ZSTD_freeCCtx(cctx);
}

}  // namespace ktrail::storage
