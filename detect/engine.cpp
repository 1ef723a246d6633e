#include "detect/engine.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdlib>
#include <map>
#include <optional>
#include <set>

#include "detect/condition.h"
#include "detect/default_rules.h"
#include "detect/event_view.h"

namespace ktrail::detect {

struct Node {
  enum class Kind { kAnd, kOr, kNot, kCheck };
  Kind kind = Kind::kCheck;
  std::vector<std::unique_ptr<Node>> kids;
  FieldRef field;
  CmpOp op = CmpOp::kExists;
  std::string value;               // single operand
  std::string lower;               // lower-cased operand (icontains, iglob)
  double number = 0;               // numeric operand (<, <=, >, >=)
  std::vector<std::string> set;    // sorted operands (in, intersects), as given (pmatch)
  // Slot of this node's result in the per-event memo, or -1. Subtrees that several rules share
  // (macros such as "done" or "public_source" expand into every rule that names them) get a
  // slot, so that each is evaluated once per event whatever the number of rules.
  int memo = -1;
};

CompiledRule::CompiledRule() = default;
CompiledRule::~CompiledRule() = default;
CompiledRule::CompiledRule(CompiledRule&&) noexcept = default;
CompiledRule& CompiledRule::operator=(CompiledRule&&) noexcept = default;

namespace {

enum Tri : std::uint8_t { kFalse, kTrue, kError };

std::string lower_of(std::string_view s) {
  std::string out(s);
  for (auto& c : out) {
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return out;
}

bool parse_number(std::string_view s, double* out) {
  if (s.empty()) {
    return false;
  }
  // from_chars takes no leading '+', which strtod (the reference) accepts.
  std::string_view digits = s[0] == '+' && s.size() > 1 && s[1] != '-' ? s.substr(1) : s;
  const auto r = std::from_chars(digits.data(), digits.data() + digits.size(), *out);
  if (r.ec == std::errc() && r.ptr == digits.data() + digits.size()) {
    return true;
  }
  // Hexadecimal, inf/nan spellings and out-of-range values: as strtod reads them.
  std::string text(s);
  char* end = nullptr;
  *out = std::strtod(text.c_str(), &end);
  return end == text.c_str() + text.size();
}

bool in_set(const std::vector<std::string>& set, std::string_view v) {
  auto it = std::lower_bound(set.begin(), set.end(), v,
                             [](const std::string& a, std::string_view b) { return a < b; });
  return it != set.end() && *it == v;
}

bool path_match(const std::vector<std::string>& prefixes, std::string_view v) {
  for (std::string_view p : prefixes) {
    while (p.size() > 1 && p.back() == '/') {
      p.remove_suffix(1);
    }
    if (p == "/" && !v.empty() && v[0] == '/') {
      return true;
    }
    if (v.substr(0, p.size()) == p && (v.size() == p.size() || v[p.size()] == '/')) {
      return true;
    }
  }
  return false;
}

// Shell pattern matching (`*`, `?`, `[...]` with ranges and `!`/`^` negation), as fnmatch
// without flags, on views (no copies per comparison).
bool class_match(std::string_view p, std::size_t* i, char c, bool fold) {
  std::size_t k = *i + 1;
  bool negate = false;
  if (k < p.size() && (p[k] == '!' || p[k] == '^')) {
    negate = true;
    ++k;
  }
  bool matched = false;
  bool first = true;
  while (k < p.size() && (first || p[k] != ']')) {
    first = false;
    char lo = p[k];
    char hi = lo;
    if (k + 2 < p.size() && p[k + 1] == '-' && p[k + 2] != ']') {
      hi = p[k + 2];
      k += 2;
    }
    char x = c;
    if (fold) {
      x = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
    matched = matched || (lo <= x && x <= hi);
    ++k;
  }
  if (k >= p.size()) {
    return false;  // no closing ']': the caller treats '[' literally
  }
  *i = k;  // at ']'
  return matched != negate;
}

bool glob_match(std::string_view p, std::string_view t, bool fold) {
  std::size_t pi = 0;
  std::size_t ti = 0;
  std::size_t star_p = std::string_view::npos;
  std::size_t star_t = 0;
  auto lower = [&](char c) {
    return fold ? static_cast<char>(std::tolower(static_cast<unsigned char>(c))) : c;
  };
  while (ti < t.size()) {
    bool advanced = false;
    if (pi < p.size()) {
      const char pc = p[pi];
      if (pc == '*') {
        star_p = pi++;
        star_t = ti;
        continue;
      }
      if (pc == '?') {
        ++pi;
        ++ti;
        advanced = true;
      } else if (pc == '[' && p.find(']', pi + 2) != std::string_view::npos) {
        std::size_t k = pi;
        if (class_match(p, &k, t[ti], fold)) {
          pi = k + 1;
          ++ti;
          advanced = true;
        }
      } else {
        std::size_t k = pi;
        char want = pc;
        if (pc == '\\' && k + 1 < p.size()) {
          want = p[++k];
        }
        if (lower(want) == lower(t[ti])) {
          pi = k + 1;
          ++ti;
          advanced = true;
        }
      }
    }
    if (!advanced) {
      if (star_p == std::string_view::npos) {
        return false;
      }
      pi = star_p + 1;
      ti = ++star_t;
    }
  }
  while (pi < p.size() && p[pi] == '*') {
    ++pi;
  }
  return pi == p.size();
}

bool icontains(std::string_view hay, const std::string& needle_lower) {
  if (needle_lower.size() > hay.size()) {
    return false;
  }
  for (std::size_t i = 0; i + needle_lower.size() <= hay.size(); ++i) {
    std::size_t k = 0;
    while (k < needle_lower.size() &&
           std::tolower(static_cast<unsigned char>(hay[i + k])) ==
               static_cast<unsigned char>(needle_lower[k])) {
      ++k;
    }
    if (k == needle_lower.size()) {
      return true;
    }
  }
  return false;
}

// One value against one single-operand check; kError when the comparison cannot be made.
Tri compare_one(const Node& n, std::string_view v) {
  switch (n.op) {
    case CmpOp::kEq:
      if (n.field.info->type == FieldType::kNumber) {
        double a = 0;
        return parse_number(v, &a) && a == n.number ? kTrue : kFalse;
      }
      return v == n.value ? kTrue : kFalse;
    case CmpOp::kNe:
      return v != n.value ? kTrue : kFalse;
    case CmpOp::kLt:
    case CmpOp::kLe:
    case CmpOp::kGt:
    case CmpOp::kGe: {
      double a = 0;
      if (!parse_number(v, &a)) {
        return kError;
      }
      const double b = n.number;
      const bool r = n.op == CmpOp::kLt   ? a < b
                     : n.op == CmpOp::kLe ? a <= b
                     : n.op == CmpOp::kGt ? a > b
                                          : a >= b;
      return r ? kTrue : kFalse;
    }
    case CmpOp::kContains:
      return v.find(n.value) != std::string_view::npos ? kTrue : kFalse;
    case CmpOp::kIContains:
      return icontains(v, n.lower) ? kTrue : kFalse;
    case CmpOp::kStartsWith:
      return v.substr(0, n.value.size()) == n.value ? kTrue : kFalse;
    case CmpOp::kEndsWith:
      return v.size() >= n.value.size() && v.substr(v.size() - n.value.size()) == n.value
                 ? kTrue
                 : kFalse;
    case CmpOp::kGlob:
      return glob_match(n.value, v, false) ? kTrue : kFalse;
    case CmpOp::kIGlob:
      return glob_match(n.lower, v, true) ? kTrue : kFalse;
    default:
      return kError;
  }
}

// Per-event results of the shared subtrees: 0 not evaluated yet, else Tri + 1.
using Memo = std::uint8_t*;

Tri eval(const Node& n, EventView& view, Values& scratch, Memo memo);

Tri eval_node(const Node& n, EventView& view, Values& scratch, Memo memo) {
  switch (n.kind) {
    case Node::Kind::kAnd:
      for (const auto& k : n.kids) {
        const Tri r = eval(*k, view, scratch, memo);
        if (r != kTrue) {
          return r;
        }
      }
      return kTrue;
    case Node::Kind::kOr:
      for (const auto& k : n.kids) {
        const Tri r = eval(*k, view, scratch, memo);
        if (r != kFalse) {
          return r;
        }
      }
      return kFalse;
    case Node::Kind::kNot: {
      const Tri r = eval(*n.kids[0], view, scratch, memo);
      return r == kError ? kError : r == kTrue ? kFalse : kTrue;
    }
    case Node::Kind::kCheck:
      break;
  }
  if (!n.field.extract(view, &scratch)) {
    return kFalse;
  }
  switch (n.op) {
    case CmpOp::kExists:
      return kTrue;
    case CmpOp::kIn:
      if (n.field.info->is_list) {
        for (auto v : scratch) {
          if (!in_set(n.set, v)) {
            return kFalse;
          }
        }
        return kTrue;
      }
      return !scratch.empty() && in_set(n.set, scratch[0]) ? kTrue : kFalse;
    case CmpOp::kIntersects:
      for (auto v : scratch) {
        if (in_set(n.set, v)) {
          return kTrue;
        }
      }
      return kFalse;
    case CmpOp::kPMatch:
      for (auto v : scratch) {
        if (path_match(n.set, v)) {
          return kTrue;
        }
      }
      return kFalse;
    case CmpOp::kNe:
      // No value equal to the operand.
      for (auto v : scratch) {
        if (v == n.value) {
          return kFalse;
        }
      }
      return scratch.empty() ? kFalse : kTrue;
    default:
      for (auto v : scratch) {
        const Tri r = compare_one(n, v);
        if (r != kFalse) {
          return r;
        }
      }
      return kFalse;
  }
}

Tri eval(const Node& n, EventView& view, Values& scratch, Memo memo) {
  if (n.memo < 0) {
    return eval_node(n, view, scratch, memo);
  }
  std::uint8_t& slot = memo[n.memo];
  if (slot == 0) {
    slot = static_cast<std::uint8_t>(eval_node(n, view, scratch, memo) + 1);
  }
  return static_cast<Tri>(slot - 1);
}

// Gives a memo slot to every subtree that occurs more than once across the rules: nodes are
// keyed by their structure (a check by field, operator and operands; an and/or/not by the keys
// of its children), so identical subtrees from one macro, or written alike, share a key.
class Sharing {
 public:
  void count(Node* n) { key_of(n); }
  // Turns keys into slots for shared subtrees; returns the number of slots.
  std::size_t assign(const std::vector<Node*>& roots) {
    std::vector<int> slot_of(uses_.size(), -1);
    std::size_t slots = 0;
    for (Node* root : roots) {
      place(root, &slot_of, &slots);
    }
    return slots;
  }

 private:
  int key_of(Node* n) {
    std::string key;
    if (n->kind == Node::Kind::kCheck) {
      key = "c" + n->field.name() + '\0' + std::to_string(static_cast<int>(n->op)) + '\0' +
            n->value;
      for (const auto& v : n->set) {
        key += '\0';
        key += v;
      }
    } else {
      key = std::to_string(static_cast<int>(n->kind)) + ":";
      for (auto& k : n->kids) {
        key += std::to_string(key_of(k.get())) + ",";
      }
    }
    auto [it, added] = ids_.try_emplace(std::move(key), static_cast<int>(uses_.size()));
    if (added) {
      uses_.push_back(0);
    }
    ++uses_[it->second];
    n->memo = it->second;  // the key id, until place() turns it into a slot
    return it->second;
  }

  void place(Node* n, std::vector<int>* slot_of, std::size_t* slots) {
    const int id = n->memo;
    n->memo = -1;
    if (uses_[id] > 1) {
      if ((*slot_of)[id] < 0) {
        (*slot_of)[id] = static_cast<int>((*slots)++);
      }
      n->memo = (*slot_of)[id];
    }
    for (auto& k : n->kids) {
      place(k.get(), slot_of, slots);
    }
  }

  std::map<std::string, int> ids_;
  std::vector<int> uses_;
};

bool is_numeric_op(CmpOp op) {
  return op == CmpOp::kLt || op == CmpOp::kLe || op == CmpOp::kGt || op == CmpOp::kGe;
}

bool is_set_op(CmpOp op) {
  return op == CmpOp::kIn || op == CmpOp::kIntersects || op == CmpOp::kPMatch;
}

// Compiles rules of one RuleSet; reports with the right file positions.
class Compiler {
 public:
  Compiler(const RuleSet& set, Diagnostics* diags) : set_(set), diags_(diags) {}

  bool prepare() {
    for (const auto& l : set_.lists) {
      lists_[l.name] = &l;
    }
    for (const auto& m : set_.macros) {
      ParseError err;
      auto expr = parse_condition(m.condition, &err);
      if (!expr) {
        diags_->error(m.where, "macro '" + m.name + "': " + err.message + " at character " +
                                   std::to_string(err.pos + 1) + near(m.condition, err.pos));
        continue;
      }
      macros_[m.name] = {&m, std::move(expr)};
    }
    return !diags_->has_errors();
  }

  // A compiled rule, or nothing (error reported, or skipped with a warning).
  bool compile_rule(const RuleDef& r, CompiledRule* out) {
    rule_ = &r;
    skipped_ = false;
    ParseError err;
    auto expr = parse_condition(r.condition, &err);
    if (!expr) {
      diags_->error(r.condition_where, "rule '" + r.name + "': " + err.message +
                                           " at character " + std::to_string(err.pos + 1) +
                                           near(r.condition, err.pos));
      return false;
    }
    std::vector<std::string> stack;
    auto cond = compile(*expr, r.condition_where, "rule '" + r.name + "'", &stack, 0);
    if (!cond) {
      return false;
    }
    auto exceptions = compile_exceptions(r);
    if (skipped_) {
      return false;
    }
    if (exceptions) {
      auto n = std::make_unique<Node>();
      n->kind = Node::Kind::kNot;
      n->kids.push_back(std::move(exceptions));
      auto both = std::make_unique<Node>();
      both->kind = Node::Kind::kAnd;
      both->kids.push_back(std::move(cond));
      both->kids.push_back(std::move(n));
      cond = std::move(both);
    } else if (diags_->has_errors()) {
      return false;
    }
    if (!compile_output(r, &out->output)) {
      return false;
    }
    out->name = r.name;
    out->rank = priority_rank(r.priority);
    out->priority = priority_name(out->rank);
    out->tags = r.tags;
    out->condition = std::move(cond);
    out->where = r.where;
    return true;
  }

  void warn_unused() {
    for (const auto& m : set_.macros) {
      if (!used_macros_.count(m.name)) {
        diags_->warn(m.where, "macro '" + m.name + "' is not used by any rule");
      }
    }
    for (const auto& l : set_.lists) {
      if (!used_lists_.count(l.name)) {
        diags_->warn(l.where, "list '" + l.name + "' is not used by any rule");
      }
    }
  }

 private:
  static std::string near(std::string_view text, std::size_t pos) {
    if (pos >= text.size()) {
      return " (at the end)";
    }
    std::string s(text.substr(pos, 24));
    std::replace(s.begin(), s.end(), '\n', ' ');
    return " (near '" + s + "')";
  }

  // The expanded items of a list (its items that name lists replaced by their items).
  void expand_list(const std::string& name, std::vector<std::string>* out,
                   std::set<std::string>* seen) {
    used_lists_.insert(name);
    if (!seen->insert(name).second) {
      return;
    }
    for (const auto& item : lists_.at(name)->items) {
      if (lists_.count(item)) {
        expand_list(item, out, seen);
      } else {
        out->push_back(item);
      }
    }
  }

  bool unknown_field(const Location& where, const std::string& what, const std::string& message) {
    if (rule_ != nullptr && rule_->skip_if_unknown_filter) {
      diags_->warn(where, what + ": " + message + "; rule skipped (skip-if-unknown-filter)");
      skipped_ = true;
    } else {
      diags_->error(where, what + ": " + message);
    }
    return false;
  }

  std::unique_ptr<Node> compile(const Expr& e, const Location& where, const std::string& what,
                                std::vector<std::string>* stack, int depth) {
    if (depth > kMaxDepth) {
      diags_->error(where, what + ": conditions nest deeper than " + std::to_string(kMaxDepth) +
                               " levels after expanding macros");
      return nullptr;
    }
    auto n = std::make_unique<Node>();
    switch (e.kind) {
      case Expr::Kind::kAnd:
      case Expr::Kind::kOr:
      case Expr::Kind::kNot:
        n->kind = e.kind == Expr::Kind::kAnd   ? Node::Kind::kAnd
                  : e.kind == Expr::Kind::kOr ? Node::Kind::kOr
                                              : Node::Kind::kNot;
        for (const auto& c : e.children) {
          auto k = compile(*c, where, what, stack, depth + 1);
          if (!k) {
            return nullptr;
          }
          n->kids.push_back(std::move(k));
        }
        return n;
      case Expr::Kind::kMacro: {
        auto it = macros_.find(e.name);
        if (it == macros_.end()) {
          diags_->error(where, what + ": undefined macro '" + e.name + "' at character " +
                                   std::to_string(e.pos + 1) +
                                   (lists_.count(e.name) ? " (it is a list; use it in (...))"
                                                         : ""));
          return nullptr;
        }
        if (std::find(stack->begin(), stack->end(), e.name) != stack->end()) {
          std::string chain;
          for (const auto& s : *stack) {
            chain += s + " -> ";
          }
          diags_->error(it->second.def->where,
                        "macro '" + e.name + "' refers to itself: " + chain + e.name);
          return nullptr;
        }
        used_macros_.insert(e.name);
        stack->push_back(e.name);
        auto k = compile(*it->second.expr, it->second.def->where,
                         "macro '" + e.name + "'", stack, depth + 1);
        stack->pop_back();
        return k;
      }
      case Expr::Kind::kCheck:
        break;
    }
    auto field = resolve_field(e.name, e.arg, e.has_arg);
    if (!field) {
      unknown_field(where, what, field.status().message() + " at character " +
                                     std::to_string(e.pos + 1));
      return nullptr;
    }
    n->field = std::move(*field);
    n->op = e.op;
    if (e.op == CmpOp::kExists) {
      return n;
    }
    std::vector<std::string> values;
    for (const auto& v : e.operands) {
      if (e.list_syntax && !v.quoted && lists_.count(v.text)) {
        std::set<std::string> seen;
        expand_list(v.text, &values, &seen);
      } else {
        if (e.list_syntax && !v.quoted && looks_like_list_name(v.text)) {
          diags_->warn(where, what + ": '" + v.text + "' at character " +
                                  std::to_string(v.pos + 1) +
                                  " is not a defined list; it is taken as a literal string");
        }
        values.push_back(v.text);
      }
    }
    if (is_set_op(e.op)) {
      n->set = values;
      if (e.op != CmpOp::kPMatch) {
        std::sort(n->set.begin(), n->set.end());
        n->set.erase(std::unique(n->set.begin(), n->set.end()), n->set.end());
      }
      return n;
    }
    if (e.list_syntax && values.size() != 1) {
      diags_->error(where, what + ": operator '" + to_string(e.op) + "' at character " +
                               std::to_string(e.pos + 1) + " takes one value, not a list");
      return nullptr;
    }
    n->value = values.empty() ? std::string() : values[0];
    n->lower = lower_of(n->value);
    if (is_numeric_op(e.op) || n->field.info->type == FieldType::kNumber) {
      if (!parse_number(n->value, &n->number)) {
        if (is_numeric_op(e.op)) {
          diags_->error(where, what + ": operator '" + to_string(e.op) + "' needs a number, not '" +
                                   n->value + "'");
          return nullptr;
        }
        n->number = -1;  // never equal to a timestamp
      }
    }
    if (is_numeric_op(e.op) && n->field.info->type == FieldType::kString) {
      diags_->warn(where, what + ": '" + n->field.name() + " " + to_string(e.op) + " " + n->value +
                              "': the field is text; the comparison fails (and the rule does not "
                              "match) on events where its value is not a number");
    }
    return n;
  }

  static bool looks_like_list_name(const std::string& s) {
    if (s.find('_') == std::string::npos || s.empty() || !std::islower(static_cast<unsigned char>(s[0]))) {
      return false;
    }
    return std::all_of(s.begin(), s.end(), [](char c) {
      return std::islower(static_cast<unsigned char>(c)) || std::isdigit(static_cast<unsigned char>(c)) || c == '_';
    });
  }

  std::unique_ptr<Node> compile_exceptions(const RuleDef& r) {
    auto any = std::make_unique<Node>();
    any->kind = Node::Kind::kOr;
    const std::string what = "rule '" + r.name + "'";
    for (const auto& ex : r.exceptions) {
      const std::string ew = what + ": exception '" + ex.name + "'";
      std::vector<FieldRef> fields;
      for (const auto& f : ex.fields) {
        const auto bracket = f.find('[');
        std::string name = f.substr(0, bracket);
        std::string arg;
        if (bracket != std::string::npos) {
          arg = f.substr(bracket + 1, f.size() - bracket - 2);
        }
        auto ref = resolve_field(name, arg, bracket != std::string::npos);
        if (!ref) {
          unknown_field(ex.where, ew, ref.status().message());
          return nullptr;
        }
        fields.push_back(std::move(*ref));
      }
      std::vector<CmpOp> comps;
      for (std::size_t i = 0; i < fields.size(); ++i) {
        const std::string c = i < ex.comps.size() ? ex.comps[i] : "=";
        auto op = comp_of(c);
        if (!op) {
          diags_->error(ex.where, ew + ": unknown comparison '" + c + "'");
          return nullptr;
        }
        comps.push_back(*op);
      }
      if (!ex.comps.empty() && ex.comps.size() != fields.size()) {
        diags_->error(ex.where, ew + ": " + std::to_string(ex.comps.size()) + " comps for " +
                                    std::to_string(fields.size()) + " fields");
        return nullptr;
      }
      for (const auto& tuple : ex.values) {
        if (tuple.size() != fields.size()) {
          diags_->error(ex.where, ew + ": a value has " + std::to_string(tuple.size()) +
                                      " items for " + std::to_string(fields.size()) + " fields");
          return nullptr;
        }
        auto all = std::make_unique<Node>();
        all->kind = Node::Kind::kAnd;
        for (std::size_t i = 0; i < fields.size(); ++i) {
          auto c = std::make_unique<Node>();
          c->field = fields[i];
          c->op = comps[i];
          const auto& v = tuple[i];
          if (is_set_op(comps[i])) {
            std::vector<std::string> items = v.is_list ? v.list : std::vector<std::string>{v.text};
            for (const auto& item : items) {
              if (lists_.count(item)) {
                std::set<std::string> seen;
                expand_list(item, &c->set, &seen);
              } else {
                c->set.push_back(item);
              }
            }
            if (comps[i] != CmpOp::kPMatch) {
              std::sort(c->set.begin(), c->set.end());
            }
          } else {
            if (v.is_list) {
              diags_->error(ex.where, ew + ": comparison '" + to_string(comps[i]) +
                                          "' takes one value, not a list");
              return nullptr;
            }
            c->value = v.text;
            c->lower = lower_of(v.text);
            if (is_numeric_op(comps[i]) && !parse_number(v.text, &c->number)) {
              diags_->error(ex.where, ew + ": comparison '" + to_string(comps[i]) +
                                          "' needs a number, not '" + v.text + "'");
              return nullptr;
            }
          }
          all->kids.push_back(std::move(c));
        }
        any->kids.push_back(std::move(all));
      }
    }
    if (any->kids.empty()) {
      return nullptr;
    }
    return any;
  }

  static std::optional<CmpOp> comp_of(const std::string& c) {
    static const std::map<std::string, CmpOp> kComps = {
        {"=", CmpOp::kEq},          {"==", CmpOp::kEq},
        {"!=", CmpOp::kNe},         {"<", CmpOp::kLt},
        {"<=", CmpOp::kLe},         {">", CmpOp::kGt},
        {">=", CmpOp::kGe},         {"contains", CmpOp::kContains},
        {"icontains", CmpOp::kIContains}, {"startswith", CmpOp::kStartsWith},
        {"endswith", CmpOp::kEndsWith},   {"glob", CmpOp::kGlob},
        {"iglob", CmpOp::kIGlob},   {"pmatch", CmpOp::kPMatch},
        {"in", CmpOp::kIn},         {"intersects", CmpOp::kIntersects}};
    auto it = kComps.find(c);
    if (it == kComps.end()) {
      return std::nullopt;
    }
    return it->second;
  }

  bool compile_output(const RuleDef& r, std::vector<OutputPart>* out) {
    std::string text = r.output;
    while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) {
      text.pop_back();
    }
    std::size_t start = 0;
    while (start < text.size() && std::isspace(static_cast<unsigned char>(text[start]))) {
      ++start;
    }
    std::string literal;
    for (std::size_t i = start; i < text.size(); ++i) {
      if (text[i] == '\n') {
        literal += ' ';
        continue;
      }
      if (text[i] != '%') {
        literal += text[i];
        continue;
      }
      std::size_t j = i + 1;
      const bool paren = j < text.size() && text[j] == '(';
      if (paren) {
        ++j;
      }
      const std::size_t name_start = j;
      while (j < text.size() &&
             (std::isalnum(static_cast<unsigned char>(text[j])) || text[j] == '_' || text[j] == '.')) {
        ++j;
      }
      std::size_t name_end = j;
      while (name_end > name_start && text[name_end - 1] == '.') {
        --name_end;
      }
      if (name_end == name_start) {
        literal += '%';
        continue;
      }
      std::string arg;
      bool has_arg = false;
      j = name_end;
      if (j < text.size() && text[j] == '[') {
        const auto close = text.find(']', j);
        if (close != std::string::npos) {
          arg = text.substr(j + 1, close - j - 1);
          has_arg = true;
          j = close + 1;
        }
      }
      if (paren) {
        if (j < text.size() && text[j] == ')') {
          ++j;
        }
      }
      auto ref = resolve_field(text.substr(name_start, name_end - name_start), arg, has_arg);
      if (!ref) {
        rule_ = &r;
        unknown_field(r.output_where, "rule '" + r.name + "': output", ref.status().message());
        return false;
      }
      OutputPart part;
      part.text = std::move(literal);
      literal.clear();
      part.has_field = true;
      part.field = std::move(*ref);
      out->push_back(std::move(part));
      i = j - 1;
    }
    if (!literal.empty()) {
      OutputPart part;
      part.text = std::move(literal);
      out->push_back(std::move(part));
    }
    return true;
  }

  struct MacroEntry {
    const MacroDef* def = nullptr;
    std::unique_ptr<Expr> expr;
  };

  const RuleSet& set_;
  Diagnostics* diags_;
  std::map<std::string, const ListDef*> lists_;
  std::map<std::string, MacroEntry> macros_;
  std::set<std::string> used_macros_;
  std::set<std::string> used_lists_;
  const RuleDef* rule_ = nullptr;
  bool skipped_ = false;
};

bool is_k8s_audit_source(const std::string& source) { return source == "k8s_audit"; }

// The values of `field` (by name) without which `n` cannot be true; nullopt when any value may
// do. A check `field = v` or `field in (...)` requires its values; `and` requires what any of
// its children requires (the intersection); `or` requires the union, when every branch requires
// something.
std::optional<std::set<std::string>> required(const Node& n, const std::string& field,
                                              const std::string& pointer) {
  switch (n.kind) {
    case Node::Kind::kCheck: {
      const std::string name = n.field.name();
      if (name != field && name != pointer) {
        return std::nullopt;
      }
      if (n.op == CmpOp::kEq) {
        return std::set<std::string>{n.value};
      }
      if (n.op == CmpOp::kIn) {
        return std::set<std::string>(n.set.begin(), n.set.end());
      }
      return std::nullopt;
    }
    case Node::Kind::kAnd: {
      std::optional<std::set<std::string>> out;
      for (const auto& k : n.kids) {
        auto r = required(*k, field, pointer);
        if (!r) {
          continue;
        }
        if (!out) {
          out = std::move(r);
        } else {
          std::set<std::string> both;
          for (const auto& v : *out) {
            if (r->count(v)) {
              both.insert(v);
            }
          }
          out = std::move(both);
        }
      }
      return out;
    }
    case Node::Kind::kOr: {
      std::set<std::string> all;
      for (const auto& k : n.kids) {
        auto r = required(*k, field, pointer);
        if (!r) {
          return std::nullopt;
        }
        all.insert(r->begin(), r->end());
      }
      return all;
    }
    case Node::Kind::kNot:
      return std::nullopt;
  }
  return std::nullopt;
}

void set_requirements(CompiledRule* rule) {
  if (auto v = required(*rule->condition, "ka.verb", "jevt.value[/verb]")) {
    rule->any_verb = false;
    rule->verbs.assign(v->begin(), v->end());
  }
  if (auto r = required(*rule->condition, "ka.target.resource", "jevt.value[/objectRef/resource]")) {
    rule->any_resource = false;
    rule->resources.assign(r->begin(), r->end());
  }
}

}  // namespace

std::unique_ptr<Engine> Engine::compile(const RuleSet& set, Diagnostics* diags) {
  Compiler compiler(set, diags);
  if (!compiler.prepare()) {
    return nullptr;
  }
  auto engine = std::make_unique<Engine>();
  for (const auto& r : set.rules) {
    if (!is_k8s_audit_source(r.source)) {
      diags->warn(r.where, "rule '" + r.name + "' has source '" + r.source +
                               "'; ktrail evaluates k8s_audit rules only, so it is skipped");
      continue;
    }
    if (!r.enabled) {
      continue;
    }
    CompiledRule compiled;
    if (compiler.compile_rule(r, &compiled)) {
      set_requirements(&compiled);
      engine->rules_.push_back(std::move(compiled));
    }
  }
  compiler.warn_unused();
  if (diags->has_errors()) {
    return nullptr;
  }
  Sharing sharing;
  std::vector<Node*> roots;
  for (auto& r : engine->rules_) {
    sharing.count(r.condition.get());
    roots.push_back(r.condition.get());
  }
  engine->memo_slots_ = sharing.assign(roots);
  engine->by_verb_ = Gate::of(engine->rules_, &CompiledRule::any_verb, &CompiledRule::verbs);
  engine->by_resource_ =
      Gate::of(engine->rules_, &CompiledRule::any_resource, &CompiledRule::resources);
  return engine;
}

std::unique_ptr<Engine> Engine::load(const std::vector<std::string>& files, Diagnostics* diags) {
  RuleSet set;
  if (files.empty()) {
    load_rules_text(default_rules_text(), kDefaultRulesName, &set, diags);
  }
  for (const auto& f : files) {
    if (f == kDefaultRulesWord) {
      load_rules_text(default_rules_text(), kDefaultRulesName, &set, diags);
    } else {
      load_rules_file(f, &set, diags);
    }
  }
  if (diags->has_errors()) {
    return nullptr;
  }
  return compile(set, diags);
}

Engine::Gate Engine::Gate::of(const std::vector<CompiledRule>& rules, bool CompiledRule::*any,
                              std::vector<std::string> CompiledRule::*values) {
  Gate g;
  for (const auto& r : rules) {
    for (const auto& v : r.*values) {
      g.keys.push_back(v);
    }
  }
  std::sort(g.keys.begin(), g.keys.end());
  g.keys.erase(std::unique(g.keys.begin(), g.keys.end()), g.keys.end());
  g.open.assign(g.keys.size() + 1, std::vector<std::uint8_t>(rules.size(), 0));
  for (std::size_t i = 0; i < rules.size(); ++i) {
    const CompiledRule& r = rules[i];
    g.open[g.keys.size()][i] = r.*any ? 1 : 0;  // a value no rule names (or none at all)
    for (std::size_t k = 0; k < g.keys.size(); ++k) {
      const auto& vs = r.*values;
      g.open[k][i] = r.*any || std::find(vs.begin(), vs.end(), g.keys[k]) != vs.end() ? 1 : 0;
    }
  }
  return g;
}

const std::uint8_t* Engine::Gate::row(std::string_view value) const {
  // An empty value never equals a required one (a missing field compares false).
  auto it = std::lower_bound(keys.begin(), keys.end(), value,
                             [](const std::string& a, std::string_view b) { return a < b; });
  const std::size_t k =
      !value.empty() && it != keys.end() && *it == value ? static_cast<std::size_t>(it - keys.begin())
                                                         : keys.size();
  return open[k].data();
}

void Engine::evaluate(const AuditEvent& event, std::vector<const CompiledRule*>* matches) const {
  EventView view(event);
  thread_local Values scratch;
  thread_local std::vector<std::uint8_t> memo;
  memo.assign(memo_slots_, 0);
  const std::uint8_t* verb_open = by_verb_.row(event.verb);
  const std::uint8_t* resource_open = by_resource_.row(
      event.object_ref ? std::string_view(event.object_ref->resource) : std::string_view());
  for (std::size_t i = 0; i < rules_.size(); ++i) {
    if ((verb_open[i] & resource_open[i]) == 0) {
      continue;
    }
    const CompiledRule& r = rules_[i];
    const Tri t = eval(*r.condition, view, scratch, memo.data());
    if (t == kTrue) {
      matches->push_back(&r);
    } else if (t == kError) {
      errors_.fetch_add(1, std::memory_order_relaxed);
    }
  }
}

std::string Engine::format_output(const CompiledRule& rule, const AuditEvent& event) const {
  EventView view(event);
  Values values;
  std::string out;
  for (const auto& part : rule.output) {
    out += part.text;
    if (!part.has_field) {
      continue;
    }
    if (!part.field.extract(view, &values)) {
      out += "<NA>";
    } else if (part.field.info->is_list) {
      out += '(';
      for (std::size_t i = 0; i < values.size(); ++i) {
        out += (i == 0 ? "" : ",");
        out += values[i];
      }
      out += ')';
    } else if (!values.empty()) {
      out += values[0];
    }
  }
  return out;
}

Finding Engine::make_finding(const CompiledRule& rule, const AuditEvent& event) const {
  Finding f;
  f.rule = rule.name;
  f.priority = rule.priority;
  f.audit_id = event.audit_id;
  f.stage = event.stage;
  f.time = event.stage_time;
  f.user = event.user.username;
  if (event.impersonated_user) {
    f.impersonated_user = event.impersonated_user->username;
  }
  if (event.object_ref) {
    f.namespace_ = event.object_ref->namespace_;
    f.resource = event.object_ref->resource;
    if (!event.object_ref->subresource.empty()) {
      f.resource += "/" + event.object_ref->subresource;
    }
    f.name = event.object_ref->name;
  }
  f.output = format_output(rule, event);
  f.tags = rule.tags;
  return f;
}

bool fuzz_load_rules(const char* data, std::size_t size) {
  RuleSet set;
  Diagnostics diags;
  load_rules_text(std::string_view(data, size), "fuzz.yaml", &set, &diags);
  if (diags.has_errors()) {
    return false;
  }
  return Engine::compile(set, &diags) != nullptr;
}

}  // namespace ktrail::detect
