#include "processors/json_splice.h"

#include <cstring>
#include <vector>

namespace ktrail {
namespace {

bool is_ws(char c) { return c == ' ' || c == '\n' || c == '\r' || c == '\t'; }

std::size_t skip_ws(std::string_view s, std::size_t i) {
  while (i < s.size() && is_ws(s[i])) {
    ++i;
  }
  return i;
}

// `i` at an opening quote; returns the index after the closing quote, or npos.
std::size_t skip_string(std::string_view s, std::size_t i) {
  ++i;
  while (i < s.size()) {
    const void* hit = std::memchr(s.data() + i, '"', s.size() - i);
    if (hit == nullptr) {
      return std::string_view::npos;
    }
    const std::size_t q = static_cast<std::size_t>(static_cast<const char*>(hit) - s.data());
    // The quote is escaped if an odd number of backslashes precede it.
    std::size_t backslashes = 0;
    while (q - backslashes > i && s[q - backslashes - 1] == '\\') {
      ++backslashes;
    }
    if (backslashes % 2 == 0) {
      return q + 1;
    }
    i = q + 1;
  }
  return std::string_view::npos;
}

// `i` at the first character of a value; returns the index after it, or npos.
std::size_t skip_value(std::string_view s, std::size_t i) {
  if (i >= s.size()) {
    return std::string_view::npos;
  }
  const char c = s[i];
  if (c == '"') {
    return skip_string(s, i);
  }
  if (c == '{' || c == '[') {
    int depth = 0;
    while (i < s.size()) {
      const char d = s[i];
      if (d == '"') {
        i = skip_string(s, i);
        if (i == std::string_view::npos) {
          return i;
        }
        continue;
      }
      if (d == '{' || d == '[') {
        ++depth;
      } else if (d == '}' || d == ']') {
        if (--depth == 0) {
          return i + 1;
        }
      }
      ++i;
    }
    return std::string_view::npos;
  }
  while (i < s.size() && s[i] != ',' && s[i] != '}' && s[i] != ']' && !is_ws(s[i])) {
    ++i;
  }
  return i;
}

}  // namespace

bool splice_top_level(std::string_view json, const SpliceEdit& edit, std::string* out) {
  std::size_t i = skip_ws(json, 0);
  if (i >= json.size() || json[i] != '{') {
    return false;
  }
  ++i;
  out->clear();
  out->reserve(json.size());
  out->push_back('{');
  bool first = true;
  bool level_set = edit.level.empty();
  bool first_member = true;
  while (true) {
    i = skip_ws(json, i);
    if (i >= json.size()) {
      return false;
    }
    if (json[i] == '}' && first_member) {
      break;  // {}
    }
    first_member = false;
    if (json[i] != '"') {
      return false;
    }
    const std::size_t key_begin = i;
    const std::size_t key_end = skip_string(json, i);
    if (key_end == std::string_view::npos) {
      return false;
    }
    const std::string_view key = json.substr(key_begin + 1, key_end - key_begin - 2);
    i = skip_ws(json, key_end);
    if (i >= json.size() || json[i] != ':') {
      return false;
    }
    const std::size_t value_begin = skip_ws(json, i + 1);
    const std::size_t value_end = skip_value(json, value_begin);
    if (value_end == std::string_view::npos) {
      return false;
    }
    const bool drop = (edit.drop_request_object && key == "requestObject") ||
                      (edit.drop_response_object && key == "responseObject");
    if (!drop) {
      if (!first) {
        out->push_back(',');
      }
      first = false;
      if (!edit.level.empty() && key == "level") {
        out->append("\"level\":\"").append(edit.level).push_back('"');
        level_set = true;
      } else {
        out->append(json.substr(key_begin, value_end - key_begin));
      }
    }
    i = skip_ws(json, value_end);
    if (i < json.size() && json[i] == ',') {
      ++i;
      continue;
    }
    if (i < json.size() && json[i] == '}') {
      break;
    }
    return false;
  }
  if (skip_ws(json, i + 1) != json.size()) {
    return false;
  }
  out->push_back('}');
  return level_set;
}

}  // namespace ktrail
