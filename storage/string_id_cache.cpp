#include "storage/string_id_cache.h"

#include <cstring>

namespace ktrail::storage {
namespace {

constexpr std::size_t kInitialSlots = 256;

}  // namespace

std::uint64_t StringIdCache::hash(std::string_view s) {
  constexpr std::uint64_t kMul = 0x9E3779B97F4A7C15ULL;
  std::uint64_t h = (s.size() + 1) * kMul;
  std::size_t i = 0;
  for (; i + 8 <= s.size(); i += 8) {
    std::uint64_t w;
    std::memcpy(&w, s.data() + i, 8);
    h = ((h << 5 | h >> 59) ^ w) * kMul;
  }
  if (i < s.size()) {
    std::uint64_t w = 0;
    std::memcpy(&w, s.data() + i, s.size() - i);
    h = ((h << 5 | h >> 59) ^ w) * kMul;
  }
  h ^= h >> 29;
  return h | 1;  // never 0, which marks an empty slot
}

StringIdCache::StringIdCache(std::size_t max_entries, std::size_t max_bytes)
    : max_entries_(max_entries), max_bytes_(max_bytes), slots_(kInitialSlots) {}

std::size_t StringIdCache::slot_of(std::uint64_t h, std::string_view key) const {
  const std::size_t mask = slots_.size() - 1;
  for (std::size_t i = (h >> 7) & mask;; i = (i + 1) & mask) {
    const Slot& slot = slots_[i];
    if (slot.hash == 0 || (slot.hash == h && slot.length == key.size() &&
                           std::memcmp(arena_.data() + slot.offset, key.data(), key.size()) == 0)) {
      return i;
    }
  }
}

std::int64_t StringIdCache::find(std::string_view key) const {
  if (key.size() > kMaxKeyBytes) {
    return 0;
  }
  return slots_[slot_of(hash(key), key)].id;
}

void StringIdCache::insert(std::string_view key, std::int64_t id) {
  if (key.size() > kMaxKeyBytes || id == 0) {
    return;
  }
  if (count_ >= max_entries_ || arena_.size() + key.size() > max_bytes_) {
    clear();
  }
  if (2 * (count_ + 1) > slots_.size()) {
    grow();
  }
  const std::uint64_t h = hash(key);
  Slot& slot = slots_[slot_of(h, key)];
  if (slot.hash != 0) {
    return;
  }
  slot.hash = h;
  slot.id = id;
  slot.offset = static_cast<std::uint32_t>(arena_.size());
  slot.length = static_cast<std::uint32_t>(key.size());
  arena_.append(key);
  ++count_;
}

void StringIdCache::grow() {
  std::vector<Slot> old(slots_.size() * 2);
  old.swap(slots_);
  const std::size_t mask = slots_.size() - 1;
  for (const Slot& s : old) {
    if (s.hash == 0) {
      continue;
    }
    std::size_t i = (s.hash >> 7) & mask;
    while (slots_[i].hash != 0) {
      i = (i + 1) & mask;
    }
    slots_[i] = s;
  }
}

void StringIdCache::clear() {
  slots_.assign(kInitialSlots, Slot{});
  arena_.clear();
  count_ = 0;
}

}  // namespace ktrail::storage
