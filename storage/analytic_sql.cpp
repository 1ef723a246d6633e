#include "storage/analytic_sql.h"

#include <algorithm>
#include <cctype>
#include <limits>

namespace ktrail::storage {
namespace {

struct Token {
  enum class Kind { kWord, kText, kNumber, kSymbol, kEnd };
  Kind kind = Kind::kEnd;
  std::string text;  // a word in lower case, a string's value, a number's digits, a symbol
  std::size_t begin = 0;
  std::size_t end = 0;
};

// Splits `sql` into tokens; nullopt for anything outside the recognized subset (quoted names,
// comments, blobs, parameters, non-ASCII).
std::optional<std::vector<Token>> tokenize(std::string_view sql) {
  std::vector<Token> out;
  std::size_t i = 0;
  while (i < sql.size()) {
    const auto c = static_cast<unsigned char>(sql[i]);
    if (std::isspace(c) != 0) {
      ++i;
      continue;
    }
    Token t;
    t.begin = i;
    if (std::isalpha(c) != 0 || c == '_') {
      while (i < sql.size() && (std::isalnum(static_cast<unsigned char>(sql[i])) != 0 ||
                                sql[i] == '_')) {
        t.text.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(sql[i]))));
        ++i;
      }
      t.kind = Token::Kind::kWord;
    } else if (std::isdigit(c) != 0) {
      while (i < sql.size() && std::isdigit(static_cast<unsigned char>(sql[i])) != 0) {
        t.text.push_back(sql[i++]);
      }
      if (i < sql.size() && (std::isalpha(static_cast<unsigned char>(sql[i])) != 0 ||
                             sql[i] == '.' || sql[i] == '_')) {
        return std::nullopt;  // reals, hex, 1e3
      }
      t.kind = Token::Kind::kNumber;
    } else if (c == '\'') {
      ++i;
      for (;;) {
        if (i >= sql.size()) {
          return std::nullopt;
        }
        if (sql[i] == '\'') {
          if (i + 1 < sql.size() && sql[i + 1] == '\'') {
            t.text.push_back('\'');
            i += 2;
            continue;
          }
          ++i;
          break;
        }
        if (static_cast<unsigned char>(sql[i]) >= 0x80 || sql[i] == '\0') {
          return std::nullopt;
        }
        t.text.push_back(sql[i++]);
      }
      t.kind = Token::Kind::kText;
    } else {
      static constexpr std::string_view kTwo[] = {"<=", ">=", "!=", "<>", "=="};
      bool two = false;
      for (const auto s : kTwo) {
        if (sql.substr(i, 2) == s) {
          t.text = std::string(s);
          i += 2;
          two = true;
          break;
        }
      }
      if (!two) {
        if (std::string_view("(),*/=<>;").find(static_cast<char>(c)) == std::string_view::npos) {
          return std::nullopt;
        }
        t.text = std::string(1, static_cast<char>(c));
        ++i;
      }
      t.kind = Token::Kind::kSymbol;
    }
    t.end = i;
    out.push_back(std::move(t));
  }
  // One trailing semicolon is allowed, as SQLite allows it.
  if (!out.empty() && out.back().kind == Token::Kind::kSymbol && out.back().text == ";") {
    out.pop_back();
  }
  Token end;
  end.begin = end.end = sql.size();
  out.push_back(end);
  return out;
}

struct ColumnName {
  std::string_view name;
  AnalyticColumn column;
};
constexpr ColumnName kColumns[] = {
    {"verb", AnalyticColumn::kVerb},
    {"username", AnalyticColumn::kUsername},
    {"groups", AnalyticColumn::kGroups},
    {"impersonated_user", AnalyticColumn::kImpersonatedUser},
    {"resource", AnalyticColumn::kResource},
    {"subresource", AnalyticColumn::kSubresource},
    {"namespace", AnalyticColumn::kNamespace},
    {"source_ips", AnalyticColumn::kSourceIps},
    {"user_agent", AnalyticColumn::kUserAgent},
    {"stage", AnalyticColumn::kStage},
    {"level", AnalyticColumn::kLevel},
    {"code", AnalyticColumn::kCode},
    {"ts", AnalyticColumn::kTs},
};

// Every column of audit_events, also those this path does not read: an alias named like one of
// them would resolve differently in GROUP BY and ORDER BY, so such statements are left to SQLite.
constexpr std::string_view kViewColumns[] = {
    "key", "ts", "received", "audit_id", "stage", "level", "level_received", "verb", "username",
    "groups", "impersonated_user", "resource", "subresource", "namespace", "name", "code",
    "source_ips", "user_agent", "block_id", "block_index", "cluster"};

std::optional<AnalyticColumn> column_of(std::string_view word) {
  for (const auto& c : kColumns) {
    if (c.name == word) {
      return c.column;
    }
  }
  return std::nullopt;
}

bool is_view_column(std::string_view word) {
  return std::find(std::begin(kViewColumns), std::end(kViewColumns), word) !=
         std::end(kViewColumns);
}

bool is_text_column(AnalyticColumn c) {
  return c != AnalyticColumn::kCode && c != AnalyticColumn::kTs;
}

bool is_reserved(std::string_view word) {
  static constexpr std::string_view kWords[] = {
      "select", "from",  "where", "group", "by",   "order",    "limit",  "as",   "and",
      "or",     "not",   "in",    "asc",   "desc", "distinct", "having", "join", "on",
      "union",  "offset", "is",   "null",  "like", "between",  "collate", "case", "count"};
  return std::find(std::begin(kWords), std::end(kWords), word) != std::end(kWords);
}

std::optional<std::int64_t> number_of(const std::string& digits) {
  if (digits.size() > 18) {
    return std::nullopt;
  }
  return std::stoll(digits);
}

// A select item or ORDER BY expression as parsed, before names are resolved.
struct Expr {
  enum class Kind { kName, kDivision, kCountRows, kCountValues, kCountDistinct, kPosition };
  Kind kind = Kind::kName;
  std::string name;  // kName, and the column of the others
  std::int64_t number = 0;  // divisor, position
  std::size_t begin = 0;
  std::size_t end = 0;
};

class Parser {
 public:
  Parser(std::string_view sql, std::vector<Token> tokens) : sql_(sql), t_(std::move(tokens)) {}

  std::optional<AnalyticQuery> parse() {
    if (!word("select")) {
      return std::nullopt;
    }
    std::vector<std::pair<Expr, std::string>> items;  // expression, alias
    do {
      auto e = expr();
      if (!e || e->kind == Expr::Kind::kPosition) {
        return std::nullopt;
      }
      std::string alias;
      if (word("as")) {
        if (!alias_word(&alias)) {
          return std::nullopt;
        }
      } else if (peek().kind == Token::Kind::kWord && !is_reserved(peek().text)) {
        if (!alias_word(&alias)) {
          return std::nullopt;
        }
      }
      items.emplace_back(std::move(*e), std::move(alias));
    } while (symbol(","));
    if (!word("from") || !word("audit_events")) {
      return std::nullopt;
    }
    AnalyticQuery q;
    if (word("where")) {
      do {
        auto c = condition();
        if (!c) {
          return std::nullopt;
        }
        q.conditions.push_back(std::move(*c));
      } while (word("and"));
    }
    // GROUP BY: a view column first, then an alias.
    if (word("group")) {
      if (!word("by")) {
        return std::nullopt;
      }
      do {
        auto e = expr();
        if (!e) {
          return std::nullopt;
        }
        std::optional<AnalyticKey> key;
        if (e->kind == Expr::Kind::kName && !is_view_column(e->name)) {
          for (const auto& [item, alias] : items) {
            if (alias == e->name) {
              key = key_of(item);
            }
          }
        } else {
          key = key_of(*e);
        }
        if (!key || std::find(q.keys.begin(), q.keys.end(), *key) != q.keys.end()) {
          return std::nullopt;
        }
        q.keys.push_back(*key);
      } while (symbol(","));
    }
    for (const auto& [item, alias] : items) {
      AnalyticOutput out;
      out.name = !alias.empty() ? alias
                 : item.kind == Expr::Kind::kName
                     ? item.name
                     : std::string(sql_.substr(item.begin, item.end - item.begin));
      if (auto agg = aggregate_of(item)) {
        out.index = index_of(&q.aggregates, *agg);
      } else {
        auto key = key_of(item);
        if (!key) {
          return std::nullopt;
        }
        const auto found = std::find(q.keys.begin(), q.keys.end(), *key);
        if (found == q.keys.end()) {
          return std::nullopt;  // a bare column outside GROUP BY
        }
        out.is_key = true;
        out.index = static_cast<std::size_t>(found - q.keys.begin());
      }
      q.outputs.push_back(std::move(out));
    }
    // ORDER BY: an alias first, then a position, then an expression of the result or a key.
    if (word("order")) {
      if (!word("by")) {
        return std::nullopt;
      }
      do {
        auto e = expr();
        if (!e) {
          return std::nullopt;
        }
        std::optional<AnalyticOrder> o;
        if (e->kind == Expr::Kind::kName) {
          for (std::size_t i = 0; i < items.size(); ++i) {
            if (items[i].second == e->name) {
              o = AnalyticOrder{q.outputs[i].is_key, q.outputs[i].index, false};
              break;
            }
          }
        }
        if (!o && e->kind == Expr::Kind::kPosition) {
          if (e->number < 1 || static_cast<std::size_t>(e->number) > items.size()) {
            return std::nullopt;
          }
          const auto& out = q.outputs[static_cast<std::size_t>(e->number - 1)];
          o = AnalyticOrder{out.is_key, out.index, false};
        }
        if (!o && (e->kind != Expr::Kind::kName || is_view_column(e->name))) {
          if (auto agg = aggregate_of(*e)) {
            const auto found = std::find(q.aggregates.begin(), q.aggregates.end(), *agg);
            if (found == q.aggregates.end()) {
              return std::nullopt;
            }
            o = AnalyticOrder{false, static_cast<std::size_t>(found - q.aggregates.begin()), false};
          } else if (auto key = key_of(*e)) {
            const auto found = std::find(q.keys.begin(), q.keys.end(), *key);
            if (found == q.keys.end()) {
              return std::nullopt;
            }
            o = AnalyticOrder{true, static_cast<std::size_t>(found - q.keys.begin()), false};
          }
        }
        if (!o) {
          return std::nullopt;
        }
        if (word("desc")) {
          o->descending = true;
        } else {
          (void)word("asc");
        }
        q.order.push_back(*o);
      } while (symbol(","));
    }
    if (word("limit")) {
      if (peek().kind != Token::Kind::kNumber) {
        return std::nullopt;
      }
      q.limit = number_of(next().text);
      if (!q.limit) {
        return std::nullopt;
      }
    }
    if (peek().kind != Token::Kind::kEnd) {
      return std::nullopt;
    }
    // Without GROUP BY, every item must be an aggregate.
    if (q.keys.empty() && std::any_of(q.outputs.begin(), q.outputs.end(),
                                      [](const AnalyticOutput& o) { return o.is_key; })) {
      return std::nullopt;
    }
    return q;
  }

 private:
  const Token& peek() const { return t_[at_]; }
  const Token& next() { return t_[at_ < t_.size() - 1 ? at_++ : at_]; }
  bool word(std::string_view w) {
    if (peek().kind == Token::Kind::kWord && peek().text == w) {
      ++at_;
      return true;
    }
    return false;
  }
  bool symbol(std::string_view s) {
    if (peek().kind == Token::Kind::kSymbol && peek().text == s) {
      ++at_;
      return true;
    }
    return false;
  }
  bool alias_word(std::string* out) {
    if (peek().kind != Token::Kind::kWord || is_reserved(peek().text) ||
        is_view_column(peek().text) || peek().text == "audit_events") {
      return false;
    }
    *out = next().text;
    // An alias is matched case-insensitively, like SQLite; the result column keeps the spelling.
    const Token& written = t_[at_ - 1];
    alias_spelling_ = std::string(sql_.substr(written.begin, written.end - written.begin));
    *out = alias_spelling_;
    for (char& c : *out) {
      c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
    spellings_.emplace_back(*out, alias_spelling_);
    return true;
  }

  std::optional<Expr> expr() {
    Expr e;
    e.begin = peek().begin;
    if (peek().kind == Token::Kind::kNumber) {
      auto n = number_of(next().text);
      if (!n) {
        return std::nullopt;
      }
      e.kind = Expr::Kind::kPosition;
      e.number = *n;
      e.end = t_[at_ - 1].end;
      return e;
    }
    if (word("count")) {
      if (!symbol("(")) {
        return std::nullopt;
      }
      if (symbol("*")) {
        e.kind = Expr::Kind::kCountRows;
      } else {
        e.kind = word("distinct") ? Expr::Kind::kCountDistinct : Expr::Kind::kCountValues;
        if (peek().kind != Token::Kind::kWord || !column_of(peek().text)) {
          return std::nullopt;
        }
        e.name = next().text;
      }
      if (!symbol(")")) {
        return std::nullopt;
      }
      e.end = t_[at_ - 1].end;
      return e;
    }
    if (peek().kind != Token::Kind::kWord || is_reserved(peek().text)) {
      return std::nullopt;
    }
    e.name = next().text;
    e.end = t_[at_ - 1].end;
    if (symbol("/")) {
      if (e.name != "ts" || peek().kind != Token::Kind::kNumber) {
        return std::nullopt;
      }
      auto n = number_of(next().text);
      if (!n || *n <= 0) {
        return std::nullopt;
      }
      e.kind = Expr::Kind::kDivision;
      e.number = *n;
      e.end = t_[at_ - 1].end;
    }
    return e;
  }

  static std::optional<AnalyticKey> key_of(const Expr& e) {
    if (e.kind == Expr::Kind::kDivision) {
      return AnalyticKey{AnalyticColumn::kTs, e.number};
    }
    if (e.kind != Expr::Kind::kName) {
      return std::nullopt;
    }
    auto c = column_of(e.name);
    if (!c || *c == AnalyticColumn::kTs) {
      return std::nullopt;  // ts alone: as many groups as rows, not what this path is for
    }
    return AnalyticKey{*c, 0};
  }

  static std::optional<AnalyticAggregate> aggregate_of(const Expr& e) {
    if (e.kind == Expr::Kind::kCountRows) {
      return AnalyticAggregate{AnalyticAggregate::Kind::kCountRows, AnalyticColumn::kVerb};
    }
    if (e.kind != Expr::Kind::kCountValues && e.kind != Expr::Kind::kCountDistinct) {
      return std::nullopt;
    }
    auto c = column_of(e.name);
    if (!c || *c == AnalyticColumn::kTs) {
      return std::nullopt;
    }
    return AnalyticAggregate{e.kind == Expr::Kind::kCountValues
                                 ? AnalyticAggregate::Kind::kCountValues
                                 : AnalyticAggregate::Kind::kCountDistinct,
                             *c};
  }

  static std::size_t index_of(std::vector<AnalyticAggregate>* v, const AnalyticAggregate& a) {
    const auto found = std::find(v->begin(), v->end(), a);
    if (found != v->end()) {
      return static_cast<std::size_t>(found - v->begin());
    }
    v->push_back(a);
    return v->size() - 1;
  }

  std::optional<AnalyticCondition> condition() {
    if (peek().kind != Token::Kind::kWord) {
      return std::nullopt;
    }
    auto column = column_of(next().text);
    if (!column) {
      return std::nullopt;
    }
    AnalyticCondition c;
    c.column = *column;
    const bool text = is_text_column(*column);
    auto literal = [&]() -> bool {
      if (text) {
        if (peek().kind != Token::Kind::kText) {
          return false;
        }
        c.texts.push_back(next().text);
        return true;
      }
      if (peek().kind != Token::Kind::kNumber) {
        return false;
      }
      auto n = number_of(next().text);
      if (!n) {
        return false;
      }
      c.numbers.push_back(*n);
      return true;
    };
    if (symbol("=") || symbol("==")) {
      if (*column == AnalyticColumn::kTs || !literal()) {
        return std::nullopt;
      }
      return c;
    }
    if (word("in")) {
      if (*column == AnalyticColumn::kTs || !symbol("(")) {
        return std::nullopt;
      }
      do {
        if (!literal()) {
          return std::nullopt;
        }
      } while (symbol(","));
      if (!symbol(")")) {
        return std::nullopt;
      }
      return c;
    }
    if (text) {
      return std::nullopt;
    }
    std::string op;
    for (const char* s : {"<=", ">=", "<", ">"}) {
      if (symbol(s)) {
        op = s;
        break;
      }
    }
    if (op.empty() || peek().kind != Token::Kind::kNumber) {
      return std::nullopt;
    }
    auto n = number_of(next().text);
    if (!n) {
      return std::nullopt;
    }
    c.range = true;
    if (op == "<=") {
      c.high = *n;
    } else if (op == "<") {
      c.high = *n - 1;
    } else if (op == ">=") {
      c.low = *n;
    } else {
      c.low = *n + 1;
    }
    return c;
  }

  std::string_view sql_;
  std::vector<Token> t_;
  std::size_t at_ = 0;
  std::string alias_spelling_;
  std::vector<std::pair<std::string, std::string>> spellings_;

 public:
  // The spelling of an alias as written (result column names keep it).
  std::string spelling(const std::string& lower) const {
    for (const auto& [l, s] : spellings_) {
      if (l == lower) {
        return s;
      }
    }
    return lower;
  }
};

}  // namespace

std::optional<AnalyticQuery> parse_analytic_sql(std::string_view sql) {
  auto tokens = tokenize(sql);
  if (!tokens) {
    return std::nullopt;
  }
  Parser parser(sql, std::move(*tokens));
  auto q = parser.parse();
  if (!q) {
    return std::nullopt;
  }
  for (auto& out : q->outputs) {
    out.name = parser.spelling(out.name);
  }
  return q;
}

}  // namespace ktrail::storage
