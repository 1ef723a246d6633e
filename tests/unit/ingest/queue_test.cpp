#include <gtest/gtest.h>

#include <thread>

#include "queue/embedded_queue.h"

namespace ktrail {
namespace {

TEST(EmbeddedQueue, BoundedByEventsNotOnlyItems) {
  EmbeddedQueue<int> q({.max_events = 1000, .max_bytes = 1u << 30});
  EXPECT_EQ(q.try_push(1, {400, 10}), PushResult::kAccepted);
  EXPECT_EQ(q.try_push(2, {400, 10}), PushResult::kAccepted);
  EXPECT_EQ(q.try_push(3, {400, 10}), PushResult::kFull);  // 1200 > 1000
  EXPECT_EQ(q.try_push(4, {200, 10}), PushResult::kAccepted);
  EXPECT_EQ(q.used().events, 1000u);
  EXPECT_EQ(q.pop(), 1);
  EXPECT_EQ(q.try_push(5, {400, 10}), PushResult::kAccepted);
}

TEST(EmbeddedQueue, BoundedByBytes) {
  EmbeddedQueue<int> q({.max_events = 1000, .max_bytes = 100});
  EXPECT_EQ(q.try_push(1, {1, 60}), PushResult::kAccepted);
  EXPECT_EQ(q.try_push(2, {1, 60}), PushResult::kFull);
}

TEST(EmbeddedQueue, OversizedItemIsAcceptedWhenEmpty) {
  EmbeddedQueue<int> q({.max_events = 10, .max_bytes = 100});
  EXPECT_EQ(q.try_push(1, {400, 1000}), PushResult::kAccepted);
  EXPECT_EQ(q.try_push(2, {1, 1}), PushResult::kFull);
  EXPECT_EQ(q.pop(), 1);
  EXPECT_EQ(q.try_push(2, {1, 1}), PushResult::kAccepted);
}

TEST(EmbeddedQueue, CloseDrainsThenEnds) {
  EmbeddedQueue<int> q({});
  ASSERT_EQ(q.try_push(1, {1, 1}), PushResult::kAccepted);
  ASSERT_EQ(q.try_push(2, {1, 1}), PushResult::kAccepted);
  q.close();
  EXPECT_EQ(q.try_push(3, {1, 1}), PushResult::kClosed);
  EXPECT_EQ(q.pop(), 1);
  EXPECT_EQ(q.pop(), 2);
  EXPECT_EQ(q.pop(), std::nullopt);
}

TEST(EmbeddedQueue, ManyProducersOneConsumerLoseNothing) {
  EmbeddedQueue<int> q({.max_events = 64, .max_bytes = 1u << 20});
  constexpr int kPerProducer = 5000;
  std::vector<std::thread> producers;
  for (int p = 0; p < 4; ++p) {
    producers.emplace_back([&, p] {
      for (int i = 0; i < kPerProducer; ++i) {
        while (q.try_push(p * kPerProducer + i, {1, 1}) != PushResult::kAccepted) {
          std::this_thread::yield();
        }
      }
    });
  }
  long long sum = 0;
  int count = 0;
  std::thread consumer([&] {
    while (auto v = q.pop()) {
      sum += *v;
      ++count;
    }
  });
  for (auto& t : producers) {
    t.join();
  }
  q.close();
  consumer.join();
  const long long n = 4LL * kPerProducer;
  EXPECT_EQ(count, n);
  EXPECT_EQ(sum, n * (n - 1) / 2);
}

}  // namespace
}  // namespace ktrail
