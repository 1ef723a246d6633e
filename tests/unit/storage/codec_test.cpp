#include <gtest/gtest.h>

#include "storage/event_codec.h"

namespace ktrail::storage {
namespace {

TEST(Codec, JsonStringArrayEscapesWhenNeeded) {
  EXPECT_EQ(json_string_array({"a", "b:c"}), R"(["a","b:c"])");
  EXPECT_EQ(json_string_array({"q\"uote", "back\\slash", "new\nline"}),
            R"(["q\"uote","back\\slash","new\nline"])");
  std::string out = "stale";
  json_string_array({}, &out);
  EXPECT_EQ(out, "");
}

TEST(Codec, IdentityHashCoversEveryPart) {
  const auto h = identity_hash("id", Stage::kResponseComplete, 10, 20);
  EXPECT_EQ(h, identity_hash("id", Stage::kResponseComplete, 10, 20));
  EXPECT_NE(h, identity_hash("id2", Stage::kResponseComplete, 10, 20));
  EXPECT_NE(h, identity_hash("id", Stage::kRequestReceived, 10, 20));
  EXPECT_NE(h, identity_hash("id", Stage::kResponseComplete, 11, 20));
  EXPECT_NE(h, identity_hash("id", Stage::kResponseComplete, 10, 21));
  // Keys are ordered by time first.
  EXPECT_LT(first_key(20, ~0ULL), first_key(21, 0));
}

TEST(Codec, BlocksRoundTripAndCorruptionIsAnError) {
  for (int level : {0, 1}) {
    BlockPacker packer(level);
    EXPECT_EQ(packer.add(R"({"a":1})"), 0u);
    EXPECT_EQ(packer.add(""), 1u);
    EXPECT_EQ(packer.add(R"({"b":"two"})"), 2u);
    BlockFormat format{};
    auto packed = packer.finish(&format);
    ASSERT_TRUE(packed.is_ok());
    const std::string block(*packed);
    EXPECT_EQ(packer.size(), 0u);
    EXPECT_EQ(*unpack_block_event(block, format, 0), R"({"a":1})");
    EXPECT_EQ(*unpack_block_event(block, format, 1), "");
    EXPECT_EQ(*unpack_block_event(block, format, 2), R"({"b":"two"})");
    EXPECT_FALSE(unpack_block_event(block, format, 3).is_ok());
    EXPECT_FALSE(unpack_block_event(block.substr(0, block.size() / 2), format, 2).is_ok());
    EXPECT_FALSE(unpack_block_event(block, static_cast<BlockFormat>(9), 0).is_ok());
    EXPECT_FALSE(unpack_block_event("", format, 0).is_ok());
  }
}

}  // namespace
}  // namespace ktrail::storage
