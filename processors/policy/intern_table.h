// Interning for the compiled policy checker (policy/checker.cpp): every string a policy
// mentions gets a small integer id, so that matching compares integers. Internal to the
// policy engine.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <deque>
#include <string>
#include <string_view>
#include <vector>

namespace ktrail::policy {

using InternId = std::uint32_t;
constexpr InternId kNotInterned = 0;  // a string no rule mentions

// Interned strings: an open-addressing table with a word-at-a-time hash. Lookups are on the
// hot path (a few per request), and the strings are short, so this beats std::unordered_map
// (node indirection, prime modulo, byte-wise hashing) several times over.
class InternTable {
 public:
  InternTable() : slots_(16) {}

  InternId intern(std::string_view s) {
    if (InternId id = lookup(s); id != kNotInterned) {
      return id;
    }
    if ((count_ + 1) * 2 > slots_.size()) {
      grow();
    }
    storage_.emplace_back(s);
    lengths_ |= length_bit(s.size());
    const std::string& kept = storage_.back();
    const InternId id = static_cast<InternId>(++count_);
    place({hash(kept), id, static_cast<std::uint32_t>(kept.size()), kept.data()});
    return id;
  }

  std::size_t size() const { return count_; }

  InternId lookup(std::string_view s) const {
    if ((lengths_ & length_bit(s.size())) == 0) {
      return kNotInterned;  // no string of that length: most request strings end here
    }
    const std::uint64_t h = hash(s);
    const std::size_t mask = slots_.size() - 1;
    for (std::size_t i = h & mask;; i = (i + 1) & mask) {
      const Slot& slot = slots_[i];
      if (slot.id == kNotInterned) {
        return kNotInterned;
      }
      if (slot.hash == h && slot.size == s.size() &&
          (s.empty() || std::memcmp(slot.data, s.data(), s.size()) == 0)) {
        return slot.id;
      }
    }
  }

 private:
  struct Slot {
    std::uint64_t hash = 0;
    InternId id = kNotInterned;
    std::uint32_t size = 0;
    const char* data = nullptr;
  };

  // One bit per length below 63; all longer strings share the last bit.
  static std::uint64_t length_bit(std::size_t n) { return 1ull << (n < 63 ? n : 63); }

  static std::uint64_t mix(std::uint64_t h) {
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    return h;
  }

  static std::uint64_t load8(const char* p) {
    std::uint64_t w;
    std::memcpy(&w, p, 8);
    return w;
  }
  static std::uint64_t load4(const char* p) {
    std::uint32_t w;
    std::memcpy(&w, p, 4);
    return w;
  }

  // Fixed-size loads only (overlapping at the tail), so no byte loop and no memcpy call.
  static std::uint64_t hash(std::string_view s) {
    const char* p = s.data();
    const std::size_t n = s.size();
    std::uint64_t h = 0x9E3779B97F4A7C15ull * (n + 1);
    if (n >= 8) {
      std::size_t i = 0;
      for (; i + 8 < n; i += 8) {
        h = (h ^ load8(p + i)) * 0xc4ceb9fe1a85ec53ull;
        h ^= h >> 29;
      }
      h = (h ^ load8(p + n - 8)) * 0xc4ceb9fe1a85ec53ull;
    } else if (n >= 4) {
      h = (h ^ (load4(p) << 32 | load4(p + n - 4))) * 0xc4ceb9fe1a85ec53ull;
    } else if (n > 0) {
      const std::uint64_t w = static_cast<std::uint64_t>(static_cast<unsigned char>(p[0])) << 16 |
                              static_cast<std::uint64_t>(static_cast<unsigned char>(p[n / 2]))
                                  << 8 |
                              static_cast<unsigned char>(p[n - 1]);
      h = (h ^ w) * 0xc4ceb9fe1a85ec53ull;
    }
    return mix(h);
  }

  void place(const Slot& slot) {
    const std::size_t mask = slots_.size() - 1;
    std::size_t i = slot.hash & mask;
    while (slots_[i].id != kNotInterned) {
      i = (i + 1) & mask;
    }
    slots_[i] = slot;
  }

  void grow() {
    std::vector<Slot> old(slots_.size() * 2);
    old.swap(slots_);
    for (const Slot& s : old) {
      if (s.id != kNotInterned) {
        place(s);
      }
    }
  }

  std::vector<Slot> slots_;
  std::deque<std::string> storage_;  // stable addresses for the slots' data
  std::size_t count_ = 0;
  std::uint64_t lengths_ = 0;
};

// A set of interned strings: sorted ids, scanned linearly when short.
class IdSet {
 public:
  void add(InternId id) {
    auto it = std::lower_bound(ids_.begin(), ids_.end(), id);
    if (it == ids_.end() || *it != id) {
      ids_.insert(it, id);
    }
  }
  bool empty() const { return ids_.empty(); }
  const std::vector<InternId>& ids() const { return ids_; }
  bool contains(InternId id) const {
    if (id == kNotInterned) {
      return false;
    }
    if (ids_.size() <= 8) {
      for (InternId x : ids_) {
        if (x == id) {
          return true;
        }
      }
      return false;
    }
    return std::binary_search(ids_.begin(), ids_.end(), id);
  }

 private:
  std::vector<InternId> ids_;
};

}  // namespace ktrail::policy
