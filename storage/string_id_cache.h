// A bounded map from strings to dictionary ids, built for the writer's hot path: every stored
// audit event looks up about ten strings, most of them the same few hundred values.
//
// Open addressing over one flat slot array (hash, id, where the bytes are), with the bytes
// of all keys in one arena, so a lookup touches one slot and one run of bytes instead of
// chasing the nodes of a std::unordered_map. Bounded: when it holds `max_entries` keys or
// `max_bytes` of key bytes it starts over empty (the dictionary table stays the truth).
// Keys longer than kMaxKeyBytes are not kept. Not thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace ktrail::storage {

class StringIdCache {
 public:
  static constexpr std::size_t kMaxKeyBytes = 4096;

  explicit StringIdCache(std::size_t max_entries, std::size_t max_bytes = 64u << 20);

  // The id stored for `key`, or 0.
  std::int64_t find(std::string_view key) const;
  // Remembers `key` -> `id` (id != 0). A key already present keeps its first id.
  void insert(std::string_view key, std::int64_t id);
  void clear();

  std::size_t size() const { return count_; }

  // The hash used for slots (exposed for tests).
  static std::uint64_t hash(std::string_view key);

 private:
  struct Slot {
    std::uint64_t hash = 0;  // 0: empty
    std::int64_t id = 0;
    std::uint32_t offset = 0;
    std::uint32_t length = 0;
  };
  std::size_t slot_of(std::uint64_t h, std::string_view key) const;
  void grow();

  std::size_t max_entries_;
  std::size_t max_bytes_;
  std::vector<Slot> slots_;
  std::string arena_;
  std::size_t count_ = 0;
};

}  // namespace ktrail::storage
