// Recognizes the aggregations over audit_events that the columnar path (storage/analytic.h)
// answers: a grouped count, the questions reports and compliance teams ask.
//
// Contract: parse_analytic_sql() returns a plan only for a statement of this exact shape, and
// nullopt for anything else (which `ktrail sql` then gives to SQLite unchanged):
//
//   SELECT item, ... FROM audit_events
//     [WHERE cond AND cond ...] [GROUP BY key, ...] [ORDER BY term [ASC|DESC], ...] [LIMIT n]
//
//   item  := key-expression [[AS] alias] | count(*) | count(column) | count(DISTINCT column)
//   key-expression := column | ts / N (N a positive integer)
//   column := verb, username, groups, impersonated_user, resource, subresource, namespace,
//             source_ips, user_agent (dictionary strings), stage, level (names), code
//   cond  := column = 'text' | column IN ('text', ...) for the string columns,
//            code = N | code IN (N, ...) | code <, <=, >, >= N, ts <, <=, >, >= N
//   term  := a result column's alias, a column of the result, its position, or an item written
//            again (count(*))
//
// A bare column among the items must be a GROUP BY key; without GROUP BY every item must be an
// aggregate (one row). Names resolve as SQLite resolves them (GROUP BY: a column of the view
// first, then an alias; ORDER BY: an alias first); an alias that is also a column name, quoted
// names, comments and anything else not listed are not recognized. Result column names are
// SQLite's: the alias, the view's column name, or the expression's text as written.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ktrail::storage {

// A column of audit_events the columnar path reads.
enum class AnalyticColumn {
  kVerb,
  kUsername,
  kGroups,
  kImpersonatedUser,
  kResource,
  kSubresource,
  kNamespace,
  kSourceIps,
  kUserAgent,
  kStage,
  kLevel,
  kCode,
  kTs,
};

// A GROUP BY key: a column, or ts / divisor (divisor > 0) when column is kTs.
struct AnalyticKey {
  AnalyticColumn column = AnalyticColumn::kVerb;
  std::int64_t divisor = 0;
  bool operator==(const AnalyticKey& o) const {
    return column == o.column && divisor == o.divisor;
  }
};

struct AnalyticAggregate {
  enum class Kind { kCountRows, kCountValues, kCountDistinct };
  Kind kind = Kind::kCountRows;
  AnalyticColumn column = AnalyticColumn::kVerb;  // for kCountValues and kCountDistinct
  bool operator==(const AnalyticAggregate& o) const {
    return kind == o.kind && (kind == Kind::kCountRows || column == o.column);
  }
};

// A condition: the column's value is one of `texts` (string columns, stage, level) or `numbers`
// (code), or lies in [low, high] (code, ts).
struct AnalyticCondition {
  AnalyticColumn column = AnalyticColumn::kVerb;
  std::vector<std::string> texts;
  std::vector<std::int64_t> numbers;
  bool range = false;
  std::int64_t low = INT64_MIN;
  std::int64_t high = INT64_MAX;
};

// An output column: a key (index into keys) or an aggregate (index into aggregates).
struct AnalyticOutput {
  std::string name;
  bool is_key = false;
  std::size_t index = 0;
};

struct AnalyticOrder {
  bool is_key = false;
  std::size_t index = 0;
  bool descending = false;
};

struct AnalyticQuery {
  std::vector<AnalyticKey> keys;  // empty: one group of every row
  std::vector<AnalyticAggregate> aggregates;
  std::vector<AnalyticCondition> conditions;  // all must hold
  std::vector<AnalyticOutput> outputs;
  std::vector<AnalyticOrder> order;  // after it, the groups' own key order
  std::optional<std::int64_t> limit;
};

std::optional<AnalyticQuery> parse_analytic_sql(std::string_view sql);

}  // namespace ktrail::storage
