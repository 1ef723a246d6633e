#include "storage/segment_codec.h"

#include <zstd.h>

#include <algorithm>

#include "storage/event_codec.h"

namespace ktrail::storage {
namespace {

constexpr std::uint8_t kColumnsVersion = 1;
constexpr std::uint8_t kFilterVersion = 1;
constexpr unsigned long long kMaxColumnBytes = 1ULL << 30;
constexpr std::size_t kBloomBitsPerName = 10;

void put_varint(std::uint64_t v, std::string* out) {
  while (v >= 0x80) {
    out->push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out->push_back(static_cast<char>(v));
}

// Signed values as zigzag varints (small magnitudes of either sign stay short).
void put_signed(std::int64_t v, std::string* out) {
  put_varint((static_cast<std::uint64_t>(v) << 1) ^ static_cast<std::uint64_t>(v >> 63), out);
}

class Reader {
 public:
  explicit Reader(std::string_view data) : data_(data) {}
  bool varint(std::uint64_t* v) {
    *v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (at_ >= data_.size()) {
        return false;
      }
      const auto b = static_cast<unsigned char>(data_[at_++]);
      *v |= std::uint64_t(b & 0x7f) << shift;
      if ((b & 0x80) == 0) {
        return true;
      }
    }
    return false;
  }
  bool signed_varint(std::int64_t* v) {
    std::uint64_t u = 0;
    if (!varint(&u)) {
      return false;
    }
    *v = static_cast<std::int64_t>((u >> 1) ^ (~(u & 1) + 1));
    return true;
  }
  bool bytes(std::size_t n, std::string_view* out) {
    if (data_.size() - at_ < n) {
      return false;
    }
    *out = data_.substr(at_, n);
    at_ += n;
    return true;
  }
  bool done() const { return at_ == data_.size(); }

 private:
  std::string_view data_;
  std::size_t at_ = 0;
};

int hex_value(char c) {
  if (c >= '0' && c <= '9') {
    return c - '0';
  }
  if (c >= 'a' && c <= 'f') {
    return c - 'a' + 10;
  }
  return -1;
}

constexpr std::array<std::size_t, 4> kDashes = {8, 13, 18, 23};

// The 16 bytes of a canonical lower-case UUID, or false.
bool uuid_bytes(std::string_view text, unsigned char out[16]) {
  if (text.size() != 36) {
    return false;
  }
  std::size_t n = 0;
  for (std::size_t i = 0; i < 36; ++i) {
    if (std::find(kDashes.begin(), kDashes.end(), i) != kDashes.end()) {
      if (text[i] != '-') {
        return false;
      }
      continue;
    }
    const int hi = hex_value(text[i]);
    const int lo = hex_value(text[i + 1]);
    if (hi < 0 || lo < 0) {
      return false;
    }
    out[n++] = static_cast<unsigned char>(hi << 4 | lo);
    ++i;
  }
  return n == 16;
}

std::string uuid_text(std::string_view bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string text;
  text.reserve(36);
  for (std::size_t i = 0; i < 16; ++i) {
    if (text.size() == 8 || text.size() == 13 || text.size() == 18 || text.size() == 23) {
      text.push_back('-');
    }
    const auto b = static_cast<unsigned char>(bytes[i]);
    text.push_back(kHex[b >> 4]);
    text.push_back(kHex[b & 15]);
  }
  return text;
}

std::string zstd(std::string_view plain, int level) {
  std::string out(ZSTD_compressBound(plain.size()), '\0');
  const std::size_t n = ZSTD_compress(out.data(), out.size(), plain.data(), plain.size(), level);
  // Compressing into a buffer of compressBound bytes cannot fail but for memory exhaustion.
  out.resize(ZSTD_isError(n) ? 0 : n);
  return out;
}

std::uint64_t mix(std::uint64_t x) {
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdULL;
  x ^= x >> 33;
  x *= 0xc4ceb9fe1a85ec53ULL;
  x ^= x >> 33;
  return x;
}

}  // namespace

void SegmentColumns::reserve(std::size_t n) {
  key.reserve(n);
  ts.reserve(n);
  received.reserve(n);
  audit_id.reserve(n);
  stage.reserve(n);
  level.reserve(n);
  level_received.reserve(n);
  code.reserve(n);
  for (auto& c : ids) {
    c.reserve(n);
  }
}

std::string encode_columns(const SegmentColumns& c, int zstd_level) {
  const std::size_t n = c.size();
  std::string plain;
  plain.reserve(n * 48);
  put_varint(n, &plain);
  std::int64_t prev = 0;
  for (std::size_t i = 0; i < n; ++i) {
    put_signed(c.key[i] - prev, &plain);
    prev = c.key[i];
  }
  for (std::size_t i = 0; i < n; ++i) {
    put_signed(c.ts[i] - (c.key[i] >> kSlotBits), &plain);
  }
  for (std::size_t i = 0; i < n; ++i) {
    put_signed(c.ts[i] - c.received[i], &plain);
  }
  // auditIDs: one kind byte per row (0: 16 UUID bytes follow in the UUID column, 1: text),
  // then the UUID bytes, then the texts.
  std::string kinds;
  std::string uuids;
  std::string texts;
  kinds.reserve(n);
  uuids.reserve(16 * n);
  for (std::size_t i = 0; i < n; ++i) {
    unsigned char bytes[16];
    if (uuid_bytes(c.audit_id[i], bytes)) {
      kinds.push_back('\0');
      uuids.append(reinterpret_cast<const char*>(bytes), 16);
    } else {
      kinds.push_back('\1');
      put_varint(c.audit_id[i].size(), &texts);
      texts += c.audit_id[i];
    }
  }
  plain += kinds;
  plain += uuids;
  plain += texts;
  for (std::size_t i = 0; i < n; ++i) {
    // stage (2 bits), level (2 bits), level as received (2 bits) in one byte.
    plain.push_back(static_cast<char>(c.stage[i] | c.level[i] << 2 | c.level_received[i] << 4));
  }
  for (std::size_t i = 0; i < n; ++i) {
    put_varint(static_cast<std::uint32_t>(c.code[i]), &plain);
  }
  for (const auto& column : c.ids) {
    for (std::size_t i = 0; i < n; ++i) {
      put_varint(static_cast<std::uint64_t>(column[i]), &plain);
    }
  }
  std::string out(1, static_cast<char>(kColumnsVersion));
  out += zstd(plain, zstd_level);
  return out;
}

Result<SegmentColumns> decode_columns(std::string_view blob) {
  auto corrupt = [](const char* what) {
    return database_error(std::string("corrupt segment columns: ") + what);
  };
  if (blob.empty() || static_cast<std::uint8_t>(blob[0]) != kColumnsVersion) {
    return corrupt("unknown layout");
  }
  blob.remove_prefix(1);
  const unsigned long long size = ZSTD_getFrameContentSize(blob.data(), blob.size());
  if (size == ZSTD_CONTENTSIZE_ERROR || size == ZSTD_CONTENTSIZE_UNKNOWN ||
      size > kMaxColumnBytes) {
    return corrupt("bad frame");
  }
  std::string plain(size, '\0');
  const std::size_t got = ZSTD_decompress(plain.data(), plain.size(), blob.data(), blob.size());
  if (ZSTD_isError(got) || got != plain.size()) {
    return corrupt("bad frame");
  }
  Reader r(plain);
  std::uint64_t n = 0;
  if (!r.varint(&n) || n > plain.size()) {
    return corrupt("row count");
  }
  SegmentColumns c;
  c.reserve(n);
  std::int64_t prev = 0;
  for (std::uint64_t i = 0; i < n; ++i) {
    std::int64_t d = 0;
    if (!r.signed_varint(&d)) {
      return corrupt("keys");
    }
    prev += d;
    c.key.push_back(prev);
  }
  for (std::uint64_t i = 0; i < n; ++i) {
    std::int64_t d = 0;
    if (!r.signed_varint(&d)) {
      return corrupt("times");
    }
    c.ts.push_back((c.key[i] >> kSlotBits) + d);
  }
  for (std::uint64_t i = 0; i < n; ++i) {
    std::int64_t d = 0;
    if (!r.signed_varint(&d)) {
      return corrupt("received times");
    }
    c.received.push_back(c.ts[i] - d);
  }
  std::string_view kinds;
  if (!r.bytes(n, &kinds)) {
    return corrupt("auditID kinds");
  }
  const auto uuid_rows = static_cast<std::size_t>(std::count(kinds.begin(), kinds.end(), '\0'));
  std::string_view uuids;
  if (!r.bytes(16 * uuid_rows, &uuids)) {
    return corrupt("auditIDs");
  }
  std::size_t next_uuid = 0;
  for (std::uint64_t i = 0; i < n; ++i) {
    if (kinds[i] == '\0') {
      c.audit_id.push_back(uuid_text(uuids.substr(16 * next_uuid++, 16)));
      continue;
    }
    std::uint64_t len = 0;
    std::string_view text;
    if (kinds[i] != '\1' || !r.varint(&len) || !r.bytes(len, &text)) {
      return corrupt("auditID text");
    }
    c.audit_id.emplace_back(text);
  }
  std::string_view packed;
  if (!r.bytes(n, &packed)) {
    return corrupt("stages");
  }
  for (std::uint64_t i = 0; i < n; ++i) {
    const auto b = static_cast<std::uint8_t>(packed[i]);
    c.stage.push_back(b & 3);
    c.level.push_back((b >> 2) & 3);
    c.level_received.push_back((b >> 4) & 3);
  }
  for (std::uint64_t i = 0; i < n; ++i) {
    std::uint64_t v = 0;
    if (!r.varint(&v)) {
      return corrupt("codes");
    }
    c.code.push_back(static_cast<std::int32_t>(static_cast<std::uint32_t>(v)));
  }
  for (auto& column : c.ids) {
    for (std::uint64_t i = 0; i < n; ++i) {
      std::uint64_t v = 0;
      if (!r.varint(&v)) {
        return corrupt("dictionary ids");
      }
      column.push_back(static_cast<std::int64_t>(v));
    }
  }
  if (!r.done()) {
    return corrupt("trailing bytes");
  }
  return c;
}

namespace {

// A cursor over decompressed column bytes for decode_selected_columns(): runs of n varints are
// either converted or skipped (a skip only counts the bytes that end a varint).
class ColumnCursor {
 public:
  explicit ColumnCursor(std::string_view data)
      : p_(reinterpret_cast<const unsigned char*>(data.data())), end_(p_ + data.size()) {}

  bool skip_varints(std::uint64_t n) {
    while (n > 0) {
      if (p_ == end_) {
        return false;
      }
      n -= (*p_++ & 0x80) == 0;
    }
    return true;
  }
  template <typename Out>
  bool varints(std::uint64_t n, Out* out) {
    out->resize(n);
    auto* o = out->data();
    for (std::uint64_t i = 0; i < n; ++i) {
      std::uint64_t v = 0;
      for (int shift = 0;; shift += 7) {
        if (p_ == end_ || shift >= 64) {
          return false;
        }
        const unsigned char b = *p_++;
        v |= std::uint64_t(b & 0x7f) << shift;
        if ((b & 0x80) == 0) {
          break;
        }
      }
      o[i] = static_cast<typename Out::value_type>(v);
    }
    return true;
  }
  bool bytes(std::uint64_t n, std::string_view* out) {
    if (static_cast<std::uint64_t>(end_ - p_) < n) {
      return false;
    }
    *out = std::string_view(reinterpret_cast<const char*>(p_), n);
    p_ += n;
    return true;
  }
  bool done() const { return p_ == end_; }

 private:
  const unsigned char* p_;
  const unsigned char* end_;
};

std::int64_t unzigzag(std::uint64_t u) { return static_cast<std::int64_t>((u >> 1) ^ (~(u & 1) + 1)); }

}  // namespace

Result<std::size_t> decode_selected_columns(std::string_view blob, const ColumnSelection& wanted,
                                            SegmentColumns* out, std::string* plain) {
  auto corrupt = [](const char* what) {
    return database_error(std::string("corrupt segment columns: ") + what);
  };
  if (blob.empty() || static_cast<std::uint8_t>(blob[0]) != kColumnsVersion) {
    return corrupt("unknown layout");
  }
  blob.remove_prefix(1);
  const unsigned long long size = ZSTD_getFrameContentSize(blob.data(), blob.size());
  if (size == ZSTD_CONTENTSIZE_ERROR || size == ZSTD_CONTENTSIZE_UNKNOWN ||
      size > kMaxColumnBytes) {
    return corrupt("bad frame");
  }
  plain->resize(size);
  const std::size_t got = ZSTD_decompress(plain->data(), plain->size(), blob.data(), blob.size());
  if (ZSTD_isError(got) || got != plain->size()) {
    return corrupt("bad frame");
  }
  ColumnCursor r(*plain);
  std::vector<std::uint64_t> n_only;
  if (!r.varints(1, &n_only) || n_only[0] > plain->size()) {
    return corrupt("row count");
  }
  const std::uint64_t n = n_only[0];
  out->key.clear();
  out->ts.clear();
  out->received.clear();
  out->audit_id.clear();
  out->stage.clear();
  out->level.clear();
  out->level_received.clear();
  out->code.clear();
  for (auto& c : out->ids) {
    c.clear();
  }
  if (wanted.ts) {
    if (!r.varints(n, &out->key) || !r.varints(n, &out->ts)) {
      return corrupt("keys or times");
    }
    std::int64_t prev = 0;
    for (std::uint64_t i = 0; i < n; ++i) {
      prev += unzigzag(static_cast<std::uint64_t>(out->key[i]));
      out->key[i] = prev;
      out->ts[i] = (prev >> kSlotBits) + unzigzag(static_cast<std::uint64_t>(out->ts[i]));
    }
  } else if (!r.skip_varints(2 * n)) {
    return corrupt("keys or times");
  }
  std::string_view kinds;
  if (!r.skip_varints(n) || !r.bytes(n, &kinds)) {
    return corrupt("auditID kinds");
  }
  const auto uuid_rows = static_cast<std::size_t>(std::count(kinds.begin(), kinds.end(), '\0'));
  std::string_view skipped;
  if (!r.bytes(16 * uuid_rows, &skipped)) {
    return corrupt("auditIDs");
  }
  for (std::uint64_t i = 0; i < n; ++i) {
    std::vector<std::uint64_t> len;
    if (kinds[i] != '\0' && (kinds[i] != '\1' || !r.varints(1, &len) || !r.bytes(len[0], &skipped))) {
      return corrupt("auditID text");
    }
  }
  std::string_view packed;
  if (!r.bytes(n, &packed)) {
    return corrupt("stages");
  }
  if (wanted.stage_level) {
    out->stage.resize(n);
    out->level.resize(n);
    out->level_received.resize(n);
    for (std::uint64_t i = 0; i < n; ++i) {
      const auto b = static_cast<std::uint8_t>(packed[i]);
      out->stage[i] = b & 3;
      out->level[i] = (b >> 2) & 3;
      out->level_received[i] = (b >> 4) & 3;
    }
  }
  if (wanted.code) {
    std::vector<std::uint64_t> codes;
    if (!r.varints(n, &codes)) {
      return corrupt("codes");
    }
    out->code.resize(n);
    for (std::uint64_t i = 0; i < n; ++i) {
      out->code[i] = static_cast<std::int32_t>(static_cast<std::uint32_t>(codes[i]));
    }
  } else if (!r.skip_varints(n)) {
    return corrupt("codes");
  }
  for (std::size_t k = 0; k < kIdColumns; ++k) {
    if (wanted.ids[k] ? !r.varints(n, &out->ids[k]) : !r.skip_varints(n)) {
      return corrupt("dictionary ids");
    }
  }
  if (!r.done()) {
    return corrupt("trailing bytes");
  }
  return static_cast<std::size_t>(n);
}

SegmentFilter SegmentFilter::build(const SegmentColumns& c) {
  SegmentFilter f;
  for (std::size_t k = 0; k < kFilteredColumns.size(); ++k) {
    auto& d = f.distinct_[k];
    d = c.ids[kFilteredColumns[k]];
    std::sort(d.begin(), d.end());
    d.erase(std::unique(d.begin(), d.end()), d.end());
  }
  std::vector<std::int64_t> names = c.ids[kName];
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());
  const std::size_t bits = std::max<std::size_t>(64, names.size() * kBloomBitsPerName);
  f.name_bloom_.assign((bits + 63) / 64, 0);
  const std::size_t m = f.name_bloom_.size() * 64;
  for (const std::int64_t id : names) {
    const std::uint64_t h = mix(static_cast<std::uint64_t>(id));
    const std::uint64_t h2 = mix(h) | 1;
    for (std::uint64_t j = 0; j < 7; ++j) {
      const std::uint64_t bit = (h + j * h2) % m;
      f.name_bloom_[bit / 64] |= std::uint64_t{1} << (bit % 64);
    }
  }
  return f;
}

bool SegmentFilter::may_hold(SegmentIdColumn column, std::int64_t id) const {
  if (column == kName) {
    const std::size_t m = name_bloom_.size() * 64;
    if (m == 0) {
      return true;
    }
    const std::uint64_t h = mix(static_cast<std::uint64_t>(id));
    const std::uint64_t h2 = mix(h) | 1;
    for (std::uint64_t j = 0; j < 7; ++j) {
      const std::uint64_t bit = (h + j * h2) % m;
      if ((name_bloom_[bit / 64] & (std::uint64_t{1} << (bit % 64))) == 0) {
        return false;
      }
    }
    return true;
  }
  for (std::size_t k = 0; k < kFilteredColumns.size(); ++k) {
    if (kFilteredColumns[k] == column) {
      return std::binary_search(distinct_[k].begin(), distinct_[k].end(), id);
    }
  }
  return true;
}

std::string SegmentFilter::encode() const {
  std::string out(1, static_cast<char>(kFilterVersion));
  for (const auto& d : distinct_) {
    put_varint(d.size(), &out);
    std::int64_t prev = 0;
    for (const std::int64_t id : d) {
      put_varint(static_cast<std::uint64_t>(id - prev), &out);
      prev = id;
    }
  }
  put_varint(name_bloom_.size(), &out);
  for (const std::uint64_t w : name_bloom_) {
    for (int i = 0; i < 8; ++i) {
      out.push_back(static_cast<char>(w >> (8 * i)));
    }
  }
  return out;
}

Result<SegmentFilter> SegmentFilter::decode(std::string_view blob) {
  auto corrupt = [] { return database_error("corrupt segment filter"); };
  if (blob.empty() || static_cast<std::uint8_t>(blob[0]) != kFilterVersion) {
    return corrupt();
  }
  Reader r(blob.substr(1));
  SegmentFilter f;
  for (auto& d : f.distinct_) {
    std::uint64_t n = 0;
    if (!r.varint(&n) || n > blob.size()) {
      return corrupt();
    }
    std::int64_t prev = 0;
    for (std::uint64_t i = 0; i < n; ++i) {
      std::uint64_t delta = 0;
      if (!r.varint(&delta)) {
        return corrupt();
      }
      prev += static_cast<std::int64_t>(delta);
      d.push_back(prev);
    }
  }
  std::uint64_t words = 0;
  std::string_view bits;
  if (!r.varint(&words) || words > blob.size() || !r.bytes(8 * words, &bits) || !r.done()) {
    return corrupt();
  }
  for (std::uint64_t w = 0; w < words; ++w) {
    std::uint64_t v = 0;
    for (int i = 0; i < 8; ++i) {
      v |= std::uint64_t(static_cast<unsigned char>(bits[8 * w + i])) << (8 * i);
    }
    f.name_bloom_.push_back(v);
  }
  return f;
}

std::vector<std::string> encode_frames(const std::vector<std::string_view>& events,
                                       int zstd_level) {
  std::vector<std::string> frames;
  std::string plain;
  for (std::size_t begin = 0; begin < events.size(); begin += kFrameEvents) {
    const std::size_t end = std::min(events.size(), begin + kFrameEvents);
    const std::vector<std::string_view> part(events.begin() + static_cast<std::ptrdiff_t>(begin),
                                             events.begin() + static_cast<std::ptrdiff_t>(end));
    plain.clear();
    append_plain_layout(part, &plain);
    frames.push_back(zstd(plain, zstd_level));
  }
  return frames;
}

}  // namespace ktrail::storage
