#include <gtest/gtest.h>

#include <deque>

#include "storage/block_compressor.h"
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
    BlockCompressor compressor(level);
    BlockPacker packer;
    EXPECT_EQ(packer.add(R"({"a":1})"), 0u);
    EXPECT_EQ(packer.add(""), 1u);
    EXPECT_EQ(packer.add(R"({"b":"two"})"), 2u);
    compressor.submit(7, packer.take());
    EXPECT_EQ(packer.size(), 0u);
    auto packed = compressor.collect();
    ASSERT_TRUE(packed.is_ok());
    ASSERT_EQ(packed->size(), 1u);
    const PackedBlock& b = packed->front();
    EXPECT_EQ(b.id, 7);
    EXPECT_EQ(b.count, 3);
    EXPECT_EQ(b.format, level == 0 ? BlockFormat::kPlain : BlockFormat::kZstd);
    const std::string block = b.data;
    const BlockFormat format = b.format;
    EXPECT_EQ(*unpack_block_event(block, format, 0), R"({"a":1})");
    EXPECT_EQ(*unpack_block_event(block, format, 1), "");
    EXPECT_EQ(*unpack_block_event(block, format, 2), R"({"b":"two"})");
    EXPECT_FALSE(unpack_block_event(block, format, 3).is_ok());
    EXPECT_FALSE(unpack_block_event(block.substr(0, block.size() / 2), format, 2).is_ok());
    EXPECT_FALSE(unpack_block_event(block, static_cast<BlockFormat>(9), 0).is_ok());
    EXPECT_FALSE(unpack_block_event("", format, 0).is_ok());
  }
}

TEST(Codec, CompressorReturnsManyBlocksInSubmissionOrder) {
  BlockCompressor compressor(1);
  for (int round = 0; round < 3; ++round) {
    // The packer keeps views: the texts live until the blocks are collected or discarded.
    std::deque<std::string> texts;
    for (int id = 1; id <= 50; ++id) {
      BlockPacker packer;
      for (int i = 0; i < id; ++i) {
        texts.push_back("{\"block\":" + std::to_string(id) + ",\"i\":" + std::to_string(i) + "}");
        packer.add(texts.back());
      }
      compressor.submit(id, packer.take());
    }
    if (round == 1) {
      compressor.discard();  // a rolled-back group leaves nothing for the next one
      continue;
    }
    auto blocks = compressor.collect();
    ASSERT_TRUE(blocks.is_ok());
    ASSERT_EQ(blocks->size(), 50u);
    for (int id = 1; id <= 50; ++id) {
      const PackedBlock& b = (*blocks)[id - 1];
      ASSERT_EQ(b.id, id);
      EXPECT_EQ(*unpack_block_event(b.data, b.format, id - 1),
                "{\"block\":" + std::to_string(id) + ",\"i\":" + std::to_string(id - 1) + "}");
    }
  }
  auto empty = compressor.collect();
  ASSERT_TRUE(empty.is_ok());
  EXPECT_TRUE(empty->empty());
}

}  // namespace
}  // namespace ktrail::storage
