// Small RapidJSON helpers shared by every module: strict parsing with a readable error and
// compact serialisation. Parsing refuses nesting deeper than kMaxDepth so that hostile
// input cannot exhaust the stack.
#pragma once

#include <rapidjson/document.h>

#include <string>
#include <string_view>

#include "core/status.h"

namespace ktrail::json {

constexpr unsigned kMaxDepth = 256;

// Parses `text` into `doc`. On failure the Status says what and at which byte offset.
Status parse(std::string_view text, rapidjson::Document* doc);

// Whether `text` is well-formed UTF-8 (no overlong forms, no surrogates, nothing past U+10FFFF).
bool valid_utf8(std::string_view text);

// What the byte-level check of a JSON text found: nothing (kOk), or the first problem and its
// byte offset.
struct TextCheck {
  enum Kind { kOk, kBadUtf8, kControlCharacter, kLoneSurrogate } kind = kOk;
  std::size_t offset = 0;
};

// Checks what RapidJSON's parser does not check on every path, so that the fast and the
// document paths accept exactly the same texts: well-formed UTF-8; no raw control character
// (below 0x20, only tab, LF and CR are allowed, and only as white space: RapidJSON's SSE2 string
// scanner lets 0x1A-0x1F through); no \u escape that is half of a surrogate pair without its
// other half (RapidJSON refuses a lone high surrogate but stores a lone low one as invalid
// UTF-8). parse() applies it; the fast audit path calls it before parsing in place.
TextCheck check_text(std::string_view text);

std::string to_compact(const rapidjson::Value& value);

// Whether `text`, one JSON object that parses, is already exactly what to_compact writes for
// it, so that it can be kept as it is. Conservative: no white space outside strings, no escape
// the writer spells differently (\u, \/), no number with a fraction or an exponent, no -0 and
// no integer outside the 64-bit range (the document holds those as 0 or as a double).
bool is_compact_object(std::string_view text);

// Returns the string member `key`, or an empty view when absent or not a string.
std::string_view get_string(const rapidjson::Value& obj, const char* key);

}  // namespace ktrail::json
