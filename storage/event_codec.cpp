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

BlobPacker::BlobPacker(int zstd_level) : level_(zstd_level) {
  if (level_ > 0) {
    cctx_ = ZSTD_createCCtx();
  }
}

BlobPacker::~BlobPacker() { ZSTD_freeCCtx(static_cast<ZSTD_CCtx*>(cctx_)); }

Result<std::string_view> BlobPacker::pack(std::string_view json) {
  if (level_ <= 0) {
    buffer_.resize(json.size() + 1);
    buffer_[0] = static_cast<char>(BlobFormat::kJson);
    json.copy(buffer_.data() + 1, json.size());
    return std::string_view(buffer_);
  }
  buffer_.resize(ZSTD_compressBound(json.size()) + 1);
  buffer_[0] = static_cast<char>(BlobFormat::kZstd);
  const std::size_t n = ZSTD_compressCCtx(static_cast<ZSTD_CCtx*>(cctx_), buffer_.data() + 1,
                                          buffer_.size() - 1, json.data(), json.size(), level_);
  if (ZSTD_isError(n)) {
    return internal_error(std::string("zstd compression failed: ") + ZSTD_getErrorName(n));
  }
  return std::string_view(buffer_.data(), n + 1);
}

Result<std::string> unpack_blob(std::string_view blob) {
  if (blob.empty()) {
    return database_error("empty event blob");
  }
  const auto format = static_cast<BlobFormat>(blob[0]);
  blob.remove_prefix(1);
  if (format == BlobFormat::kJson) {
    return std::string(blob);
  }
  if (format != BlobFormat::kZstd) {
    return database_error("unknown event blob format " + std::to_string(int(format)));
  }
  const unsigned long long size = ZSTD_getFrameContentSize(blob.data(), blob.size());
  if (size == ZSTD_CONTENTSIZE_ERROR || size == ZSTD_CONTENTSIZE_UNKNOWN ||
      size > kMaxUnpackedBytes) {
    return database_error("corrupt compressed event blob");
  }
  std::string out(static_cast<std::size_t>(size), '\0');
  const std::size_t n = ZSTD_decompress(out.data(), out.size(), blob.data(), blob.size());
  if (ZSTD_isError(n) || n != out.size()) {
    return database_error("corrupt compressed event blob");
  }
  return out;
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
