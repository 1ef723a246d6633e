#include "processors/policy/document.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <stdexcept>

namespace ktrail::policy {
namespace {

// Thrown inside the readers, caught at the top: the document is refused.
struct Refused : std::runtime_error {
  Refused(SourcePos p, const std::string& m) : std::runtime_error(m), pos(p) {}
  SourcePos pos;
};

constexpr int kMaxDepth = 1000;
constexpr int kMaxMergeDepth = 64;

// Decodes one UTF-8 sequence at s[i]; returns the code point and advances i, or -1 (and
// advances one byte) for an invalid sequence, as Go's utf8.DecodeRune does.
long decode_rune(std::string_view s, std::size_t* i) {
  const auto b = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char c = b(*i);
  if (c < 0x80) {
    ++*i;
    return c;
  }
  int n = 0;
  long cp = 0;
  long min = 0;
  if ((c & 0xE0) == 0xC0) {
    n = 1, cp = c & 0x1F, min = 0x80;
  } else if ((c & 0xF0) == 0xE0) {
    n = 2, cp = c & 0x0F, min = 0x800;
  } else if ((c & 0xF8) == 0xF0) {
    n = 3, cp = c & 0x07, min = 0x10000;
  } else {
    ++*i;
    return -1;
  }
  for (int k = 1; k <= n; ++k) {
    if (*i + static_cast<std::size_t>(k) >= s.size() ||
        (b(*i + static_cast<std::size_t>(k)) & 0xC0) != 0x80) {
      ++*i;
      return -1;
    }
    cp = (cp << 6) | (b(*i + static_cast<std::size_t>(k)) & 0x3F);
  }
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
    ++*i;
    return -1;
  }
  *i += static_cast<std::size_t>(n) + 1;
  return cp;
}

void append_utf8(std::string* out, long cp) {
  if (cp < 0x80) {
    out->push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

// Go's unicode.IsSpace.
bool is_unicode_space(long cp) {
  switch (cp) {
    case '\t':
    case '\n':
    case '\v':
    case '\f':
    case '\r':
    case ' ':
    case 0x85:
    case 0xA0:
    case 0x1680:
    case 0x2028:
    case 0x2029:
    case 0x202F:
    case 0x205F:
    case 0x3000:
      return true;
    default:
      return cp >= 0x2000 && cp <= 0x200A;
  }
}

// k8s.io/apimachinery's IsJSONBuffer: the first non-space character is '{'.
bool is_json_buffer(std::string_view text) {
  std::size_t i = 0;
  while (i < text.size()) {
    std::size_t next = i;
    const long cp = decode_rune(text, &next);
    if (!is_unicode_space(cp)) {
      return text[i] == '{';
    }
    i = next;
  }
  return false;
}

// Line and column (1-based) of byte offsets.
class Positions {
 public:
  explicit Positions(std::string_view text) {
    starts_.push_back(0);
    for (std::size_t i = 0; i < text.size(); ++i) {
      if (text[i] == '\n') {
        starts_.push_back(i + 1);
      }
    }
  }
  SourcePos at(std::size_t offset) const {
    const auto it = std::upper_bound(starts_.begin(), starts_.end(), offset);
    const std::size_t line = static_cast<std::size_t>(it - starts_.begin());
    return {static_cast<int>(line), static_cast<int>(offset - starts_[line - 1] + 1)};
  }

 private:
  std::vector<std::size_t> starts_;
};

// Sets `key` in an object: a later value replaces an earlier one. For JSON the entry moves to
// the end (Go's decoder assigns in file order, and the last assignment stays).
bool set_entry(DocValue* obj, DocEntry entry, bool move_to_end, bool duplicate) {
  for (auto it = obj->object.begin(); it != obj->object.end(); ++it) {
    if (it->key == entry.key) {
      entry.duplicates = std::move(it->duplicates);
      if (duplicate) {
        entry.duplicates.push_back(entry.key_pos);
      }
      if (move_to_end) {
        obj->object.erase(it);
        obj->object.push_back(std::move(entry));
      } else {
        *it = std::move(entry);
      }
      return true;
    }
  }
  obj->object.push_back(std::move(entry));
  return false;
}

// Strict JSON as Go's encoding/json reads it.
class JsonReader {
 public:
  explicit JsonReader(std::string_view text) : s_(text), pos_(text) {}

  DocValue read() {
    skip_ws();
    DocValue v = value(0);
    skip_ws();
    if (i_ < s_.size()) {
      fail("invalid character after top-level value");
    }
    return v;
  }

 private:
  [[noreturn]] void fail(const std::string& what) {
    throw Refused(pos_.at(std::min(i_, s_.size())), "invalid JSON: " + what);
  }
  void skip_ws() {
    while (i_ < s_.size() &&
           (s_[i_] == ' ' || s_[i_] == '\t' || s_[i_] == '\n' || s_[i_] == '\r')) {
      ++i_;
    }
  }
  void expect_literal(std::string_view lit) {
    if (s_.substr(i_, lit.size()) != lit) {
      fail("invalid literal");
    }
    i_ += lit.size();
  }
  DocValue value(int depth) {
    if (depth > kMaxDepth) {
      fail("nested too deeply");
    }
    DocValue v;
    v.pos = pos_.at(i_);
    if (i_ >= s_.size()) {
      fail("unexpected end of input");
    }
    const char c = s_[i_];
    if (c == '{') {
      v.kind = DocValue::Kind::kObject;
      ++i_;
      skip_ws();
      if (i_ < s_.size() && s_[i_] == '}') {
        ++i_;
        return v;
      }
      while (true) {
        skip_ws();
        if (i_ >= s_.size() || s_[i_] != '"') {
          fail("expected a string key");
        }
        DocEntry e;
        e.key_pos = pos_.at(i_);
        e.key = string();
        skip_ws();
        if (i_ >= s_.size() || s_[i_] != ':') {
          fail("expected ':' after an object key");
        }
        ++i_;
        skip_ws();
        e.value = value(depth + 1);
        v.object.push_back(std::move(e));  // Go decodes every occurrence, in order
        skip_ws();
        if (i_ < s_.size() && s_[i_] == ',') {
          ++i_;
          continue;
        }
        if (i_ < s_.size() && s_[i_] == '}') {
          ++i_;
          return v;
        }
        fail("expected ',' or '}' in an object");
      }
    }
    if (c == '[') {
      v.kind = DocValue::Kind::kArray;
      ++i_;
      skip_ws();
      if (i_ < s_.size() && s_[i_] == ']') {
        ++i_;
        return v;
      }
      while (true) {
        skip_ws();
        v.array.push_back(value(depth + 1));
        skip_ws();
        if (i_ < s_.size() && s_[i_] == ',') {
          ++i_;
          continue;
        }
        if (i_ < s_.size() && s_[i_] == ']') {
          ++i_;
          return v;
        }
        fail("expected ',' or ']' in an array");
      }
    }
    if (c == '"') {
      v.kind = DocValue::Kind::kString;
      v.text = string();
      return v;
    }
    if (c == 't') {
      expect_literal("true");
      v.kind = DocValue::Kind::kBool;
      v.boolean = true;
      return v;
    }
    if (c == 'f') {
      expect_literal("false");
      v.kind = DocValue::Kind::kBool;
      return v;
    }
    if (c == 'n') {
      expect_literal("null");
      return v;
    }
    if (c == '-' || (c >= '0' && c <= '9')) {
      v.kind = DocValue::Kind::kNumber;
      v.text = number();
      return v;
    }
    fail(std::string("invalid character '") + c + "' looking for beginning of value");
  }
  std::string number() {
    const std::size_t start = i_;
    auto digit = [&] { return i_ < s_.size() && s_[i_] >= '0' && s_[i_] <= '9'; };
    if (s_[i_] == '-') {
      ++i_;
    }
    if (!digit()) {
      fail("invalid number");
    }
    if (s_[i_] == '0') {
      ++i_;
    } else {
      while (digit()) ++i_;
    }
    if (i_ < s_.size() && s_[i_] == '.') {
      ++i_;
      if (!digit()) {
        fail("invalid number");
      }
      while (digit()) ++i_;
    }
    if (i_ < s_.size() && (s_[i_] == 'e' || s_[i_] == 'E')) {
      ++i_;
      if (i_ < s_.size() && (s_[i_] == '+' || s_[i_] == '-')) {
        ++i_;
      }
      if (!digit()) {
        fail("invalid number");
      }
      while (digit()) ++i_;
    }
    return std::string(s_.substr(start, i_ - start));
  }
  int hex4(std::size_t at) {
    if (at + 4 > s_.size()) {
      return -1;
    }
    int v = 0;
    for (std::size_t k = at; k < at + 4; ++k) {
      const char c = s_[k];
      int d = -1;
      if (c >= '0' && c <= '9') d = c - '0';
      if (c >= 'a' && c <= 'f') d = c - 'a' + 10;
      if (c >= 'A' && c <= 'F') d = c - 'A' + 10;
      if (d < 0) {
        return -1;
      }
      v = v * 16 + d;
    }
    return v;
  }
  // A string at s_[i_] == '"'. Invalid UTF-8 and lone surrogates become U+FFFD, as in Go.
  std::string string() {
    ++i_;
    std::string out;
    while (true) {
      if (i_ >= s_.size()) {
        fail("unexpected end of input in a string");
      }
      const unsigned char c = static_cast<unsigned char>(s_[i_]);
      if (c == '"') {
        ++i_;
        return out;
      }
      if (c < 0x20) {
        fail("invalid character in a string (control characters must be escaped)");
      }
      if (c == '\\') {
        if (i_ + 1 >= s_.size()) {
          fail("unexpected end of input in a string");
        }
        const char e = s_[i_ + 1];
        i_ += 2;
        switch (e) {
          case '"': out.push_back('"'); break;
          case '\\': out.push_back('\\'); break;
          case '/': out.push_back('/'); break;
          case 'b': out.push_back('\b'); break;
          case 'f': out.push_back('\f'); break;
          case 'n': out.push_back('\n'); break;
          case 'r': out.push_back('\r'); break;
          case 't': out.push_back('\t'); break;
          case 'u': {
            long cp = hex4(i_);
            if (cp < 0) {
              fail("invalid \\u escape in a string");
            }
            i_ += 4;
            if (cp >= 0xD800 && cp < 0xDC00) {
              // A pair only if a low surrogate escape follows; otherwise U+FFFD alone.
              if (i_ + 1 < s_.size() && s_[i_] == '\\' && s_[i_ + 1] == 'u') {
                const long lo = hex4(i_ + 2);
                if (lo >= 0xDC00 && lo < 0xE000) {
                  cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                  i_ += 6;
                } else {
                  cp = 0xFFFD;
                }
              } else {
                cp = 0xFFFD;
              }
            } else if (cp >= 0xDC00 && cp < 0xE000) {
              cp = 0xFFFD;
            }
            append_utf8(&out, cp);
            break;
          }
          default:
            fail("invalid escape in a string");
        }
        continue;
      }
      if (c < 0x80) {
        out.push_back(static_cast<char>(c));
        ++i_;
        continue;
      }
      const std::size_t start = i_;
      const long cp = decode_rune(s_, &i_);
      if (cp < 0) {
        append_utf8(&out, 0xFFFD);
      } else {
        out.append(s_.substr(start, i_ - start));
      }
    }
  }

  std::string_view s_;
  Positions pos_;
  std::size_t i_ = 0;
};

// go-yaml v2 refuses input that is not UTF-8 or holds characters YAML does not allow.
void check_yaml_characters(std::string_view text, const Positions& pos) {
  std::size_t i = 0;
  while (i < text.size()) {
    const std::size_t at = i;
    const long cp = decode_rune(text, &i);
    if (cp < 0) {
      throw Refused(pos.at(at), "invalid YAML: the file is not valid UTF-8");
    }
    const bool printable = cp == 0x09 || cp == 0x0A || cp == 0x0D ||
                           (cp >= 0x20 && cp <= 0x7E) || cp == 0x85 ||
                           (cp >= 0xA0 && cp <= 0xD7FF) || (cp >= 0xE000 && cp <= 0xFFFD) ||
                           (cp >= 0x10000 && cp <= 0x10FFFF);
    if (!printable) {
      throw Refused(pos.at(at), "invalid YAML: control characters are not allowed");
    }
  }
}

SourcePos pos_of(const YAML::Node& node) {
  const YAML::Mark mark = node.Mark();
  if (mark.is_null()) {
    return {};
  }
  return {mark.line + 1, mark.column + 1};
}

const std::string kTagPrefix = "tag:yaml.org,2002:";

std::string short_tag(const std::string& tag) {
  if (tag.rfind(kTagPrefix, 0) == 0) {
    return "!!" + tag.substr(kTagPrefix.size());
  }
  return tag;
}

// What a scalar resolves to.
enum class Resolved { kNull, kBool, kInt, kUint, kFloat, kNonFinite, kTimestamp, kString };

const char* tag_of(Resolved r) {
  switch (r) {
    case Resolved::kNull: return "null";
    case Resolved::kBool: return "bool";
    case Resolved::kInt:
    case Resolved::kUint: return "int";
    case Resolved::kFloat:
    case Resolved::kNonFinite: return "float";
    case Resolved::kTimestamp: return "timestamp";
    case Resolved::kString: return "str";
  }
  return "str";
}

bool all_of(std::string_view s, bool (*pred)(char)) {
  return !s.empty() && std::all_of(s.begin(), s.end(), pred);
}
bool is_dec(char c) { return c >= '0' && c <= '9'; }
bool is_oct(char c) { return c >= '0' && c <= '7'; }
bool is_bin(char c) { return c == '0' || c == '1'; }
bool is_hex(char c) {
  return is_dec(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

struct Magnitude {
  std::uint64_t value = 0;
  bool overflow = false;  // more than 64 bits
};

// The magnitude of an integer in Go's base-0 syntax (no underscores left); nullopt if it is
// not one.
std::optional<Magnitude> go_uint(std::string_view s) {
  unsigned base = 10;
  if (s.size() >= 2 && s[0] == '0') {
    const char p = s[1];
    if (p == 'x' || p == 'X') {
      base = 16, s.remove_prefix(2);
    } else if (p == 'o' || p == 'O') {
      base = 8, s.remove_prefix(2);
    } else if (p == 'b' || p == 'B') {
      base = 2, s.remove_prefix(2);
    } else {
      base = 8, s.remove_prefix(1);
    }
  }
  bool (*ok)(char) = base == 16 ? is_hex : base == 8 ? is_oct : base == 2 ? is_bin : is_dec;
  if (!all_of(s, ok)) {
    return std::nullopt;
  }
  Magnitude m;
  for (const char c : s) {
    const unsigned d = is_dec(c) ? static_cast<unsigned>(c - '0')
                                 : static_cast<unsigned>((c | 0x20) - 'a' + 10);
    if (m.value > (UINT64_MAX - d) / base) {
      m.overflow = true;
      return m;
    }
    m.value = m.value * base + d;
  }
  return m;
}

// Go's strconv.ParseInt(s, 0, 64) then ParseUint(s, 0, 64).
std::optional<Resolved> go_integer(std::string_view s) {
  bool neg = false;
  bool sign = false;
  if (!s.empty() && (s[0] == '+' || s[0] == '-')) {
    neg = s[0] == '-';
    sign = true;
    s.remove_prefix(1);
  }
  if (s.empty()) {
    return std::nullopt;
  }
  const auto mag = go_uint(s);
  if (!mag || mag->overflow) {
    return std::nullopt;
  }
  const std::uint64_t kMaxInt = INT64_MAX;
  if (mag->value <= kMaxInt || (neg && mag->value == kMaxInt + 1)) {
    return Resolved::kInt;
  }
  if (!sign) {
    return Resolved::kUint;
  }
  return std::nullopt;
}

// ParseFloat of a decimal float that fits (an overflow is an error in Go, not infinity).
bool finite_float(const std::string& s) {
  errno = 0;
  char* end = nullptr;
  const double d = std::strtod(s.c_str(), &end);
  return end == s.c_str() + s.size() && !std::isinf(d);
}

// go-yaml v2's yamlStyleFloat: ^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$
bool yaml_style_float(std::string_view s) {
  std::size_t i = 0;
  if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
  const auto digits = [&] {
    const std::size_t from = i;
    while (i < s.size() && is_dec(s[i])) ++i;
    return i - from;
  };
  if (i < s.size() && s[i] == '.') {
    ++i;
    if (digits() == 0) return false;
  } else {
    if (digits() == 0) return false;
    if (i < s.size() && s[i] == '.') {
      ++i;
      digits();
    }
  }
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
    if (digits() == 0) return false;
  }
  return i == s.size();
}

bool looks_like_timestamp(std::string_view s) {
  // YYYY-M-D, optionally followed by a time; go-yaml keeps the text either way.
  if (s.size() < 8 || !all_of(s.substr(0, 4), is_dec) || s[4] != '-') {
    return false;
  }
  std::size_t i = 5;
  std::size_t n = 0;
  while (i < s.size() && is_dec(s[i])) ++i, ++n;
  if (n < 1 || n > 2 || i >= s.size() || s[i] != '-') return false;
  ++i;
  n = 0;
  while (i < s.size() && is_dec(s[i])) ++i, ++n;
  if (n < 1 || n > 2) return false;
  return i == s.size() || s[i] == 'T' || s[i] == 't' || s[i] == ' ';
}

// go-yaml v2's resolve() for an untagged plain scalar, or one tagged with a resolvable tag.
Resolved resolve_plain(const std::string& in, bool* boolean, bool allow_timestamp) {
  static const char* const kTrue[] = {"y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE",
                                      "on", "On", "ON"};
  static const char* const kFalse[] = {"n", "N", "no", "No", "NO", "false", "False", "FALSE",
                                       "off", "Off", "OFF"};
  static const char* const kNull[] = {"", "~", "null", "Null", "NULL"};
  static const char* const kNonFinite[] = {".nan", ".NaN", ".NAN", ".inf", ".Inf", ".INF",
                                           "+.inf", "+.Inf", "+.INF", "-.inf", "-.Inf", "-.INF"};
  const char c = in.empty() ? 'N' : in[0];
  const bool sign = c == '+' || c == '-';
  const bool digit = is_dec(c);
  const bool in_map = std::string_view("yYnNtTfFoO~").find(c) != std::string_view::npos;
  if (!(sign || digit || in_map || c == '.' || in.empty())) {
    return Resolved::kString;
  }
  for (const char* s : kTrue) {
    if (in == s) return *boolean = true, Resolved::kBool;
  }
  for (const char* s : kFalse) {
    if (in == s) return *boolean = false, Resolved::kBool;
  }
  for (const char* s : kNull) {
    if (in == s) return Resolved::kNull;
  }
  for (const char* s : kNonFinite) {
    if (in == s) return Resolved::kNonFinite;
  }
  if (c == '.') {
    return yaml_style_float(in) && finite_float(in) ? Resolved::kFloat : Resolved::kString;
  }
  if (!(sign || digit)) {
    return Resolved::kString;
  }
  if (allow_timestamp && looks_like_timestamp(in)) {
    return Resolved::kTimestamp;
  }
  std::string plain;
  for (const char ch : in) {
    if (ch != '_') plain.push_back(ch);
  }
  if (auto r = go_integer(plain)) {
    return *r;
  }
  if (yaml_style_float(plain) && finite_float(plain)) {
    return Resolved::kFloat;
  }
  // "0b" followed by Go's ParseInt(x, 2, 64), which takes a sign; "-0b" likewise.
  auto binary = [](std::string_view x) {
    if (!x.empty() && (x[0] == '+' || x[0] == '-')) x.remove_prefix(1);
    return all_of(x, is_bin) && x.size() <= 64;
  };
  if (plain.rfind("0b", 0) == 0 && binary(std::string_view(plain).substr(2))) {
    return Resolved::kInt;
  }
  if (plain.rfind("-0b", 0) == 0 && all_of(std::string_view(plain).substr(3), is_bin) &&
      plain.size() - 3 <= 63) {
    return Resolved::kInt;
  }
  return Resolved::kString;
}

bool base64_decode(std::string_view in, std::string* out) {
  std::string clean;
  for (const char c : in) {
    if (c != '\r' && c != '\n') clean.push_back(c);
  }
  if (clean.size() % 4 != 0) {
    return false;
  }
  auto val = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  for (std::size_t i = 0; i < clean.size(); i += 4) {
    int v[4];
    int pad = 0;
    for (int k = 0; k < 4; ++k) {
      const char c = clean[i + k];
      if (c == '=' && i + 4 == clean.size() && k >= 2) {
        v[k] = 0;
        ++pad;
      } else if (pad > 0 || (v[k] = val(c)) < 0) {
        return false;
      }
    }
    const unsigned n = (static_cast<unsigned>(v[0]) << 18) | (static_cast<unsigned>(v[1]) << 12) |
                       (static_cast<unsigned>(v[2]) << 6) | static_cast<unsigned>(v[3]);
    out->push_back(static_cast<char>(n >> 16));
    if (pad < 2) out->push_back(static_cast<char>((n >> 8) & 0xFF));
    if (pad < 1) out->push_back(static_cast<char>(n & 0xFF));
  }
  return true;
}

// A YAML tree (yaml-cpp) to JSON values, as go-yaml v2 and sigs.k8s.io/yaml would make them.
class YamlReader {
 public:
  YamlReader(std::string_view text, std::size_t max_values) : text_(text), max_(max_values) {}

  DocValue convert(const YAML::Node& node, int depth) {
    if (depth > kMaxDepth) {
      throw Refused(pos_of(node), "invalid YAML: nested too deeply");
    }
    if (++count_ > max_) {
      throw Refused(pos_of(node), "the policy has more than " + std::to_string(max_) +
                                      " values (after expanding aliases); refusing it");
    }
    DocValue v;
    v.pos = pos_of(node);
    switch (node.Type()) {
      case YAML::NodeType::Sequence:
        v.kind = DocValue::Kind::kArray;
        for (const auto& item : node) {
          v.array.push_back(convert(item, depth + 1));
        }
        return v;
      case YAML::NodeType::Map:
        v.kind = DocValue::Kind::kObject;
        apply_mapping(node, &v, depth);
        std::sort(v.object.begin(), v.object.end(),
                  [](const DocEntry& a, const DocEntry& b) { return a.key < b.key; });
        return v;
      case YAML::NodeType::Scalar:
        scalar(node, &v);
        return v;
      default: {
        // yaml-cpp reads an empty entry in a flow collection ("[, x]", "[x, , y]") as null;
        // go-yaml refuses it.
        const YAML::Mark mark = node.Mark();
        if (!mark.is_null() && mark.pos >= 0 && static_cast<std::size_t>(mark.pos) < text_.size() &&
            text_[static_cast<std::size_t>(mark.pos)] == ',') {
          throw Refused(v.pos, "invalid YAML: did not find expected node content");
        }
        return v;  // null
      }
    }
  }

 private:
  // What a scalar node is, with go-yaml's tag rules.
  Resolved resolve(const YAML::Node& node, bool* boolean, std::string* text) {
    const std::string& tag = node.Tag();
    if (tag != "?") {
      check_double_quoted(node);
    }
    *text = node.Scalar();
    if (tag == "!") {
      return Resolved::kString;  // quoted, or the non-specific tag
    }
    if (tag == "?" || tag.empty()) {
      return resolve_plain(*text, boolean, true);
    }
    const std::string name = tag.rfind(kTagPrefix, 0) == 0 ? tag.substr(kTagPrefix.size()) : "";
    if (name == "binary") {
      std::string decoded;
      if (!base64_decode(*text, &decoded)) {
        throw Refused(pos_of(node), "invalid YAML: !!binary value contains invalid base64 data");
      }
      *text = std::move(decoded);
      return Resolved::kString;
    }
    if (name != "str" && name != "bool" && name != "int" && name != "float" && name != "null" &&
        name != "timestamp") {
      return Resolved::kString;  // any other tag: the text, as a string
    }
    if (name == "str") {
      return Resolved::kString;
    }
    const Resolved r = resolve_plain(*text, boolean, name == "timestamp");
    if (tag_of(r) == name) {
      return r;
    }
    if (name == "float" && (r == Resolved::kInt || r == Resolved::kUint)) {
      return Resolved::kFloat;
    }
    throw Refused(pos_of(node), "invalid YAML: cannot decode !!" + std::string(tag_of(r)) +
                                    " `" + *text + "` as a " + short_tag(tag));
  }

  void scalar(const YAML::Node& node, DocValue* v) {
    bool b = false;
    std::string text;
    switch (resolve(node, &b, &text)) {
      case Resolved::kNull:
        v->kind = DocValue::Kind::kNull;
        return;
      case Resolved::kBool:
        v->kind = DocValue::Kind::kBool;
        v->boolean = b;
        return;
      case Resolved::kInt:
      case Resolved::kUint:
      case Resolved::kFloat:
        v->kind = DocValue::Kind::kNumber;
        v->text = std::move(text);
        return;
      case Resolved::kNonFinite:
        // Refused only if it is still in the document once duplicates and merges are done.
        v->kind = DocValue::Kind::kNumber;
        v->text = std::move(text);
        v->non_finite = true;
        return;
      case Resolved::kTimestamp:
      case Resolved::kString:
        v->kind = DocValue::Kind::kString;
        v->text = std::move(text);
        return;
    }
  }

  std::string key_string(const YAML::Node& key) {
    if (key.IsMap() || key.IsSequence()) {
      throw Refused(pos_of(key), "invalid YAML: invalid map key (a list or a mapping)");
    }
    if (!key.IsScalar()) {
      throw Refused(pos_of(key), "invalid YAML: unsupported map key: null");
    }
    bool b = false;
    std::string text;
    switch (resolve(key, &b, &text)) {
      case Resolved::kNull:
        throw Refused(pos_of(key), "invalid YAML: unsupported map key: null");
      case Resolved::kBool:
        return b ? "true" : "false";
      case Resolved::kUint:
        throw Refused(pos_of(key), "invalid YAML: unsupported map key of type uint64: " + text);
      default:
        return text;  // a number keeps its text here: it can only name an unknown field
    }
  }

  static bool is_merge_key(const YAML::Node& key) {
    return key.IsScalar() && key.Scalar() == "<<" &&
           (key.Tag() == "?" || key.Tag() == kTagPrefix + "merge");
  }

  void apply_mapping(const YAML::Node& node, DocValue* out, int depth) {
    std::vector<std::string> explicit_keys;
    for (const auto& kv : node) {
      if (is_merge_key(kv.first)) {
        merge(kv.second, out, depth);
        continue;
      }
      DocEntry e;
      e.key = key_string(kv.first);
      e.key_pos = pos_of(kv.first);
      e.value = convert(kv.second, depth + 1);
      const bool duplicate =
          std::find(explicit_keys.begin(), explicit_keys.end(), e.key) != explicit_keys.end();
      explicit_keys.push_back(e.key);
      set_entry(out, std::move(e), false, duplicate);
    }
  }

  void merge(const YAML::Node& value, DocValue* out, int depth) {
    // A map that merges itself through an alias (`&b {<<: *b}`) would merge forever; go-yaml
    // refuses such an anchor too. Merges nest far less than values do, so they get their own,
    // smaller limit.
    if (++merge_depth_ > kMaxMergeDepth) {
      throw Refused(pos_of(value), "invalid YAML: map merges nested too deeply (an anchor "
                                   "that merges itself?)");
    }
    struct Leave {
      int* depth;
      ~Leave() { --*depth; }
    } leave{&merge_depth_};
    if (value.IsMap()) {
      apply_mapping(value, out, depth + 1);
      return;
    }
    if (value.IsSequence()) {
      // Earlier maps take precedence: apply them last.
      for (std::size_t i = value.size(); i-- > 0;) {
        if (!value[i].IsMap()) {
          throw Refused(pos_of(value[i]),
                        "invalid YAML: map merge requires map or sequence of maps as the value");
        }
      }
      for (std::size_t i = value.size(); i-- > 0;) {
        apply_mapping(value[i], out, depth + 1);
      }
      return;
    }
    throw Refused(pos_of(value),
                  "invalid YAML: map merge requires map or sequence of maps as the value");
  }

  // yaml-cpp reads YAML 1.2 escapes that go-yaml v2 (YAML 1.1) refuses ("\/"), and surrogate
  // escapes it turns into invalid UTF-8: check a double-quoted scalar's source as go-yaml does.
  void check_double_quoted(const YAML::Node& node) {
    const YAML::Mark mark = node.Mark();
    if (mark.is_null() || mark.pos < 0) {
      return;
    }
    std::size_t i = static_cast<std::size_t>(mark.pos);
    // Skip the node's properties (a tag, an anchor) to its content.
    while (i < text_.size() && (text_[i] == '!' || text_[i] == '&')) {
      const bool tag = text_[i] == '!';
      while (i < text_.size() && text_[i] != ' ' && text_[i] != '\t' && text_[i] != '\n' &&
             text_[i] != '\r') {
        // go-yaml reads '[' and ']' (and ',') as part of a tag (URI characters), yaml-cpp as
        // flow indicators: "[!!str]" is a list to one and an unclosed list to the other.
        if (tag && (text_[i] == '[' || text_[i] == ']')) {
          throw Refused(pos_of(node), "invalid YAML: did not find expected ',' or ']'");
        }
        ++i;
      }
      while (i < text_.size() &&
             (text_[i] == ' ' || text_[i] == '\t' || text_[i] == '\n' || text_[i] == '\r')) {
        ++i;
      }
    }
    if (i >= text_.size() || text_[i] != '"') {
      return;
    }
    const auto refuse = [&](const char* what) {
      throw Refused(pos_of(node), std::string("invalid YAML: while parsing a quoted scalar: ") + what);
    };
    for (++i; i < text_.size() && text_[i] != '"'; ++i) {
      if (text_[i] != '\\' || i + 1 >= text_.size()) {
        continue;
      }
      const char e = text_[++i];
      int length = 0;
      switch (e) {
        case 'x': length = 2; break;
        case 'u': length = 4; break;
        case 'U': length = 8; break;
        default:
          if (std::string_view("0abt\tnvfre \"'\\N_LP\r\n").find(e) == std::string_view::npos) {
            refuse("found unknown escape character");
          }
          continue;
      }
      long value = 0;
      for (int k = 1; k <= length; ++k) {
        const char h = i + static_cast<std::size_t>(k) < text_.size() ? text_[i + static_cast<std::size_t>(k)] : 0;
        if (!is_hex(h)) {
          refuse("did not find expected hexdecimal number");
        }
        value = value * 16 + (is_dec(h) ? h - '0' : (h | 0x20) - 'a' + 10);
      }
      if ((value >= 0xD800 && value <= 0xDFFF) || value > 0x10FFFF) {
        refuse("found invalid Unicode character escape code");
      }
      i += static_cast<std::size_t>(length);
    }
  }

  std::string_view text_;
  std::size_t max_;
  std::size_t count_ = 0;
  int merge_depth_ = 0;  // merges in progress (merge() inside merge())
};

// sigs.k8s.io/yaml marshals the converted tree as JSON, which has no NaN or infinity.
void check_finite(const DocValue& v) {
  if (v.non_finite) {
    throw Refused(v.pos, "invalid YAML: json: unsupported value: " + v.text +
                             " (JSON has no NaN or infinity)");
  }
  for (const DocValue& item : v.array) {
    check_finite(item);
  }
  for (const DocEntry& e : v.object) {
    check_finite(e.value);
  }
}

}  // namespace

Document read_document(std::string_view text, std::size_t max_values) {
  Document doc;
  try {
    if (is_json_buffer(text)) {
      doc.json = true;
      JsonReader reader(text);
      doc.root = reader.read();
    } else {
      check_yaml_characters(text, Positions(text));
      YAML::Node root;
      try {
        root = YAML::Load(std::string(text));
      } catch (const YAML::Exception& e) {
        SourcePos pos;
        if (!e.mark.is_null()) {
          pos = {e.mark.line + 1, e.mark.column + 1};
        }
        throw Refused(pos, "invalid YAML: " + e.msg);
      }
      YamlReader reader(text, max_values);
      doc.root = reader.convert(root, 0);
      check_finite(doc.root);
    }
    doc.ok = true;
  } catch (const Refused& r) {
    doc.error = {r.pos, r.what()};
  } catch (const YAML::Exception& e) {
    doc.error = {{}, std::string("invalid YAML: ") + e.what()};
  }
  return doc;
}

}  // namespace ktrail::policy
