#include "query/jsonpath.h"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <cctype>

namespace ktrail::query {
namespace {

using Node = JsonPath::Node;
using Path = JsonPath::Path;
using Step = JsonPath::Step;

constexpr std::size_t kMaxTemplate = 64 << 10;
constexpr int kMaxDepth = 8;
constexpr const char* kSupported =
    "supported: text, {.name}, {['name']}, {[N]}, {[*]}, {.*}, {$}, {@}, {\"literal\"}, "
    "{range PATH}...{end}";

bool is_name_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_' || c == '-';
}

class Parser {
 public:
  explicit Parser(std::string_view text) : t_(text) {}

  Result<std::vector<Node>> parse() {
    return parse_nodes(0);
  }

 private:
  Status fail(const std::string& why) const {
    return invalid_argument("jsonpath: at character " + std::to_string(pos_ + 1) + ": " + why +
                            " (" + kSupported + ")");
  }

  void skip_spaces() {
    while (pos_ < t_.size() && (t_[pos_] == ' ' || t_[pos_] == '\t')) {
      ++pos_;
    }
  }

  bool keyword(std::string_view word) {
    if (t_.substr(pos_, word.size()) != word) {
      return false;
    }
    const std::size_t after = pos_ + word.size();
    if (after < t_.size() && (t_[after] == ' ' || t_[after] == '}')) {
      pos_ = after;
      return true;
    }
    return false;
  }

  Status close_brace() {
    skip_spaces();
    if (pos_ >= t_.size()) {
      return fail("'{' is never closed by '}'");
    }
    if (t_[pos_] != '}') {
      return fail(std::string("unexpected '") + t_[pos_] + "'");
    }
    ++pos_;
    return Status::ok();
  }

  // Nodes up to the end of the template, or up to an {end} (consumed) when in a range.
  Result<std::vector<Node>> parse_nodes(int depth) {
    std::vector<Node> nodes;
    while (pos_ < t_.size()) {
      if (t_[pos_] != '{') {
        const std::size_t brace = std::min(t_.find('{', pos_), t_.size());
        Node text;
        text.text = std::string(t_.substr(pos_, brace - pos_));
        if (text.text.find('}') != std::string::npos) {
          pos_ += text.text.find('}');
          return fail("'}' without '{'");
        }
        nodes.push_back(std::move(text));
        pos_ = brace;
        continue;
      }
      const std::size_t open = pos_;
      ++pos_;
      skip_spaces();
      if (pos_ >= t_.size()) {
        return fail("'{' is never closed by '}'");
      }
      if (t_[pos_] == '"') {
        auto literal = parse_literal();
        if (!literal) {
          return literal.status();
        }
        KTRAIL_RETURN_IF_ERROR(close_brace());
        Node text;
        text.text = std::move(*literal);
        nodes.push_back(std::move(text));
      } else if (keyword("end")) {
        KTRAIL_RETURN_IF_ERROR(close_brace());
        if (depth == 0) {
          pos_ = open;
          return fail("{end} without a {range}");
        }
        return nodes;
      } else if (keyword("range")) {
        if (depth >= kMaxDepth) {
          return fail("ranges nest deeper than " + std::to_string(kMaxDepth));
        }
        Node range;
        range.kind = Node::Kind::kRange;
        auto path = parse_path();
        if (!path) {
          return path.status();
        }
        range.path = std::move(*path);
        KTRAIL_RETURN_IF_ERROR(close_brace());
        auto body = parse_nodes(depth + 1);
        if (!body) {
          return body.status();
        }
        range.body = std::move(*body);
        nodes.push_back(std::move(range));
      } else {
        Node node;
        node.kind = Node::Kind::kPath;
        auto path = parse_path();
        if (!path) {
          return path.status();
        }
        node.path = std::move(*path);
        KTRAIL_RETURN_IF_ERROR(close_brace());
        nodes.push_back(std::move(node));
      }
    }
    if (depth > 0) {
      return fail("{range} is never closed by {end}");
    }
    return nodes;
  }

  Result<std::string> parse_literal() {
    ++pos_;  // the opening quote
    std::string out;
    while (pos_ < t_.size()) {
      const char c = t_[pos_++];
      if (c == '"') {
        return out;
      }
      if (c != '\\') {
        out += c;
        continue;
      }
      if (pos_ >= t_.size()) {
        break;
      }
      switch (t_[pos_++]) {
        case 'n':
          out += '\n';
          break;
        case 't':
          out += '\t';
          break;
        case 'r':
          out += '\r';
          break;
        case '"':
          out += '"';
          break;
        case '\\':
          out += '\\';
          break;
        default:
          --pos_;
          return fail("unknown escape '\\" + std::string(1, t_[pos_]) +
                      "' (use \\n, \\t, \\r, \\\" or \\\\)");
      }
    }
    return fail("a string is never closed by '\"'");
  }

  Result<Path> parse_path() {
    skip_spaces();
    Path path;
    const std::size_t start = pos_;
    if (pos_ < t_.size() && t_[pos_] == '$') {
      path.from_root = true;
      ++pos_;
    } else if (pos_ < t_.size() && t_[pos_] == '@') {
      ++pos_;
    }
    while (pos_ < t_.size() && t_[pos_] != '}' && t_[pos_] != ' ' && t_[pos_] != '\t') {
      const char c = t_[pos_];
      if (c == '.') {
        ++pos_;
        if (pos_ < t_.size() && t_[pos_] == '.') {
          return fail("recursive descent (..) is not supported");
        }
        if (pos_ < t_.size() && t_[pos_] == '*') {
          ++pos_;
          path.steps.push_back({Step::Kind::kEvery, "", 0});
          continue;
        }
        const std::size_t name = pos_;
        while (pos_ < t_.size() && is_name_char(t_[pos_])) {
          ++pos_;
        }
        if (pos_ == name) {
          if (pos_ >= t_.size() || t_[pos_] == '}' || t_[pos_] == ' ' || t_[pos_] == '[') {
            continue;  // "{.}" is the current value; ".[0]" the same as "[0]"
          }
          return fail(std::string("unexpected '") + t_[pos_] + "' after '.'");
        }
        path.steps.push_back({Step::Kind::kMember, std::string(t_.substr(name, pos_ - name)), 0});
        continue;
      }
      if (c != '[') {
        if (pos_ == start) {
          return fail(std::string("unexpected '") + c + "' (a path starts with ., $, @ or [)");
        }
        return fail(std::string("unexpected '") + c + "'");
      }
      ++pos_;
      if (pos_ >= t_.size()) {
        return fail("'[' is never closed by ']'");
      }
      const char first = t_[pos_];
      if (first == '*') {
        ++pos_;
        path.steps.push_back({Step::Kind::kEvery, "", 0});
      } else if (first == '\'' || first == '"') {
        const std::size_t end = t_.find(first, pos_ + 1);
        if (end == std::string_view::npos) {
          return fail("a quoted name is never closed");
        }
        path.steps.push_back(
            {Step::Kind::kMember, std::string(t_.substr(pos_ + 1, end - pos_ - 1)), 0});
        pos_ = end + 1;
      } else if (first == '-' || std::isdigit(static_cast<unsigned char>(first)) != 0) {
        const bool negative = first == '-';
        pos_ += negative ? 1 : 0;
        long n = 0;
        std::size_t digits = 0;
        while (pos_ < t_.size() && std::isdigit(static_cast<unsigned char>(t_[pos_])) != 0) {
          if (++digits > 9) {
            return fail("index too large");
          }
          n = n * 10 + (t_[pos_++] - '0');
        }
        if (digits == 0) {
          return fail("'-' without a number");
        }
        if (pos_ < t_.size() && t_[pos_] == ':') {
          return fail("slices ([a:b]) are not supported");
        }
        path.steps.push_back({Step::Kind::kIndex, "", negative ? -n : n});
      } else if (first == '?') {
        return fail("filters ([?(...)]) are not supported");
      } else if (first == ':') {
        return fail("slices ([a:b]) are not supported");
      } else {
        return fail(std::string("unexpected '") + first + "' after '['");
      }
      if (pos_ >= t_.size() || t_[pos_] != ']') {
        return fail("'[' is never closed by ']'");
      }
      ++pos_;
    }
    if (pos_ == start) {
      return fail("an empty action (a path, a \"string\", range or end)");
    }
    return path;
  }

  std::string_view t_;
  std::size_t pos_ = 0;
};

void select(const Path& path, const rapidjson::Value& root, const rapidjson::Value& current,
            std::vector<const rapidjson::Value*>* out) {
  std::vector<const rapidjson::Value*> now = {path.from_root ? &root : &current};
  std::vector<const rapidjson::Value*> next;
  for (const Step& step : path.steps) {
    next.clear();
    for (const rapidjson::Value* v : now) {
      switch (step.kind) {
        case Step::Kind::kMember:
          if (v->IsObject()) {
            auto it = v->FindMember(rapidjson::StringRef(step.name.data(), step.name.size()));
            if (it != v->MemberEnd()) {
              next.push_back(&it->value);
            }
          }
          break;
        case Step::Kind::kEvery:
          if (v->IsArray()) {
            for (const auto& e : v->GetArray()) {
              next.push_back(&e);
            }
          } else if (v->IsObject()) {
            for (const auto& m : v->GetObject()) {
              next.push_back(&m.value);
            }
          }
          break;
        case Step::Kind::kIndex:
          if (v->IsArray()) {
            const long size = static_cast<long>(v->Size());
            const long i = step.index < 0 ? step.index + size : step.index;
            if (i >= 0 && i < size) {
              next.push_back(&(*v)[static_cast<rapidjson::SizeType>(i)]);
            }
          }
          break;
      }
    }
    now.swap(next);
  }
  *out = std::move(now);
}

void print_value(const rapidjson::Value& v, std::string* out) {
  if (v.IsString()) {
    out->append(v.GetString(), v.GetStringLength());
    return;
  }
  if (v.IsNull()) {
    return;
  }
  rapidjson::StringBuffer b;
  rapidjson::Writer<rapidjson::StringBuffer> w(b);
  v.Accept(w);
  out->append(b.GetString(), b.GetSize());
}

// Prints the values of `path`, each after a space unless it is the first (`*first`).
void print_path(const Path& path, const rapidjson::Value& root, const rapidjson::Value& current,
                bool* first, std::string* out) {
  std::vector<const rapidjson::Value*> values;
  select(path, root, current, &values);
  for (const rapidjson::Value* v : values) {
    if (!*first) {
      out->push_back(' ');
    }
    *first = false;
    print_value(*v, out);
  }
}

void run(const std::vector<Node>& nodes, const rapidjson::Value& root,
         const rapidjson::Value& current, std::string* out) {
  for (const Node& n : nodes) {
    switch (n.kind) {
      case Node::Kind::kText:
        out->append(n.text);
        break;
      case Node::Kind::kPath: {
        bool first = true;
        print_path(n.path, root, current, &first, out);
        break;
      }
      case Node::Kind::kRange: {
        std::vector<const rapidjson::Value*> values;
        select(n.path, root, current, &values);
        for (const rapidjson::Value* v : values) {
          run(n.body, root, *v, out);
        }
        break;
      }
    }
  }
}

bool uses_root(const std::vector<Node>& nodes) {
  for (const Node& n : nodes) {
    if ((n.kind != Node::Kind::kText && n.path.from_root) || uses_root(n.body)) {
      return true;
    }
  }
  return false;
}

// Whether `path` is .items[*] followed by anything.
bool over_items(const Path& path) {
  return path.steps.size() >= 2 && path.steps[0].kind == Step::Kind::kMember &&
         path.steps[0].name == "items" && path.steps[1].kind == Step::Kind::kEvery;
}

}  // namespace

Result<JsonPath> JsonPath::compile(std::string_view text) {
  if (text.size() > kMaxTemplate) {
    return invalid_argument("jsonpath: the template is longer than 64 KiB");
  }
  if (text.empty()) {
    return invalid_argument("jsonpath: the template is empty (e.g. -o jsonpath='{.items[*].id}')");
  }
  Parser parser(text);
  auto nodes = parser.parse();
  if (!nodes) {
    return nodes.status();
  }
  JsonPath out;
  out.nodes_ = std::move(*nodes);
  long candidate = -1;
  for (std::size_t i = 0; i < out.nodes_.size(); ++i) {
    const Node& n = out.nodes_[i];
    if (n.kind == Node::Kind::kText) {
      continue;
    }
    const bool streams = over_items(n.path) &&
                         (n.kind == Node::Kind::kPath || n.path.steps.size() == 2) &&
                         !uses_root(n.body);
    if (!streams || candidate >= 0) {
      candidate = -1;
      break;
    }
    candidate = static_cast<long>(i);
  }
  out.per_item_ = candidate;
  return out;
}

void JsonPath::execute(const rapidjson::Value& root, std::string* out) const {
  run(nodes_, root, root, out);
}

void JsonPath::begin(std::string* out) const {
  for (long i = 0; i < per_item_; ++i) {
    out->append(nodes_[static_cast<std::size_t>(i)].text);
  }
}

void JsonPath::item(const rapidjson::Value& row, bool* first, std::string* out) const {
  const Node& n = nodes_[static_cast<std::size_t>(per_item_)];
  if (n.kind == Node::Kind::kRange) {
    run(n.body, row, row, out);
    return;
  }
  Path rest;
  rest.steps.assign(n.path.steps.begin() + 2, n.path.steps.end());
  print_path(rest, row, row, first, out);
}

void JsonPath::end(std::string* out) const {
  for (std::size_t i = static_cast<std::size_t>(per_item_) + 1; i < nodes_.size(); ++i) {
    out->append(nodes_[i].text);
  }
}

}  // namespace ktrail::query
