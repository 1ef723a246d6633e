// Compresses the writer's finished event blocks on a thread of its own, so that compression
// overlaps the writer's row inserts instead of adding to them.
//
// Contract: submit() hands over one block's events (views, from BlockPacker::take) and returns
// at once; the thread lays them out (storage/event_codec.h) and compresses them. The texts
// viewed must stay valid until collect() or discard() returns. collect() waits until everything
// submitted is compressed and returns the blocks in submission order (or the first error),
// ready to insert before COMMIT; discard() waits and drops them (after a rollback). One writer
// thread calls these; the compressor thread only lays out and compresses. The destructor stops
// and joins the thread.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "core/status.h"
#include "storage/event_codec.h"

namespace ktrail::storage {

struct PackedBlock {
  std::int64_t id = 0;
  std::int64_t count = 0;
  BlockFormat format = BlockFormat::kPlain;
  std::string data;
};

class BlockCompressor {
 public:
  explicit BlockCompressor(int zstd_level);  // level 0: blocks stay plain
  ~BlockCompressor();
  BlockCompressor(const BlockCompressor&) = delete;
  BlockCompressor& operator=(const BlockCompressor&) = delete;

  void submit(std::int64_t id, std::vector<std::string_view> events);
  Result<std::vector<PackedBlock>> collect();
  void discard();

 private:
  void run();

  int level_;
  std::mutex mutex_;
  std::condition_variable work_;
  std::condition_variable done_;
  struct Todo {
    std::int64_t id = 0;
    std::vector<std::string_view> events;
  };
  std::deque<Todo> todo_;            // waiting for the thread
  std::vector<PackedBlock> packed_;  // compressed, in submission order
  std::size_t busy_ = 0;             // taken by the thread, not yet in packed_
  Status error_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace ktrail::storage
