#include "storage/event_codec.h"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <zstd.h>

#include <algorithm>

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
                            Micros stage_time, std::int64_t cluster) {
  std::uint64_t h = kFnvOffset;
  for (unsigned char c : audit_id) {
    h = (h ^ c) * kFnvPrime;
  }
  h = mix(h ^ static_cast<std::uint64_t>(stage));
  h = mix(h ^ static_cast<std::uint64_t>(received));
  h = mix(h ^ static_cast<std::uint64_t>(stage_time));
  // The default cluster (0) adds nothing: keys of rows stored before clusters stay valid.
  return cluster == 0 ? h : mix(h ^ mix(static_cast<std::uint64_t>(cluster)));
}

std::int64_t first_key(Micros stage_time, std::uint64_t hash) {
  return (stage_time << kSlotBits) +
         static_cast<std::int64_t>(hash & ((std::uint64_t{1} << kSlotBits) - 1));
}

std::size_t BlockPacker::add(std::string_view json) {
  events_.push_back(json);
  bytes_ += json.size();
  return events_.size() - 1;
}

void BlockPacker::clear() {
  events_.clear();
  bytes_ = 0;
}

std::vector<std::string_view> BlockPacker::take() {
  std::vector<std::string_view> out;
  out.swap(events_);
  events_.reserve(out.size());
  bytes_ = 0;
  return out;
}

// Layout before compression: u32 count, count u32 end offsets (little endian), the events.
void append_plain_layout(const std::vector<std::string_view>& events, std::string* out) {
  std::size_t bytes = 0;
  for (auto e : events) {
    bytes += e.size();
  }
  out->reserve(out->size() + 4 * (events.size() + 1) + bytes);
  auto put32 = [&](std::uint32_t v) {
    for (int i = 0; i < 4; ++i) {
      out->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
    }
  };
  put32(static_cast<std::uint32_t>(events.size()));
  std::uint32_t end = 0;
  for (auto e : events) {
    end += static_cast<std::uint32_t>(e.size());
    put32(end);
  }
  for (auto e : events) {
    out->append(e);
  }
}

Result<std::string> unpack_block(std::string_view block, BlockFormat format) {
  if (format == BlockFormat::kPlain) {
    return std::string(block);
  }
  if (format != BlockFormat::kZstd) {
    return database_error("unknown event block format " + std::to_string(int(format)));
  }
  const unsigned long long size = ZSTD_getFrameContentSize(block.data(), block.size());
  if (size == ZSTD_CONTENTSIZE_ERROR || size == ZSTD_CONTENTSIZE_UNKNOWN ||
      size > kMaxUnpackedBytes) {
    return database_error("corrupt compressed event block");
  }
  std::string plain(static_cast<std::size_t>(size), '\0');
  const std::size_t n = ZSTD_decompress(plain.data(), plain.size(), block.data(), block.size());
  if (ZSTD_isError(n) || n != plain.size()) {
    return database_error("corrupt compressed event block");
  }
  return plain;
}

Result<std::string_view> plain_block_event(std::string_view block, std::size_t index) {
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
  return block.substr(header + begin, end - begin);
}

Result<std::string> unpack_block_event(std::string_view block, BlockFormat format,
                                       std::size_t index) {
  auto plain = unpack_block(block, format);
  if (!plain) {
    return plain.status();
  }
  auto event = plain_block_event(*plain, index);
  if (!event) {
    return event.status();
  }
  return std::string(*event);
}

void json_string_array(const std::vector<std::string>& items, std::string* out) {
  out->clear();
  if (items.empty()) {
    return;
  }
  out->push_back('[');
  for (const auto& item : items) {
    // Plain strings (the usual case) are copied; anything needing escapes goes through
    // RapidJSON's writer.
    const bool plain = std::all_of(item.begin(), item.end(), [](char c) {
      return c != '"' && c != '\\' && static_cast<unsigned char>(c) >= 0x20;
    });
    if (out->size() > 1) {
      out->push_back(',');
    }
    if (plain) {
      out->push_back('"');
      out->append(item);
      out->push_back('"');
    } else {
      rapidjson::StringBuffer buffer;
      rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
      writer.String(item.data(), static_cast<rapidjson::SizeType>(item.size()));
      out->append(buffer.GetString(), buffer.GetSize());
    }
  }
  out->push_back(']');
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
