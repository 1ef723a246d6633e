#include "ingest/yaml_input.h"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>

namespace ktrail::ingest {
namespace {

using JsonWriter = rapidjson::Writer<rapidjson::StringBuffer>;

bool is_plain_integer(const std::string& s) {
  std::size_t i = (s[0] == '-' || s[0] == '+') ? 1 : 0;
  if (i >= s.size()) {
    return false;
  }
  for (; i < s.size(); ++i) {
    if (s[i] < '0' || s[i] > '9') {
      return false;
    }
  }
  return true;
}

bool is_plain_decimal(const std::string& s) {
  // [-+]? ( \.[0-9]+ | [0-9]+ ( \.[0-9]* )? ) ( [eE] [-+]? [0-9]+ )?
  std::size_t i = (s[0] == '-' || s[0] == '+') ? 1 : 0;
  std::size_t digits = 0;
  while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
    ++i;
    ++digits;
  }
  if (i < s.size() && s[i] == '.') {
    ++i;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
      ++i;
      ++digits;
    }
  }
  if (digits == 0) {
    return false;
  }
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < s.size() && (s[i] == '-' || s[i] == '+')) {
      ++i;
    }
    const std::size_t exp_start = i;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
      ++i;
    }
    if (i == exp_start) {
      return false;
    }
  }
  return i == s.size();
}

void write_scalar(const YAML::Node& node, JsonWriter* w) {
  const std::string& s = node.Scalar();
  const std::string& tag = node.Tag();
  const auto as_string = [&] { w->String(s.data(), static_cast<rapidjson::SizeType>(s.size())); };
  // "!" marks a quoted or block scalar; an explicit !!str keeps the text too.
  if (tag == "!" || tag == "tag:yaml.org,2002:str") {
    as_string();
    return;
  }
  if (s.empty() || s == "~" || s == "null" || s == "Null" || s == "NULL") {
    w->Null();
    return;
  }
  if (s == "true" || s == "True" || s == "TRUE") {
    w->Bool(true);
    return;
  }
  if (s == "false" || s == "False" || s == "FALSE") {
    w->Bool(false);
    return;
  }
  if (is_plain_integer(s)) {
    errno = 0;
    const long long n = std::strtoll(s.c_str(), nullptr, 10);
    if (errno == 0) {
      w->Int64(n);
      return;
    }
  }
  if (is_plain_decimal(s)) {
    // Written as the text kubectl wrote (valid JSON once a leading '+' or '.' is fixed).
    std::string number = s[0] == '+' ? s.substr(1) : s;
    const std::size_t sign = number[0] == '-' ? 1 : 0;
    if (number[sign] == '.') {
      number.insert(sign, "0");
    }
    const std::size_t dot = number.find('.');
    if (dot != std::string::npos && (dot + 1 == number.size() || number[dot + 1] < '0' ||
                                     number[dot + 1] > '9')) {
      number.insert(dot + 1, "0");
    }
    w->RawValue(number.data(), number.size(), rapidjson::kNumberType);
    return;
  }
  as_string();
}

// Writes `node` as JSON; false (and `why`) when it cannot be, or grows past `max_bytes`.
bool write_node(const YAML::Node& node, std::size_t depth, std::size_t max_bytes,
                const rapidjson::StringBuffer& buffer, JsonWriter* w, std::string* why) {
  if (depth > 256) {
    *why = "nested more than 256 levels deep";
    return false;
  }
  if (buffer.GetSize() > max_bytes) {
    *why = "larger than " + std::to_string(max_bytes) + " bytes as JSON (aliases expand)";
    return false;
  }
  switch (node.Type()) {
    case YAML::NodeType::Undefined:
    case YAML::NodeType::Null:
      w->Null();
      return true;
    case YAML::NodeType::Scalar:
      write_scalar(node, w);
      return true;
    case YAML::NodeType::Sequence:
      w->StartArray();
      for (const auto& item : node) {
        if (!write_node(item, depth + 1, max_bytes, buffer, w, why)) {
          return false;
        }
      }
      w->EndArray();
      return true;
    case YAML::NodeType::Map:
      w->StartObject();
      for (const auto& kv : node) {
        if (!kv.first.IsScalar()) {
          *why = "a mapping key that is not a scalar (line " +
                 std::to_string(kv.first.Mark().line + 1) + ")";
          return false;
        }
        const std::string& key = kv.first.Scalar();
        w->Key(key.data(), static_cast<rapidjson::SizeType>(key.size()));
        if (!write_node(kv.second, depth + 1, max_bytes, buffer, w, why)) {
          return false;
        }
      }
      w->EndObject();
      return true;
  }
  return true;
}

// A line that separates documents: "---" alone or followed by a space (content may follow).
bool is_separator(std::string_view line) {
  return line.substr(0, 3) == "---" && (line.size() == 3 || line[3] == ' ' || line[3] == '\t' ||
                                        line[3] == '\r');
}

bool is_end_marker(std::string_view line) {
  return line.substr(0, 3) == "..." && (line.size() == 3 || line[3] == ' ' || line[3] == '\r');
}

}  // namespace

bool looks_like_yaml(std::string_view head) {
  std::size_t pos = 0;
  while (pos < head.size()) {
    std::size_t end = head.find('\n', pos);
    if (end == std::string_view::npos) {
      end = head.size();
    }
    std::string_view line = head.substr(pos, end - pos);
    pos = end + 1;
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ' || line.back() == '\t')) {
      line.remove_suffix(1);
    }
    const std::size_t indent = line.find_first_not_of(" \t");
    if (indent == std::string_view::npos) {
      continue;  // blank
    }
    line.remove_prefix(indent);
    if (line[0] == '{' || line[0] == '[') {
      return false;  // JSON (YAML's flow style, but JSON readers handle it better)
    }
    if (line[0] == '#' || is_separator(line) || line.substr(0, 5) == "%YAML" || line == "-" ||
        line.substr(0, 2) == "- ") {
      return true;
    }
    // key: value, with a key of printable characters.
    const std::size_t colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0 ||
        (colon + 1 < line.size() && line[colon + 1] != ' ')) {
      return false;
    }
    for (std::size_t i = 0; i < colon; ++i) {
      const auto c = static_cast<unsigned char>(line[i]);
      if (c < 0x20 || c == 0x7f) {
        return false;
      }
    }
    return true;
  }
  return false;
}

Status for_each_yaml_document(std::string_view text, std::size_t max_json_bytes,
                              const std::function<Status(YamlDocument)>& each) {
  std::size_t pos = 0;
  std::size_t line_no = 1;
  std::size_t doc_start = 0;
  std::size_t doc_line = 1;
  std::size_t index = 0;
  auto emit = [&](std::size_t end) -> Status {
    std::string_view body = text.substr(doc_start, end - doc_start);
    if (body.find_first_not_of(" \t\r\n") == std::string_view::npos) {
      return Status::ok();
    }
    YamlDocument doc;
    doc.index = ++index;
    doc.line = doc_line;
    YAML::Node node;
    try {
      node = YAML::Load(std::string(body));
    } catch (const YAML::Exception& e) {
      return invalid_argument("YAML document " + std::to_string(doc.index) + ": line " +
                              std::to_string(doc_line + static_cast<std::size_t>(e.mark.line)) +
                              ", column " + std::to_string(e.mark.column + 1) + ": " + e.msg);
    }
    if (node.IsNull() || !node.IsDefined()) {
      --index;
      return Status::ok();  // a document of comments only
    }
    rapidjson::StringBuffer buffer;
    JsonWriter w(buffer);
    std::string why;
    const std::size_t limit = std::min(max_json_bytes, 16 * body.size() + (std::size_t{1} << 20));
    if (write_node(node, 0, limit, buffer, &w, &why)) {
      doc.json.assign(buffer.GetString(), buffer.GetSize());
    } else {
      doc.error = why;
    }
    return each(std::move(doc));
  };
  while (pos < text.size()) {
    std::size_t end = text.find('\n', pos);
    const std::size_t next = end == std::string_view::npos ? text.size() : end + 1;
    if (end == std::string_view::npos) {
      end = text.size();
    }
    const std::string_view line = text.substr(pos, end - pos);
    if (is_separator(line) || is_end_marker(line)) {
      KTRAIL_RETURN_IF_ERROR(emit(pos));
      // Content after "--- " on the same line starts the next document.
      const bool separator = is_separator(line);
      doc_start = separator ? pos + 3 : next;
      doc_line = separator ? line_no : line_no + 1;
    }
    pos = next;
    ++line_no;
  }
  return emit(text.size());
}

}  // namespace ktrail::ingest
