#include "core/json.h"

#include <rapidjson/error/en.h>
#include <rapidjson/memorystream.h>
#include <rapidjson/reader.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <cstdint>
#include <cstring>

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

Status parse(std::string_view text, rapidjson::Document* doc) {
  constexpr unsigned kFlags = rapidjson::kParseStopWhenDoneFlag;
  rapidjson::ParseResult result;
  bool too_deep = false;
  std::size_t end = 0;
  // Parsed with the parser's own encoding check only when ours fails, so that the error it
  // reports (with its offset) is the parser's.
  const bool checked = valid_utf8(text);
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
