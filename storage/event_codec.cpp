#include "storage/event_codec.h"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <zstd.h>

namespace ktrail::storage {
namespace {

constexpr std::uint64_t kFnvOffset = 1469598103934665603ULL;
constexpr std::uint64_t kFnvPrime = 1099511628211ULL;

// Finalizer of splitmix64: spreads every input bit over the whole word.
std::uint64_t mix(std::uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  x ^= x >> 31;
  return x;
}

// Guards against absurd sizes in a corrupted blob before allocating.
constexpr unsigned long long kMaxUnpackedBytes = 256ULL << 20;

}  // namespace

std::uint64_t identity_hash(std::string_view audit_id, Stage stage, Micros received,
                            Micros stage_time) {
  std::uint64_t h = kFnvOffset;
  for (unsigned char c : audit_id) {
    h = (h ^ c) * kFnvPrime;
  }
  h = mix(h ^ static_cast<std::uint64_t>(stage));
  h = mix(h ^ static_cast<std::uint64_t>(received));
  return mix(h ^ static_cast<std::uint64_t>(stage_time));
}

std::int64_t first_key(Micros stage_time, std::uint64_t hash) {
  return (stage_time << kSlotBits) +
         static_cast<std::int64_t>(hash & ((std::uint64_t{1} << kSlotBits) - 1));
}

BlockPacker::BlockPacker(int zstd_level) : level_(zstd_level) {
  if (level_ > 0) {
    cctx_ = ZSTD_createCCtx();
  }
}

BlockPacker::~BlockPacker() { ZSTD_freeCCtx(static_cast<ZSTD_CCtx*>(cctx_)); }

std::size_t BlockPacker::add(std::string_view json) {
  data_.append(json);
  ends_.push_back(static_cast<std::uint32_t>(data_.size()));
  return ends_.size() - 1;
}

void BlockPacker::clear() {
  ends_.clear();
  data_.clear();
}

// Layout before compression: u32 count, count u32 end offsets (little endian), the events.
Result<std::string_view> BlockPacker::finish(BlockFormat* format) {
  plain_.clear();
  auto put32 = [&](std::uint32_t v) {
    for (int i = 0; i < 4; ++i) {
      plain_.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
    }
  };
  put32(static_cast<std::uint32_t>(ends_.size()));
  for (auto end : ends_) {
    put32(end);
  }
  plain_.append(data_);
  clear();
  if (level_ <= 0) {
    *format = BlockFormat::kPlain;
    return std::string_view(plain_);
  }
  *format = BlockFormat::kZstd;
  packed_.resize(ZSTD_compressBound(plain_.size()));
  const std::size_t n = ZSTD_compressCCtx(static_cast<ZSTD_CCtx*>(cctx_), packed_.data(),
                                          packed_.size(), plain_.data(), plain_.size(), level_);
  if (ZSTD_isError(n)) {
    return internal_error(std::string("zstd compression failed: ") + ZSTD_getErrorName(n));
  }
  return std::string_view(packed_.data(), n);
}

Result<std::string> unpack_block_event(std::string_view block, BlockFormat format,
                                       std::size_t index) {
  std::string plain;
  if (format == BlockFormat::kZstd) {
    const unsigned long long size = ZSTD_getFrameContentSize(block.data(), block.size());
    if (size == ZSTD_CONTENTSIZE_ERROR || size == ZSTD_CONTENTSIZE_UNKNOWN ||
        size > kMaxUnpackedBytes) {
      return database_error("corrupt compressed event block");
    }
    plain.resize(static_cast<std::size_t>(size));
    const std::size_t n = ZSTD_decompress(plain.data(), plain.size(), block.data(), block.size());
    if (ZSTD_isError(n) || n != plain.size()) {
      return database_error("corrupt compressed event block");
    }
    block = plain;
  } else if (format != BlockFormat::kPlain) {
    return database_error("unknown event block format " + std::to_string(int(format)));
  }
  auto get32 = [&](std::size_t at) {
    std::uint32_t v = 0;
    for (int i = 0; i < 4; ++i) {
      v |= std::uint32_t(static_cast<unsigned char>(block[at + i])) << (8 * i);
    }
    return v;
  };
  if (block.size() < 4) {
    return database_error("truncated event block");
  }
  const std::size_t count = get32(0);
  const std::size_t header = 4 + 4 * count;
  if (index >= count || block.size() < header) {
    return database_error("event index " + std::to_string(index) + " is outside its block");
  }
  const std::size_t begin = index == 0 ? 0 : get32(4 + 4 * (index - 1));
  const std::size_t end = get32(4 + 4 * index);
  if (begin > end || header + end > block.size()) {
    return database_error("corrupt event block offsets");
  }
  return std::string(block.substr(header + begin, end - begin));
}

std::string json_string_array(const std::vector<std::string>& items) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
  writer.StartArray();
  for (const auto& item : items) {
    writer.String(item.data(), static_cast<rapidjson::SizeType>(item.size()));
  }
  writer.EndArray();
  return {buffer.GetString(), buffer.GetSize()};
}

}  // namespace ktrail::storage
