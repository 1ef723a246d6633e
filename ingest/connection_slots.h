// The webhook server's connection slots (internal to ingest/): at most `per_peer` connections
// from one peer address and `total` in all, so that one client's idle or half-sent connections
// cannot lock the others out.
//
// A connection is "waiting" while it has no request in progress: during the TLS handshake,
// idle between requests, inside a request header, or being drained after a refused body. When
// a new connection finds every slot taken, the connection that has been waiting longest is shed
// (its shed callback runs, outside the lock; the session closes itself if it is still waiting)
// and the new one is admitted. Connections with a request in progress are never shed; if all
// are busy, the new connection is refused. Thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <unordered_map>

namespace ktrail::ingest {

class ConnectionSlots {
 public:
  using Clock = std::chrono::steady_clock;
  struct Limits {
    std::size_t total = 1024;
    std::size_t per_peer = 64;
  };
  enum class Admission { kAdmitted, kShedOther, kRefusedPeer, kRefusedFull };

  explicit ConnectionSlots(Limits limits) : limits_(limits) {}

  // Takes a slot for a connection from `address` (an IP address, no port). On kAdmitted and
  // kShedOther, *id names the slot; the connection starts waiting.
  Admission admit(const std::string& address, std::uint64_t* id);
  // The callback that closes the slot's connection if it is still waiting.
  void attach(std::uint64_t id, std::function<void()> shed);
  // Waiting (true: since now) or with a request in progress (false).
  void set_waiting(std::uint64_t id, bool waiting);
  void release(std::uint64_t id);

  std::size_t open() const;
  std::size_t open_from(const std::string& address) const;

 private:
  struct Slot {
    std::string address;
    bool waiting = true;
    bool shedding = false;  // shed, not closed yet: neither counted nor chosen again
    Clock::time_point since;
    std::function<void()> shed;
  };
  Limits limits_;
  mutable std::mutex mutex_;
  std::unordered_map<std::uint64_t, Slot> slots_;
  std::unordered_map<std::string, std::size_t> per_peer_;
  std::size_t shedding_ = 0;
  std::uint64_t next_id_ = 1;
};

}  // namespace ktrail::ingest
