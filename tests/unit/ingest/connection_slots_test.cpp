// Connection slots (ingest/connection_slots.h): per-address and total bounds, shedding the
// connection waiting longest, never one with a request in progress.
#include "ingest/connection_slots.h"

#include <gtest/gtest.h>

#include <vector>

namespace ktrail::ingest {
namespace {

using Admission = ConnectionSlots::Admission;

TEST(ConnectionSlots, PerAddressLimitRefusesOnlyThatAddress) {
  ConnectionSlots slots({.total = 100, .per_peer = 2});
  std::uint64_t id = 0;
  EXPECT_EQ(slots.admit("10.0.0.1", &id), Admission::kAdmitted);
  const std::uint64_t first = id;
  EXPECT_EQ(slots.admit("10.0.0.1", &id), Admission::kAdmitted);
  EXPECT_EQ(slots.admit("10.0.0.1", &id), Admission::kRefusedPeer);
  EXPECT_EQ(slots.admit("10.0.0.2", &id), Admission::kAdmitted);
  EXPECT_EQ(slots.open_from("10.0.0.1"), 2u);
  slots.release(first);
  EXPECT_EQ(slots.admit("10.0.0.1", &id), Admission::kAdmitted);
  EXPECT_EQ(slots.open(), 3u);
}

TEST(ConnectionSlots, AtTheTotalTheLongestWaitingIsShedNeverABusyOne) {
  ConnectionSlots slots({.total = 3, .per_peer = 3});
  std::vector<std::uint64_t> ids(3);
  std::vector<int> shed(3, 0);
  for (int i = 0; i < 3; ++i) {
    ASSERT_EQ(slots.admit("10.0.0.1", &ids[i]), Admission::kAdmitted);
    slots.attach(ids[i], [&shed, i] { ++shed[i]; });
  }
  // The oldest has a request in progress: the next oldest waiting one goes.
  slots.set_waiting(ids[0], false);
  std::uint64_t id = 0;
  EXPECT_EQ(slots.admit("10.0.0.2", &id), Admission::kShedOther);
  EXPECT_EQ(shed, (std::vector<int>{0, 1, 0}));
  slots.attach(id, [] {});
  slots.release(ids[1]);  // the shed connection closed
  // Now [0] busy, [2] waiting, the new one waiting: [2] has waited longest.
  EXPECT_EQ(slots.admit("10.0.0.3", &id), Admission::kShedOther);
  EXPECT_EQ(shed, (std::vector<int>{0, 1, 1}));
  // Every remaining connection busy, the shed one not closed yet: refused.
  slots.set_waiting(id, false);
  std::uint64_t other = 0;
  ConnectionSlots busy({.total = 1, .per_peer = 1});
  ASSERT_EQ(busy.admit("10.0.0.1", &other), Admission::kAdmitted);
  busy.attach(other, [] {});
  busy.set_waiting(other, false);
  EXPECT_EQ(busy.admit("10.0.0.2", &other), Admission::kRefusedFull);
}

TEST(ConnectionSlots, AShedConnectionThatBeganARequestKeepsItsSlot) {
  ConnectionSlots slots({.total = 1, .per_peer = 2});
  std::uint64_t a = 0;
  std::uint64_t b = 0;
  ASSERT_EQ(slots.admit("10.0.0.1", &a), Admission::kAdmitted);
  slots.attach(a, [] {});
  ASSERT_EQ(slots.admit("10.0.0.1", &b), Admission::kShedOther);
  slots.attach(b, [] {});
  slots.set_waiting(a, false);  // its request began before the shed reached it
  EXPECT_EQ(slots.open(), 2u);
  std::uint64_t c = 0;
  // Over the total again: b (waiting) is shed, a (busy) is not.
  EXPECT_EQ(slots.admit("10.0.0.2", &c), Admission::kShedOther);
  slots.release(a);
  slots.release(b);
  slots.release(c);
  EXPECT_EQ(slots.open(), 0u);
  EXPECT_EQ(slots.open_from("10.0.0.1"), 0u);
}

}  // namespace
}  // namespace ktrail::ingest
