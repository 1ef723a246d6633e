#include "storage/segment_codec.h"

#include <zstd.h>

#include <algorithm>
#include <memory>

#include "storage/event_codec.h"

namespace ktrail::storage {
namespace {

// Layout 1: the plain column bytes (below) in one zstd frame. Layout 2: the same bytes cut into
// kSections sections, each its own zstd frame with its content checksum, so that a reader of a
// few columns decompresses only those (decode_selected_columns).
// Layout 3: layout 2 and one more section, the rows' clusters (core/cluster.h); layouts 1 and 2,
// written before clusters, read as cluster 0 ("default").
constexpr std::uint8_t kColumnsLayout1 = 1;
constexpr std::uint8_t kColumnsLayout2 = 2;
constexpr std::uint8_t kColumnsLayout3 = 3;
// The sections of the plain bytes after the row count: times (keys, stageTimestamps, received),
// auditIDs, stage/level byte, codes, then one per dictionary-id column.
constexpr std::size_t kTimeSection = 0;
constexpr std::size_t kAuditIdSection = 1;
constexpr std::size_t kPackedSection = 2;
constexpr std::size_t kCodeSection = 3;
constexpr std::size_t kFirstIdSection = 4;
constexpr std::size_t kSections = kFirstIdSection + kIdColumns;  // in layout 2
constexpr std::size_t kClusterSection = kSections;                // layout 3 only
constexpr std::size_t kAllSections = kSections + 1;               // in layout 3
// The order of the sections' frames in a layout 2 or 3 blob: the small columns first, the times
// and auditIDs (most of the bytes) last, so that a reader of a few columns reads a prefix of the
// blob. Layout 2 has the same order without the clusters.
constexpr std::array<std::size_t, kAllSections> kFrameOrder = {
    kPackedSection,      kCodeSection,        kFirstIdSection,     kFirstIdSection + 1,
    kFirstIdSection + 2, kFirstIdSection + 3, kFirstIdSection + 4, kFirstIdSection + 5,
    kFirstIdSection + 6, kFirstIdSection + 7, kFirstIdSection + 8, kFirstIdSection + 9,
    kClusterSection,     kTimeSection,        kAuditIdSection};

// The sections a sectioned layout has: kSections (2) or kAllSections (3).
std::size_t sections_in(std::uint8_t layout) {
  return layout == kColumnsLayout3 ? kAllSections : kSections;
}
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

// The same with zstd's content checksum in the frame, which decompression verifies: a changed
// byte anywhere in a section is an error, also where it would still parse (an auditID's bytes).
std::string zstd_with_checksum(std::string_view plain, int level) {
  std::unique_ptr<ZSTD_CCtx, std::size_t (*)(ZSTD_CCtx*)> ctx(ZSTD_createCCtx(), ZSTD_freeCCtx);
  std::string out(ZSTD_compressBound(plain.size()), '\0');
  if (ctx == nullptr ||
      ZSTD_isError(ZSTD_CCtx_setParameter(ctx.get(), ZSTD_c_compressionLevel, level)) ||
      ZSTD_isError(ZSTD_CCtx_setParameter(ctx.get(), ZSTD_c_checksumFlag, 1))) {
    return {};
  }
  const std::size_t n =
      ZSTD_compress2(ctx.get(), out.data(), out.size(), plain.data(), plain.size());
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
  cluster.reserve(n);
}

std::string encode_columns(const SegmentColumns& c, int zstd_level, int layout) {
  const std::size_t n = c.size();
  std::string plain;
  plain.reserve(n * 48);
  put_varint(n, &plain);
  // Where each section of `plain` ends.
  std::array<std::size_t, kAllSections + 1> bounds{};
  bounds[0] = plain.size();
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
  bounds[kTimeSection + 1] = plain.size();
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
  bounds[kAuditIdSection + 1] = plain.size();
  for (std::size_t i = 0; i < n; ++i) {
    // stage (2 bits), level (2 bits), level as received (2 bits) in one byte.
    plain.push_back(static_cast<char>(c.stage[i] | c.level[i] << 2 | c.level_received[i] << 4));
  }
  bounds[kPackedSection + 1] = plain.size();
  for (std::size_t i = 0; i < n; ++i) {
    put_varint(static_cast<std::uint32_t>(c.code[i]), &plain);
  }
  bounds[kCodeSection + 1] = plain.size();
  for (std::size_t k = 0; k < kIdColumns; ++k) {
    for (std::size_t i = 0; i < n; ++i) {
      put_varint(static_cast<std::uint64_t>(c.ids[k][i]), &plain);
    }
    bounds[kFirstIdSection + k + 1] = plain.size();
  }
  if (layout == 1) {
    std::string out(1, static_cast<char>(kColumnsLayout1));
    out += zstd(plain, zstd_level);
    return out;
  }
  const auto sectioned = static_cast<std::uint8_t>(layout == 2 ? kColumnsLayout2 : kColumnsLayout3);
  const std::size_t sections = sections_in(sectioned);
  if (sectioned == kColumnsLayout3) {
    for (std::size_t i = 0; i < n; ++i) {
      put_varint(static_cast<std::uint64_t>(i < c.cluster.size() ? c.cluster[i] : 0), &plain);
    }
    bounds[kClusterSection + 1] = plain.size();
  }
  // Layouts 2 and 3: the row count, then each section's plain and compressed sizes (in section
  // order), then the frames (in kFrameOrder).
  std::string out(1, static_cast<char>(sectioned));
  put_varint(n, &out);
  std::array<std::string, kAllSections> frames;
  for (std::size_t k = 0; k < sections; ++k) {
    frames[k] = zstd_with_checksum(
        std::string_view(plain).substr(bounds[k], bounds[k + 1] - bounds[k]), zstd_level);
    put_varint(bounds[k + 1] - bounds[k], &out);
    put_varint(frames[k].size(), &out);
  }
  for (const std::size_t k : kFrameOrder) {
    if (k < sections) {
      out += frames[k];
    }
  }
  return out;
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
  const char* position() const { return reinterpret_cast<const char*>(p_); }

 private:
  const unsigned char* p_;
  const unsigned char* end_;
};

std::int64_t unzigzag(std::uint64_t u) {
  return static_cast<std::int64_t>((u >> 1) ^ (~(u & 1) + 1));
}

Status corrupt(const char* what) {
  return database_error(std::string("corrupt segment columns: ") + what);
}

// The plain bytes of a column blob's sections: for layout 1 the one frame is decompressed whole
// and cut at the sections' ends (found by skipping through them); for layout 2 only the sections
// asked for are decompressed (the others stay empty views).
struct PlainSections {
  std::uint64_t rows = 0;
  bool has_clusters = false;  // layout 3
  std::array<std::string_view, kAllSections> part;
};

bool decompress(std::string_view frame, char* out, std::size_t size) {
  const unsigned long long content = ZSTD_getFrameContentSize(frame.data(), frame.size());
  if (content != size) {
    return false;
  }
  const std::size_t got = ZSTD_decompress(out, size, frame.data(), frame.size());
  return !ZSTD_isError(got) && got == size;
}

// `blob` may be a prefix of a blob of `whole_size` bytes, long enough for the sections wanted
// (layout 2 only; layout 1 needs the whole).
Status plain_sections(std::string_view blob, std::size_t whole_size,
                      const std::array<bool, kAllSections>& wanted, std::string* buffer,
                      PlainSections* out) {
  if (blob.size() > whole_size) {
    return corrupt("size");
  }
  if (blob.empty()) {
    return corrupt("unknown layout");
  }
  const auto layout = static_cast<std::uint8_t>(blob[0]);
  blob.remove_prefix(1);
  if (layout == kColumnsLayout1) {
    if (blob.size() + 1 != whole_size) {
      return corrupt("truncated");
    }
    const unsigned long long size = ZSTD_getFrameContentSize(blob.data(), blob.size());
    if (size == ZSTD_CONTENTSIZE_ERROR || size == ZSTD_CONTENTSIZE_UNKNOWN ||
        size > kMaxColumnBytes) {
      return corrupt("bad frame");
    }
    buffer->resize(size);
    if (!decompress(blob, buffer->data(), buffer->size())) {
      return corrupt("bad frame");
    }
    ColumnCursor r(*buffer);
    std::vector<std::uint64_t> n;
    if (!r.varints(1, &n) || n[0] > buffer->size()) {
      return corrupt("row count");
    }
    out->rows = n[0];
    const std::uint64_t rows = n[0];
    auto cut = [&](std::size_t k, auto&& skip) -> bool {
      const char* begin = r.position();
      if (!skip()) {
        return false;
      }
      out->part[k] = std::string_view(begin, static_cast<std::size_t>(r.position() - begin));
      return true;
    };
    std::string_view kinds;
    std::string_view skipped;
    if (!cut(kTimeSection, [&] { return r.skip_varints(3 * rows); })) {
      return corrupt("keys or times");
    }
    if (!cut(kAuditIdSection, [&] {
          if (!r.bytes(rows, &kinds)) {
            return false;
          }
          const auto uuid_rows = static_cast<std::uint64_t>(
              std::count(kinds.begin(), kinds.end(), '\0'));
          if (!r.bytes(16 * uuid_rows, &skipped)) {
            return false;
          }
          for (const char kind : kinds) {
            std::vector<std::uint64_t> len;
            if (kind != '\0' && (kind != '\1' || !r.varints(1, &len) || !r.bytes(len[0], &skipped))) {
              return false;
            }
          }
          return true;
        })) {
      return corrupt("auditIDs");
    }
    if (!cut(kPackedSection, [&] { return r.bytes(rows, &skipped); })) {
      return corrupt("stages");
    }
    if (!cut(kCodeSection, [&] { return r.skip_varints(rows); })) {
      return corrupt("codes");
    }
    for (std::size_t k = kFirstIdSection; k < kSections; ++k) {
      if (!cut(k, [&] { return r.skip_varints(rows); })) {
        return corrupt("dictionary ids");
      }
    }
    if (!r.done()) {
      return corrupt("trailing bytes");
    }
    return Status::ok();
  }
  if (layout != kColumnsLayout2 && layout != kColumnsLayout3) {
    return corrupt("unknown layout");
  }
  const std::size_t sections = sections_in(layout);
  out->has_clusters = layout == kColumnsLayout3;
  // The header: rows, then (plain size, frame size) per section; the frames follow in
  // kFrameOrder.
  ColumnCursor r(blob);
  std::vector<std::uint64_t> header;
  if (!r.varints(1 + 2 * sections, &header)) {
    return corrupt("header");
  }
  out->rows = header[0];
  const auto header_size = static_cast<std::size_t>(r.position() - blob.data());
  const std::string_view rest = blob.substr(header_size);  // the frames we have
  const std::uint64_t frames_size = whole_size - 1 - header_size;  // the frames there are
  std::array<std::uint64_t, kAllSections> offset{};
  std::uint64_t frames_total = 0;
  std::uint64_t plain_wanted = 0;
  for (const std::size_t k : kFrameOrder) {
    if (k >= sections) {
      continue;
    }
    const std::uint64_t plain = header[1 + 2 * k];
    const std::uint64_t frame = header[2 + 2 * k];
    if (plain > kMaxColumnBytes || frame > frames_size || frames_total > frames_size - frame) {
      return corrupt("section sizes");
    }
    offset[k] = frames_total;
    frames_total += frame;
    if (wanted[k]) {
      if (frames_total > rest.size()) {
        return corrupt("truncated");
      }
      plain_wanted += plain;
    }
  }
  if (frames_total != frames_size || plain_wanted > kMaxColumnBytes) {
    return corrupt("section sizes");
  }
  buffer->resize(plain_wanted);
  std::size_t at = 0;
  for (std::size_t k = 0; k < sections; ++k) {
    if (!wanted[k]) {
      continue;
    }
    const auto plain = static_cast<std::size_t>(header[1 + 2 * k]);
    const auto frame = static_cast<std::size_t>(header[2 + 2 * k]);
    if (!decompress(rest.substr(offset[k], frame), buffer->data() + at, plain)) {
      return corrupt("bad frame");
    }
    out->part[k] = std::string_view(buffer->data() + at, plain);
    at += plain;
  }
  return Status::ok();
}

bool parse_time(std::string_view part, std::uint64_t n, bool with_received, SegmentColumns* c) {
  ColumnCursor r(part);
  if (!r.varints(n, &c->key) || !r.varints(n, &c->ts) ||
      !(with_received ? r.varints(n, &c->received) : r.skip_varints(n)) || !r.done()) {
    return false;
  }
  std::int64_t prev = 0;
  for (std::uint64_t i = 0; i < n; ++i) {
    prev += unzigzag(static_cast<std::uint64_t>(c->key[i]));
    c->key[i] = prev;
    c->ts[i] = (prev >> kSlotBits) + unzigzag(static_cast<std::uint64_t>(c->ts[i]));
    if (with_received) {
      c->received[i] = c->ts[i] - unzigzag(static_cast<std::uint64_t>(c->received[i]));
    }
  }
  return true;
}

bool parse_audit_ids(std::string_view part, std::uint64_t n, SegmentColumns* c) {
  ColumnCursor r(part);
  std::string_view kinds;
  if (!r.bytes(n, &kinds)) {
    return false;
  }
  const auto uuid_rows = static_cast<std::uint64_t>(std::count(kinds.begin(), kinds.end(), '\0'));
  std::string_view uuids;
  if (!r.bytes(16 * uuid_rows, &uuids)) {
    return false;
  }
  c->audit_id.clear();
  c->audit_id.reserve(n);
  std::size_t next_uuid = 0;
  for (std::uint64_t i = 0; i < n; ++i) {
    if (kinds[i] == '\0') {
      c->audit_id.push_back(uuid_text(uuids.substr(16 * next_uuid++, 16)));
      continue;
    }
    std::vector<std::uint64_t> len;
    std::string_view text;
    if (kinds[i] != '\1' || !r.varints(1, &len) || !r.bytes(len[0], &text)) {
      return false;
    }
    c->audit_id.emplace_back(text);
  }
  return r.done();
}

bool parse_packed(std::string_view part, std::uint64_t n, SegmentColumns* c) {
  if (part.size() != n) {
    return false;
  }
  c->stage.resize(n);
  c->level.resize(n);
  c->level_received.resize(n);
  for (std::uint64_t i = 0; i < n; ++i) {
    const auto b = static_cast<std::uint8_t>(part[i]);
    c->stage[i] = b & 3;
    c->level[i] = (b >> 2) & 3;
    c->level_received[i] = (b >> 4) & 3;
  }
  return true;
}

bool parse_codes(std::string_view part, std::uint64_t n, SegmentColumns* c) {
  ColumnCursor r(part);
  std::vector<std::uint64_t> codes;
  if (!r.varints(n, &codes) || !r.done()) {
    return false;
  }
  c->code.resize(n);
  for (std::uint64_t i = 0; i < n; ++i) {
    c->code[i] = static_cast<std::int32_t>(static_cast<std::uint32_t>(codes[i]));
  }
  return true;
}

bool parse_ids(std::string_view part, std::uint64_t n, std::vector<std::int64_t>* out) {
  ColumnCursor r(part);
  return r.varints(n, out) && r.done();
}

void clear_columns(SegmentColumns* c) {
  c->key.clear();
  c->ts.clear();
  c->received.clear();
  c->audit_id.clear();
  c->stage.clear();
  c->level.clear();
  c->level_received.clear();
  c->code.clear();
  for (auto& ids : c->ids) {
    ids.clear();
  }
  c->cluster.clear();
}

// Parses the sections of `wanted` into `c`.
Status parse_sections(const PlainSections& p, const std::array<bool, kAllSections>& wanted,
                      bool with_received, SegmentColumns* c) {
  const std::uint64_t n = p.rows;
  // Every row takes at least one byte in the packed section: a larger count is damage.
  if (wanted[kPackedSection] && p.part[kPackedSection].size() != n) {
    return corrupt("stages");
  }
  if (wanted[kTimeSection] && (n > p.part[kTimeSection].size() ||
                               !parse_time(p.part[kTimeSection], n, with_received, c))) {
    return corrupt("keys or times");
  }
  if (wanted[kAuditIdSection] && (n > p.part[kAuditIdSection].size() ||
                                  !parse_audit_ids(p.part[kAuditIdSection], n, c))) {
    return corrupt("auditIDs");
  }
  if (wanted[kPackedSection] && !parse_packed(p.part[kPackedSection], n, c)) {
    return corrupt("stages");
  }
  if (wanted[kCodeSection] &&
      (n > p.part[kCodeSection].size() || !parse_codes(p.part[kCodeSection], n, c))) {
    return corrupt("codes");
  }
  for (std::size_t k = 0; k < kIdColumns; ++k) {
    const std::size_t s = kFirstIdSection + k;
    if (wanted[s] && (n > p.part[s].size() || !parse_ids(p.part[s], n, &c->ids[k]))) {
      return corrupt("dictionary ids");
    }
  }
  if (wanted[kClusterSection]) {
    if (!p.has_clusters) {
      c->cluster.assign(n, 0);
    } else if (n > p.part[kClusterSection].size() ||
               !parse_ids(p.part[kClusterSection], n, &c->cluster)) {
      return corrupt("clusters");
    }
  }
  return Status::ok();
}

std::array<bool, kAllSections> sections_of(const ColumnSelection& wanted) {
  std::array<bool, kAllSections> sections{};
  sections[kClusterSection] = wanted.cluster;
  sections[kTimeSection] = wanted.ts;
  sections[kPackedSection] = wanted.stage_level;
  sections[kCodeSection] = wanted.code;
  for (std::size_t k = 0; k < kIdColumns; ++k) {
    sections[kFirstIdSection + k] = wanted.ids[k];
  }
  return sections;
}

}  // namespace

Result<SegmentColumns> decode_columns(std::string_view blob) {
  std::array<bool, kAllSections> all;
  all.fill(true);
  std::string buffer;
  PlainSections p;
  KTRAIL_RETURN_IF_ERROR(plain_sections(blob, blob.size(), all, &buffer, &p));
  SegmentColumns c;
  KTRAIL_RETURN_IF_ERROR(parse_sections(p, all, true, &c));
  return c;
}

Result<std::size_t> selected_columns_extent(std::string_view head, std::size_t whole_size,
                                            const ColumnSelection& wanted) {
  const auto layout = head.empty() ? 0 : static_cast<std::uint8_t>(head[0]);
  if (layout != kColumnsLayout2 && layout != kColumnsLayout3) {
    return whole_size;
  }
  const std::size_t count = sections_in(layout);
  ColumnCursor r(head.substr(1));
  std::vector<std::uint64_t> header;
  if (!r.varints(1 + 2 * count, &header)) {
    return head.size() < whole_size ? Status(corrupt("header longer than the head given"))
                                    : Status(corrupt("header"));
  }
  const auto sections = sections_of(wanted);
  std::uint64_t end = static_cast<std::uint64_t>(r.position() - head.data());
  std::uint64_t needed = end;
  for (const std::size_t k : kFrameOrder) {
    if (k >= count) {
      continue;
    }
    end += header[2 + 2 * k];
    if (end > whole_size) {
      return corrupt("section sizes");
    }
    if (sections[k]) {
      needed = end;
    }
  }
  return static_cast<std::size_t>(needed);
}

Result<std::size_t> decode_selected_columns(std::string_view blob, const ColumnSelection& wanted,
                                            SegmentColumns* out, std::string* plain) {
  return decode_selected_columns(blob, blob.size(), wanted, out, plain);
}

Result<std::size_t> decode_selected_columns(std::string_view prefix, std::size_t whole_size,
                                            const ColumnSelection& wanted, SegmentColumns* out,
                                            std::string* plain) {
  const auto sections = sections_of(wanted);
  PlainSections p;
  KTRAIL_RETURN_IF_ERROR(plain_sections(prefix, whole_size, sections, plain, &p));
  clear_columns(out);
  KTRAIL_RETURN_IF_ERROR(parse_sections(p, sections, false, out));
  return static_cast<std::size_t>(p.rows);
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
                                       int zstd_level, bool remainders) {
  std::vector<std::string> frames;
  std::string plain;
  for (std::size_t begin = 0; begin < events.size(); begin += kFrameEvents) {
    const std::size_t end = std::min(events.size(), begin + kFrameEvents);
    const std::vector<std::string_view> part(events.begin() + static_cast<std::ptrdiff_t>(begin),
                                             events.begin() + static_cast<std::ptrdiff_t>(end));
    plain.clear();
    if (!remainders) {
      append_plain_layout(part, &plain);
      frames.push_back(zstd(plain, zstd_level));
      continue;
    }
    put_varint(part.size(), &plain);
    for (const auto e : part) {
      put_varint(e.size(), &plain);
    }
    for (const auto e : part) {
      plain.append(e);
    }
    frames.push_back(std::string(1, kRemainderFrame) + zstd(plain, zstd_level));
  }
  return frames;
}

Status unpack_frame(std::string_view frame, UnpackedFrame* out) {
  out->events.clear();
  out->remainders = !frame.empty() && frame[0] == kRemainderFrame;
  auto plain = unpack_block(out->remainders ? frame.substr(1) : frame, BlockFormat::kZstd);
  if (!plain) {
    return plain.status();
  }
  out->plain = std::move(*plain);
  const std::string_view all = out->plain;
  if (!out->remainders) {
    if (all.size() < 4) {
      return database_error("truncated event frame");
    }
    const std::size_t count = static_cast<unsigned char>(all[0]) |
                              std::size_t{static_cast<unsigned char>(all[1])} << 8 |
                              std::size_t{static_cast<unsigned char>(all[2])} << 16 |
                              std::size_t{static_cast<unsigned char>(all[3])} << 24;
    if (count > kFrameEvents) {
      return database_error("an event frame holds more than " + std::to_string(kFrameEvents) +
                            " events");
    }
    for (std::size_t i = 0; i < count; ++i) {
      auto e = plain_block_event(all, i);
      if (!e) {
        return e.status();
      }
      out->events.push_back(*e);
    }
    return Status::ok();
  }
  auto corrupt = [] { return database_error("corrupt event frame"); };
  Reader r(all);
  std::uint64_t count = 0;
  if (!r.varint(&count) || count > kFrameEvents) {
    return corrupt();
  }
  std::vector<std::uint64_t> sizes(count);
  for (auto& n : sizes) {
    if (!r.varint(&n) || n > all.size()) {
      return corrupt();
    }
  }
  for (const std::uint64_t n : sizes) {
    std::string_view e;
    if (!r.bytes(n, &e)) {
      return corrupt();
    }
    out->events.push_back(e);
  }
  return r.done() ? Status::ok() : corrupt();
}

}  // namespace ktrail::storage
