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

std::string to_compact(const rapidjson::Value& value);

// Whether `text`, one JSON object that parses, is already exactly what to_compact writes for
// it, so that it can be kept as it is. Conservative: no white space outside strings, no escape
// the writer spells differently (\u, \/), no number with a fraction or an exponent.
bool is_compact_object(std::string_view text);

// Returns the string member `key`, or an empty view when absent or not a string.
std::string_view get_string(const rapidjson::Value& obj, const char* key);

}  // namespace ktrail::json
