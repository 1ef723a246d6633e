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

std::string to_compact(const rapidjson::Value& value);

// Returns the string member `key`, or an empty view when absent or not a string.
std::string_view get_string(const rapidjson::Value& obj, const char* key);

}  // namespace ktrail::json
