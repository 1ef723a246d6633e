// The writer's string -> id cache: exact answers under load, collisions of slot positions,
// its bounds, and keys it refuses to keep.
#include "storage/string_id_cache.h"

#include <gtest/gtest.h>

#include <string>

namespace ktrail::storage {
namespace {

TEST(StringIdCache, FindsWhatWasInsertedAndNothingElse) {
  StringIdCache cache(1 << 16);
  // Keys that share long prefixes and lengths, differing in one byte at every position,
  // including past the last full 8-byte word.
  std::vector<std::string> keys;
  for (int i = 0; i < 5000; ++i) {
    std::string k = "system:serviceaccount:kube-system:controller-" + std::to_string(i);
    keys.push_back(k);
  }
  for (std::size_t pos = 0; pos < 21; ++pos) {
    std::string k(21, 'a');
    k[pos] = 'b';
    keys.push_back(k);
  }
  for (std::size_t i = 0; i < keys.size(); ++i) {
    cache.insert(keys[i], static_cast<std::int64_t>(i + 1));
  }
  EXPECT_EQ(cache.size(), keys.size());
  for (std::size_t i = 0; i < keys.size(); ++i) {
    ASSERT_EQ(cache.find(keys[i]), static_cast<std::int64_t>(i + 1)) << keys[i];
  }
  EXPECT_EQ(cache.find("system:serviceaccount:kube-system:controller-5000"), 0);
  EXPECT_EQ(cache.find(std::string(21, 'a')), 0);
  EXPECT_EQ(cache.find(""), 0);
  EXPECT_EQ(cache.find(std::string("a\0b", 3)), 0);
}

TEST(StringIdCache, KeepsTheFirstIdOfAKey) {
  StringIdCache cache(16);
  cache.insert("alice", 7);
  cache.insert("alice", 9);
  EXPECT_EQ(cache.find("alice"), 7);
  EXPECT_EQ(cache.size(), 1u);
}

TEST(StringIdCache, StartsOverAtItsEntryBound) {
  StringIdCache cache(100);
  for (int i = 1; i <= 150; ++i) {
    cache.insert("k" + std::to_string(i), i);
  }
  EXPECT_LE(cache.size(), 100u);
  // What was inserted after starting over is there, with the right ids.
  for (int i = 101; i <= 150; ++i) {
    EXPECT_EQ(cache.find("k" + std::to_string(i)), i);
  }
  EXPECT_EQ(cache.find("k1"), 0);
}

TEST(StringIdCache, StartsOverAtItsByteBoundAndSkipsHugeKeys) {
  StringIdCache cache(1000, 10 * 1024);
  const std::string big(StringIdCache::kMaxKeyBytes + 1, 'x');
  cache.insert(big, 1);
  EXPECT_EQ(cache.find(big), 0);
  EXPECT_EQ(cache.size(), 0u);
  for (int i = 0; i < 20; ++i) {
    cache.insert(std::string(1000, static_cast<char>('a' + i)), i + 1);
  }
  EXPECT_LE(cache.size(), 10u);
  EXPECT_EQ(cache.find(std::string(1000, 't')), 20);
}

TEST(StringIdCache, ClearForgetsEverything) {
  StringIdCache cache(64);
  cache.insert("a", 1);
  cache.clear();
  EXPECT_EQ(cache.find("a"), 0);
  cache.insert("a", 2);
  EXPECT_EQ(cache.find("a"), 2);
}

}  // namespace
}  // namespace ktrail::storage
