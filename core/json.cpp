#include "core/json.h"

#include <rapidjson/error/en.h>
#include <rapidjson/memorystream.h>
#include <rapidjson/reader.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <cstdint>
#include <cstring>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

namespace ktrail::json {
namespace {

// Counts nesting while forwarding every event to the document's handler.
class DepthLimiter : public rapidjson::BaseReaderHandler<rapidjson::UTF8<>, DepthLimiter> {
 public:
  explicit DepthLimiter(rapidjson::Document* doc) : doc_(doc) {}
  bool Null() { return doc_->Null(); }
  bool Bool(bool b) { return doc_->Bool(b); }
  bool Int(int i) { return doc_->Int(i); }
  bool Uint(unsigned i) { return doc_->Uint(i); }
  bool Int64(int64_t i) { return doc_->Int64(i); }
  bool Uint64(uint64_t i) { return doc_->Uint64(i); }
  bool Double(double d) { return doc_->Double(d); }
  bool RawNumber(const char* s, rapidjson::SizeType n, bool copy) {
    return doc_->RawNumber(s, n, copy);
  }
  bool String(const char* s, rapidjson::SizeType n, bool copy) { return doc_->String(s, n, copy); }
  bool Key(const char* s, rapidjson::SizeType n, bool copy) { return doc_->Key(s, n, copy); }
  bool StartObject() { return ++depth_ <= kMaxDepth && doc_->StartObject(); }
  bool EndObject(rapidjson::SizeType n) {
    --depth_;
    return doc_->EndObject(n);
  }
  bool StartArray() { return ++depth_ <= kMaxDepth && doc_->StartArray(); }
  bool EndArray(rapidjson::SizeType n) {
    --depth_;
    return doc_->EndArray(n);
  }
  bool too_deep() const { return depth_ > kMaxDepth; }

 private:
  rapidjson::Document* doc_;
  unsigned depth_ = 0;
};

// The first '"' or '\\' in [p, end), or end; eight bytes at a time.
const char* next_quote_or_backslash(const char* p, const char* end) {
  constexpr std::uint64_t kOnes = 0x0101010101010101ULL;
  constexpr std::uint64_t kHigh = 0x8080808080808080ULL;
  constexpr std::uint64_t kQuote = kOnes * '"';
  constexpr std::uint64_t kBackslash = kOnes * '\\';
  while (end - p >= 8) {
    std::uint64_t word;
    std::memcpy(&word, p, 8);
    const std::uint64_t q = word ^ kQuote;
    const std::uint64_t b = word ^ kBackslash;
    const std::uint64_t hit = ((q - kOnes) & ~q & kHigh) | ((b - kOnes) & ~b & kHigh);
    if (hit != 0) {
      return p + (__builtin_ctzll(hit) >> 3);
    }
    p += 8;
  }
  while (p < end && *p != '"' && *p != '\\') {
    ++p;
  }
  return p;
}

// Whether the document spells the integer as it is written: not -0 (held as 0) and within the
// 64-bit range (beyond it, held as a double). `digits` holds no sign and no leading zero.
bool integer_kept_verbatim(bool negative, std::string_view digits) {
  if (negative && digits == "0") {
    return false;
  }
  const std::string_view limit = negative ? "9223372036854775808" : "18446744073709551615";
  return digits.size() < limit.size() || (digits.size() == limit.size() && digits <= limit);
}

}  // namespace

// Whether `text` is well-formed UTF-8 (Unicode Table 3-7: no overlong forms, no surrogates,
// nothing past U+10FFFF). Runs of ASCII are skipped 8 bytes at a time, so checking the whole
// text first and parsing without the parser's own byte-by-byte check costs a fraction of it.
bool valid_utf8(std::string_view text) {
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  const auto* const end = p + text.size();
  auto continuation = [](unsigned char c) { return (c & 0xC0) == 0x80; };
  while (p < end) {
    if (end - p >= 8) {
      std::uint64_t word;
      std::memcpy(&word, p, 8);
      if ((word & 0x8080808080808080ULL) == 0) {
        p += 8;
        continue;
      }
    }
    const unsigned char c = *p;
    if (c < 0x80) {
      ++p;
      continue;
    }
    std::ptrdiff_t need = 0;
    unsigned char lo = 0x80;
    unsigned char hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) {
      need = 1;
    } else if (c >= 0xE0 && c <= 0xEF) {
      need = 2;
      lo = c == 0xE0 ? 0xA0 : 0x80;
      hi = c == 0xED ? 0x9F : 0xBF;
    } else if (c >= 0xF0 && c <= 0xF4) {
      need = 3;
      lo = c == 0xF0 ? 0x90 : 0x80;
      hi = c == 0xF4 ? 0x8F : 0xBF;
    } else {
      return false;
    }
    if (end - p <= need || p[1] < lo || p[1] > hi) {
      return false;
    }
    for (std::ptrdiff_t i = 2; i <= need; ++i) {
      if (!continuation(p[i])) {
        return false;
      }
    }
    p += need + 1;
  }
  return true;
}

namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// The code unit of a \uXXXX escape at `p` (which points at the backslash), or -1.
int escape_unit(const char* p, const char* end) {
  if (end - p < 6 || p[0] != '\\' || p[1] != 'u') {
    return -1;
  }
  int unit = 0;
  for (int i = 2; i < 6; ++i) {
    const int h = hex_value(p[i]);
    if (h < 0) {
      return -1;
    }
    unit = unit << 4 | h;
  }
  return unit;
}

}  // namespace

TextCheck check_text(std::string_view text) {
  const char* const begin = text.data();
  const char* p = begin;
  const char* const end = p + text.size();
  constexpr std::uint64_t kOnes = 0x0101010101010101ULL;
  constexpr std::uint64_t kHigh = 0x8080808080808080ULL;
  constexpr std::uint64_t kBackslash = kOnes * '\\';
  auto at = [&](TextCheck::Kind kind, const char* where) {
    return TextCheck{kind, static_cast<std::size_t>(where - begin)};
  };
  while (p < end) {
#ifdef __SSE2__
    // Sixteen plain bytes at a time (unaligned loads, never past the end): ASCII, not below
    // 0x20, not a backslash.
    if (end - p >= 16) {
      const __m128i s = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
      const __m128i low = _mm_cmpeq_epi8(_mm_max_epu8(s, _mm_set1_epi8(0x1F)), _mm_set1_epi8(0x1F));
      const __m128i bs = _mm_cmpeq_epi8(s, _mm_set1_epi8('\\'));
      if (_mm_movemask_epi8(_mm_or_si128(s, _mm_or_si128(low, bs))) == 0) {
        p += 16;
        continue;
      }
    }
#endif
    if (end - p >= 8) {
      // Eight plain bytes at a time: ASCII, not below 0x20, not a backslash.
      std::uint64_t word;
      std::memcpy(&word, p, 8);
      const std::uint64_t b = word ^ kBackslash;
      const std::uint64_t special =
          (word | ((word - kOnes * 0x20) & ~word) | ((b - kOnes) & ~b)) & kHigh;
      if (special == 0) {
        p += 8;
        continue;
      }
    }
    const auto c = static_cast<unsigned char>(*p);
    if (c < 0x20) {
      if (c != '\t' && c != '\n' && c != '\r') {
        return at(TextCheck::kControlCharacter, p);
      }
      ++p;
      continue;
    }
    if (c == '\\') {
      // Outside strings a backslash is a syntax error the parser reports; inside, escapes are
      // read pair by pair from the first, so an escaped backslash is never taken for one.
      if (p + 1 < end && p[1] == 'u') {
        const int unit = escape_unit(p, end);
        if (unit >= 0xDC00 && unit <= 0xDFFF) {
          return at(TextCheck::kLoneSurrogate, p);
        }
        if (unit >= 0xD800 && unit <= 0xDBFF) {
          const int low = escape_unit(p + 6, end);
          if (low < 0xDC00 || low > 0xDFFF) {
            return at(TextCheck::kLoneSurrogate, p);
          }
          p += 12;
          continue;
        }
        p += unit < 0 ? 2 : 6;
        continue;
      }
      p += 2;
      continue;
    }
    if (c < 0x80) {
      ++p;
      continue;
    }
    // A multi-byte sequence (Unicode Table 3-7).
    std::ptrdiff_t need = 0;
    unsigned char lo = 0x80;
    unsigned char hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) {
      need = 1;
    } else if (c >= 0xE0 && c <= 0xEF) {
      need = 2;
      lo = c == 0xE0 ? 0xA0 : 0x80;
      hi = c == 0xED ? 0x9F : 0xBF;
    } else if (c >= 0xF0 && c <= 0xF4) {
      need = 3;
      lo = c == 0xF0 ? 0x90 : 0x80;
      hi = c == 0xF4 ? 0x8F : 0xBF;
    } else {
      return at(TextCheck::kBadUtf8, p);
    }
    const auto* u = reinterpret_cast<const unsigned char*>(p);
    if (end - p <= need || u[1] < lo || u[1] > hi) {
      return at(TextCheck::kBadUtf8, p);
    }
    for (std::ptrdiff_t i = 2; i <= need; ++i) {
      if ((u[i] & 0xC0) != 0x80) {
        return at(TextCheck::kBadUtf8, p);
      }
    }
    p += need + 1;
  }
  return {};
}

Status parse(std::string_view text, rapidjson::Document* doc) {
  constexpr unsigned kFlags = rapidjson::kParseStopWhenDoneFlag;
  rapidjson::ParseResult result;
  bool too_deep = false;
  std::size_t end = 0;
  // Parsed with the parser's own encoding check only when ours fails, so that the error it
  // reports (with its offset) is the parser's. Control characters and lone surrogates: refused
  // here, whatever the parser would do with them.
  const TextCheck check = check_text(text);
  if (check.kind == TextCheck::kControlCharacter || check.kind == TextCheck::kLoneSurrogate) {
    doc->SetNull();
    return parse_error("invalid JSON at offset " + std::to_string(check.offset) +
                       (check.kind == TextCheck::kControlCharacter
                            ? ": a raw control character (escape it as \\u00XX)"
                            : ": a \\u escape is half of a surrogate pair without the other half"));
  }
  const bool checked = check.kind == TextCheck::kOk;
  // The document is filled through a depth-counting handler, so hostile nesting is refused
  // before it can exhaust the stack.
  auto generate = [&](rapidjson::Document& handler) {
    DepthLimiter limiter(&handler);
    rapidjson::Reader reader;
    rapidjson::MemoryStream ms(text.data(), text.size());
    result = checked ? reader.Parse<kFlags>(ms, limiter)
                     : reader.Parse<kFlags | rapidjson::kParseValidateEncodingFlag>(ms, limiter);
    end = ms.Tell();
    too_deep = limiter.too_deep();
    return !result.IsError();
  };
  doc->SetNull();
  doc->Populate(generate);
  if (too_deep) {
    return parse_error("JSON nested deeper than " + std::to_string(kMaxDepth) +
                       " levels at offset " + std::to_string(result.Offset()));
  }
  if (result.IsError()) {
    return parse_error(std::string("invalid JSON at offset ") + std::to_string(result.Offset()) +
                       ": " + rapidjson::GetParseError_En(result.Code()));
  }
  // Only white space may follow the value.
  std::size_t pos = end;
  while (pos < text.size() &&
         (text[pos] == ' ' || text[pos] == '\n' || text[pos] == '\r' || text[pos] == '\t')) {
    ++pos;
  }
  if (pos != text.size()) {
    return parse_error("invalid JSON at offset " + std::to_string(pos) +
                       ": unexpected data after the JSON value");
  }
  return Status::ok();
}

bool is_compact_object(std::string_view text) {
  if (text.size() < 2 || text.front() != '{' || text.back() != '}') {
    return false;
  }
  const char* p = text.data();
  const char* const end = p + text.size();
  char prev = 0;
  while (p < end) {
    const char c = *p++;
    switch (c) {
      case '"': {
        // Inside a string only a quote or a backslash matters: skip to the next one.
        for (;;) {
          p = next_quote_or_backslash(p, end);
          if (p == end) {
            return false;
          }
          if (*p == '"') {
            ++p;
            break;
          }
          // An escape: \u and \/ are spelled differently by the writer.
          if (p + 1 == end || p[1] == 'u' || p[1] == '/') {
            return false;
          }
          p += 2;
        }
        prev = '"';
        continue;
      }
      case ' ':
      case '\t':
      case '\n':
      case '\r':
        return false;
      case '.':
      case 'e':
      case 'E':
        if (prev >= '0' && prev <= '9') {
          return false;
        }
        break;
      case '-':
      case '0':
      case '1':
      case '2':
      case '3':
      case '4':
      case '5':
      case '6':
      case '7':
      case '8':
      case '9': {
        // A number (outside strings only these start with a digit or '-'): its integer part.
        const char* digits = c == '-' ? p : p - 1;
        const char* q = p;
        while (q < end && *q >= '0' && *q <= '9') {
          ++q;
        }
        if (!integer_kept_verbatim(c == '-', std::string_view(digits, q - digits))) {
          return false;
        }
        p = q;
        prev = q[-1];
        continue;
      }
      default:
        break;
    }
    prev = c;
  }
  return true;
}

std::string to_compact(const rapidjson::Value& value) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
  value.Accept(writer);
  return {buffer.GetString(), buffer.GetSize()};
}

std::string_view get_string(const rapidjson::Value& obj, const char* key) {
  if (!obj.IsObject()) {
    return {};
  }
  auto it = obj.FindMember(key);
  if (it == obj.MemberEnd() || !it->value.IsString()) {
    return {};
  }
  return {it->value.GetString(), it->value.GetStringLength()};
}

}  // namespace ktrail::json
