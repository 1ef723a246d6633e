#include "detect/condition.h"

#include <cctype>

namespace ktrail::detect {
namespace {

struct OpName {
  const char* text;
  CmpOp op;
};

// Word operators; symbols are read separately.
constexpr OpName kWordOps[] = {
    {"contains", CmpOp::kContains},     {"icontains", CmpOp::kIContains},
    {"startswith", CmpOp::kStartsWith}, {"endswith", CmpOp::kEndsWith},
    {"glob", CmpOp::kGlob},             {"iglob", CmpOp::kIGlob},
    {"pmatch", CmpOp::kPMatch},         {"in", CmpOp::kIn},
    {"intersects", CmpOp::kIntersects}, {"exists", CmpOp::kExists},
};

// Operators of Falco's language that ktrail refuses (named in the error).
constexpr const char* kUnsupportedOps[] = {"bcontains", "bstartswith", "regex"};

bool is_ident_start(char c) { return std::isalpha(static_cast<unsigned char>(c)) || c == '_'; }
bool is_ident_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-';
}
bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f'; }

class Parser {
 public:
  Parser(std::string_view text, ParseError* error) : s_(text), error_(error) {}

  std::unique_ptr<Expr> parse() {
    auto e = parse_or(0);
    if (!e) {
      return nullptr;
    }
    skip_space();
    if (i_ < s_.size()) {
      return fail(i_, "unexpected '" + std::string(1, s_[i_]) + "'" +
                          (s_[i_] == ')' ? " (unbalanced parentheses)" : ""));
    }
    return e;
  }

 private:
  std::unique_ptr<Expr> fail(std::size_t pos, std::string message) {
    if (!failed_) {
      failed_ = true;
      error_->pos = pos;
      error_->message = std::move(message);
    }
    return nullptr;
  }

  void skip_space() {
    while (i_ < s_.size() && is_space(s_[i_])) {
      ++i_;
    }
  }

  // Whether the keyword `word` is next (followed by a non-identifier character).
  bool peek_word(std::string_view word) {
    skip_space();
    if (s_.substr(i_, word.size()) != word) {
      return false;
    }
    const std::size_t end = i_ + word.size();
    return end >= s_.size() || !is_ident_char(s_[end]);
  }

  std::unique_ptr<Expr> binary(Expr::Kind kind, std::unique_ptr<Expr> left,
                               std::unique_ptr<Expr> right) {
    if (left->kind == kind) {
      left->children.push_back(std::move(right));
      return left;
    }
    auto e = std::make_unique<Expr>();
    e->kind = kind;
    e->pos = left->pos;
    e->children.push_back(std::move(left));
    e->children.push_back(std::move(right));
    return e;
  }

  std::unique_ptr<Expr> parse_or(int depth) {
    auto left = parse_and(depth);
    while (left && peek_word("or")) {
      i_ += 2;
      auto right = parse_and(depth);
      if (!right) {
        return nullptr;
      }
      left = binary(Expr::Kind::kOr, std::move(left), std::move(right));
    }
    return left;
  }

  std::unique_ptr<Expr> parse_and(int depth) {
    auto left = parse_not(depth);
    while (left && peek_word("and")) {
      i_ += 3;
      auto right = parse_not(depth);
      if (!right) {
        return nullptr;
      }
      left = binary(Expr::Kind::kAnd, std::move(left), std::move(right));
    }
    return left;
  }

  std::unique_ptr<Expr> parse_not(int depth) {
    if (depth > kMaxDepth) {
      return fail(i_, "nesting deeper than " + std::to_string(kMaxDepth) + " levels");
    }
    if (peek_word("not")) {
      const std::size_t pos = i_;
      i_ += 3;
      auto inner = parse_not(depth + 1);
      if (!inner) {
        return nullptr;
      }
      auto e = std::make_unique<Expr>();
      e->kind = Expr::Kind::kNot;
      e->pos = pos;
      e->children.push_back(std::move(inner));
      return e;
    }
    return parse_primary(depth);
  }

  std::unique_ptr<Expr> parse_primary(int depth) {
    skip_space();
    if (i_ >= s_.size()) {
      return fail(i_, "unexpected end of condition");
    }
    if (s_[i_] == '(') {
      const std::size_t open = i_;
      ++i_;
      auto inner = parse_or(depth + 1);
      if (!inner) {
        return nullptr;
      }
      skip_space();
      if (i_ >= s_.size() || s_[i_] != ')') {
        return fail(open, "unbalanced parentheses: '(' is not closed");
      }
      ++i_;
      return inner;
    }
    if (!is_ident_start(s_[i_])) {
      return fail(i_, "expected a field, a macro, 'not' or '(' but found '" +
                          std::string(1, s_[i_]) + "'");
    }
    const std::size_t start = i_;
    while (i_ < s_.size() && is_ident_char(s_[i_])) {
      ++i_;
    }
    std::string name(s_.substr(start, i_ - start));
    if (name == "and" || name == "or") {
      return fail(start, "'" + name + "' without a left operand");
    }
    auto e = std::make_unique<Expr>();
    e->pos = start;
    e->name = name;
    if (i_ < s_.size() && s_[i_] == '[') {
      const std::size_t close = s_.find(']', i_);
      if (close == std::string_view::npos) {
        return fail(i_, "'[' of field '" + name + "' is not closed");
      }
      e->arg = std::string(s_.substr(i_ + 1, close - i_ - 1));
      e->has_arg = true;
      i_ = close + 1;
    }
    // A name without a dot and without argument is a macro (Falco's fields all have a dot).
    if (name.find('.') == std::string::npos && !e->has_arg) {
      e->kind = Expr::Kind::kMacro;
      return e;
    }
    e->kind = Expr::Kind::kCheck;
    if (!parse_operator(e.get())) {
      return nullptr;
    }
    if (e->op == CmpOp::kExists) {
      return e;
    }
    skip_space();
    if (i_ < s_.size() && s_[i_] == '(') {
      e->list_syntax = true;
      if (!parse_list(e.get())) {
        return nullptr;
      }
    } else {
      if (e->op == CmpOp::kIn || e->op == CmpOp::kIntersects || e->op == CmpOp::kPMatch) {
        return fail(i_, std::string("operator '") + to_string(e->op) +
                            "' takes a list in parentheses");
      }
      Operand v;
      if (!parse_value(&v)) {
        return nullptr;
      }
      e->operands.push_back(std::move(v));
    }
    return e;
  }

  bool parse_operator(Expr* e) {
    skip_space();
    const std::size_t pos = i_;
    auto sym = [&](std::string_view t) { return s_.substr(i_, t.size()) == t; };
    if (sym("==")) {
      e->op = CmpOp::kEq, i_ += 2;
    } else if (sym("!=")) {
      e->op = CmpOp::kNe, i_ += 2;
    } else if (sym("<=")) {
      e->op = CmpOp::kLe, i_ += 2;
    } else if (sym(">=")) {
      e->op = CmpOp::kGe, i_ += 2;
    } else if (sym("=")) {
      e->op = CmpOp::kEq, i_ += 1;
    } else if (sym("<")) {
      e->op = CmpOp::kLt, i_ += 1;
    } else if (sym(">")) {
      e->op = CmpOp::kGt, i_ += 1;
    } else {
      std::size_t end = i_;
      while (end < s_.size() && is_ident_char(s_[end])) {
        ++end;
      }
      const std::string_view word = s_.substr(i_, end - i_);
      for (const auto& w : kWordOps) {
        if (word == w.text) {
          e->op = w.op;
          i_ = end;
          return true;
        }
      }
      for (const char* u : kUnsupportedOps) {
        if (word == u) {
          fail(pos, "operator '" + std::string(word) + "' is not supported by ktrail");
          return false;
        }
      }
      fail(pos, word.empty() ? "expected an operator after field '" + e->name + "'"
                             : "unknown operator '" + std::string(word) + "' after field '" +
                                   e->name + "'");
      return false;
    }
    return true;
  }

  bool parse_value(Operand* v) {
    skip_space();
    v->pos = i_;
    if (i_ >= s_.size()) {
      fail(i_, "expected a value");
      return false;
    }
    const char c = s_[i_];
    if (c == '"' || c == '\'') {
      v->quoted = true;
      ++i_;
      while (i_ < s_.size() && s_[i_] != c) {
        if (s_[i_] == '\\' && i_ + 1 < s_.size()) {
          ++i_;
          const char n = s_[i_];
          v->text += n == 'n' ? '\n' : n == 't' ? '\t' : n;
        } else {
          v->text += s_[i_];
        }
        ++i_;
      }
      if (i_ >= s_.size()) {
        fail(v->pos, "unterminated quoted string");
        return false;
      }
      ++i_;
      return true;
    }
    while (i_ < s_.size() && !is_space(s_[i_]) && s_[i_] != '(' && s_[i_] != ')' &&
           s_[i_] != ',') {
      v->text += s_[i_++];
    }
    if (v->text.empty()) {
      fail(v->pos, "expected a value but found '" + std::string(1, s_[i_]) + "'");
      return false;
    }
    return true;
  }

  bool parse_list(Expr* e) {
    const std::size_t open = i_;
    ++i_;
    skip_space();
    if (i_ < s_.size() && s_[i_] == ')') {
      ++i_;
      return true;
    }
    while (true) {
      Operand v;
      if (!parse_value(&v)) {
        return false;
      }
      e->operands.push_back(std::move(v));
      skip_space();
      if (i_ >= s_.size()) {
        fail(open, "unbalanced parentheses: the list's '(' is not closed");
        return false;
      }
      if (s_[i_] == ',') {
        ++i_;
        continue;
      }
      if (s_[i_] == ')') {
        ++i_;
        return true;
      }
      fail(i_, "expected ',' or ')' in a list");
      return false;
    }
  }

  std::string_view s_;
  std::size_t i_ = 0;
  ParseError* error_;
  bool failed_ = false;
};

}  // namespace

const char* to_string(CmpOp op) {
  switch (op) {
    case CmpOp::kEq: return "=";
    case CmpOp::kNe: return "!=";
    case CmpOp::kLt: return "<";
    case CmpOp::kLe: return "<=";
    case CmpOp::kGt: return ">";
    case CmpOp::kGe: return ">=";
    case CmpOp::kContains: return "contains";
    case CmpOp::kIContains: return "icontains";
    case CmpOp::kStartsWith: return "startswith";
    case CmpOp::kEndsWith: return "endswith";
    case CmpOp::kGlob: return "glob";
    case CmpOp::kIGlob: return "iglob";
    case CmpOp::kPMatch: return "pmatch";
    case CmpOp::kIn: return "in";
    case CmpOp::kIntersects: return "intersects";
    case CmpOp::kExists: return "exists";
  }
  return "?";
}

std::unique_ptr<Expr> parse_condition(std::string_view text, ParseError* error) {
  return Parser(text, error).parse();
}

}  // namespace ktrail::detect
