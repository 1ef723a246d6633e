#include "ingest/connection_slots.h"

namespace ktrail::ingest {

ConnectionSlots::Admission ConnectionSlots::admit(const std::string& address, std::uint64_t* id) {
  std::function<void()> shed;
  Admission admission = Admission::kAdmitted;
  {
    std::lock_guard lock(mutex_);
    auto peer = per_peer_.find(address);
    if (peer != per_peer_.end() && peer->second >= limits_.per_peer) {
      return Admission::kRefusedPeer;
    }
    if (slots_.size() - shedding_ >= limits_.total) {
      Slot* oldest = nullptr;
      for (auto& [slot_id, slot] : slots_) {
        if (slot.waiting && !slot.shedding && slot.shed &&
            (oldest == nullptr || slot.since < oldest->since)) {
          oldest = &slot;
        }
      }
      if (oldest == nullptr) {
        return Admission::kRefusedFull;
      }
      oldest->shedding = true;
      ++shedding_;
      shed = oldest->shed;
      admission = Admission::kShedOther;
    }
    *id = next_id_++;
    Slot& slot = slots_[*id];
    slot.address = address;
    slot.since = Clock::now();
    ++per_peer_[address];
  }
  if (shed) {
    shed();
  }
  return admission;
}

void ConnectionSlots::attach(std::uint64_t id, std::function<void()> shed) {
  std::lock_guard lock(mutex_);
  if (auto it = slots_.find(id); it != slots_.end()) {
    it->second.shed = std::move(shed);
  }
}

void ConnectionSlots::set_waiting(std::uint64_t id, bool waiting) {
  std::lock_guard lock(mutex_);
  if (auto it = slots_.find(id); it != slots_.end()) {
    it->second.waiting = waiting;
    it->second.since = Clock::now();
    if (!waiting && it->second.shedding) {
      // Shed too late: a request began first. It keeps its slot.
      it->second.shedding = false;
      --shedding_;
    }
  }
}

void ConnectionSlots::release(std::uint64_t id) {
  std::lock_guard lock(mutex_);
  auto it = slots_.find(id);
  if (it == slots_.end()) {
    return;
  }
  if (it->second.shedding) {
    --shedding_;
  }
  auto peer = per_peer_.find(it->second.address);
  if (peer != per_peer_.end() && --peer->second == 0) {
    per_peer_.erase(peer);
  }
  slots_.erase(it);
}

std::size_t ConnectionSlots::open() const {
  std::lock_guard lock(mutex_);
  return slots_.size();
}

std::size_t ConnectionSlots::open_from(const std::string& address) const {
  std::lock_guard lock(mutex_);
  auto it = per_peer_.find(address);
  return it == per_peer_.end() ? 0 : it->second;
}

}  // namespace ktrail::ingest
