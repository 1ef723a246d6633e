// Falco's condition language, parsed: `and`, `or`, `not`, parentheses, macro names, and field
// checks (`field op value`, `field op (v1, v2)`, `field exists`). This is the syntax only;
// detect/compiler.h expands macros and lists and resolves fields.
//
// Precedence as in Falco: `not` binds tightest, then `and`, then `or`. Values are bare words
// (anything up to white space, a comma or a parenthesis) or quoted strings ('...' or "...",
// with backslash escapes). Nesting is bounded (kMaxDepth) so that hostile input cannot exhaust
// the stack; errors give the character offset in the condition text.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace ktrail::detect {

constexpr int kMaxDepth = 500;

enum class CmpOp {
  kEq, kNe, kLt, kLe, kGt, kGe,
  kContains, kIContains, kStartsWith, kEndsWith, kGlob, kIGlob, kPMatch,
  kIn, kIntersects, kExists,
};
const char* to_string(CmpOp op);

struct Operand {
  std::string text;
  bool quoted = false;
  std::size_t pos = 0;
};

struct Expr {
  enum class Kind { kAnd, kOr, kNot, kMacro, kCheck };
  Kind kind = Kind::kCheck;
  std::size_t pos = 0;  // offset in the condition text
  std::vector<std::unique_ptr<Expr>> children;
  // kMacro: the name. kCheck: the field name, as written, without argument.
  std::string name;
  std::string arg;
  bool has_arg = false;
  CmpOp op = CmpOp::kExists;
  bool list_syntax = false;  // the operand was written in parentheses
  std::vector<Operand> operands;
};

struct ParseError {
  std::size_t pos = 0;
  std::string message;
};

// Parses a whole condition. On failure, `error` says what and where.
std::unique_ptr<Expr> parse_condition(std::string_view text, ParseError* error);

}  // namespace ktrail::detect
