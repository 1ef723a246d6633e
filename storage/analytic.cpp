#include "storage/analytic.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "storage/event_codec.h"
#include "storage/segment_codec.h"

namespace ktrail::storage {
namespace {

constexpr std::int64_t kNullNumber = INT64_MIN;  // a NULL response code
constexpr std::size_t kHotBlockRows = 1 << 16;
constexpr std::size_t kDenseIdLimit = 1 << 24;
constexpr std::size_t kLocalGroupLimit = 1 << 18;

constexpr std::array<const char*, 4> kStageNames = {"RequestReceived", "ResponseStarted",
                                                    "ResponseComplete", "Panic"};
constexpr std::array<const char*, 4> kLevelNames = {"None", "Metadata", "Request",
                                                    "RequestResponse"};

bool is_dict(AnalyticColumn c) {
  return c != AnalyticColumn::kStage && c != AnalyticColumn::kLevel &&
         c != AnalyticColumn::kCode && c != AnalyticColumn::kTs;
}

SegmentIdColumn id_column(AnalyticColumn c) {
  switch (c) {
    case AnalyticColumn::kVerb:
      return kVerb;
    case AnalyticColumn::kUsername:
      return kUser;
    case AnalyticColumn::kGroups:
      return kGroups;
    case AnalyticColumn::kImpersonatedUser:
      return kImpUser;
    case AnalyticColumn::kResource:
      return kResource;
    case AnalyticColumn::kSubresource:
      return kSubresource;
    case AnalyticColumn::kNamespace:
      return kNamespace;
    case AnalyticColumn::kSourceIps:
      return kIps;
    default:
      return kUserAgent;
  }
}

// The audit table's column for each dictionary-id column of a segment.
constexpr std::array<const char*, kIdColumns> kHotIdColumns = {
    "verb_id", "user_id", "groups_id", "imp_user_id", "resource_id", "subresource_id",
    "ns_id",   "",        "ips_id",    "ua_id"};

// One block of rows: the columns a query reads (the others stay empty).
struct Block {
  std::size_t n = 0;
  SegmentColumns columns;           // ids, stage, level, ts
  std::vector<std::int64_t> code;   // kNullNumber for NULL
  std::vector<std::int32_t> code32;  // a segment's codes before conversion
};

// The raw value of a row in a column: a dictionary id (0: NULL), a stage or level, a response
// code (kNullNumber: NULL), or ts / divisor.
std::int64_t raw_value(const Block& b, AnalyticColumn c, std::int64_t divisor, std::size_t row) {
  switch (c) {
    case AnalyticColumn::kStage:
      return b.columns.stage[row];
    case AnalyticColumn::kLevel:
      return b.columns.level[row];
    case AnalyticColumn::kCode:
      return b.code[row];
    case AnalyticColumn::kTs:
      return divisor > 0 ? b.columns.ts[row] / divisor : b.columns.ts[row];
    default:
      return b.columns.ids[id_column(c)][row];
  }
}

bool raw_is_null(AnalyticColumn c, std::int64_t raw) {
  return is_dict(c) ? raw == 0 : c == AnalyticColumn::kCode && raw == kNullNumber;
}

// Numbers the distinct raw values of one column densely (codes 0, 1, ...), across blocks.
class ValueCoder {
 public:
  ValueCoder(AnalyticColumn column, std::int64_t divisor) : column_(column), divisor_(divisor) {}

  void code_rows(const Block& b, const std::vector<std::uint32_t>& rows,
                 std::vector<std::uint32_t>* out) {
    out->resize(rows.size());
    if (is_dict(column_)) {
      const std::int64_t* ids = b.columns.ids[id_column(column_)].data();
      for (std::size_t j = 0; j < rows.size(); ++j) {
        (*out)[j] = code_of_id(ids[rows[j]]);
      }
      return;
    }
    std::int64_t last_raw = 0;
    std::uint32_t last_code = UINT32_MAX;
    for (std::size_t j = 0; j < rows.size(); ++j) {
      const std::int64_t raw = raw_value(b, column_, divisor_, rows[j]);
      if (last_code == UINT32_MAX || raw != last_raw) {
        last_raw = raw;
        last_code = code_of_raw(raw);
      }
      (*out)[j] = last_code;
    }
  }

  std::size_t size() const { return values_.size(); }
  std::int64_t raw(std::uint32_t code) const { return values_[code]; }
  bool is_null(std::uint32_t code) const { return raw_is_null(column_, values_[code]); }
  AnalyticColumn column() const { return column_; }

 private:
  std::uint32_t code_of_id(std::int64_t id) {
    if (id >= 0 && static_cast<std::uint64_t>(id) < kDenseIdLimit) {
      const auto i = static_cast<std::size_t>(id);
      if (i >= dense_.size()) {
        dense_.resize(std::max(i + 1, dense_.size() * 2), 0);
      }
      if (dense_[i] == 0) {
        values_.push_back(id);
        dense_[i] = static_cast<std::uint32_t>(values_.size());
      }
      return dense_[i] - 1;
    }
    return code_of_raw(id);
  }
  std::uint32_t code_of_raw(std::int64_t raw) {
    const auto [it, added] = sparse_.emplace(raw, static_cast<std::uint32_t>(values_.size()));
    if (added) {
      values_.push_back(raw);
    }
    return it->second;
  }

  AnalyticColumn column_;
  std::int64_t divisor_;
  std::vector<std::uint32_t> dense_;  // id -> code + 1 (0: not seen)
  std::unordered_map<std::int64_t, std::uint32_t> sparse_;
  std::vector<std::int64_t> values_;  // code -> raw value
};

// A condition with its strings turned into dictionary ids.
struct Condition {
  AnalyticColumn column = AnalyticColumn::kVerb;
  std::vector<char> allowed_ids;  // dictionary columns: indexed by id
  std::vector<std::int64_t> ids;   // the same ids, for segment filters
  unsigned allowed_small = 0;      // stage, level: bit per value
  std::vector<std::int64_t> numbers;
  bool range = false;
  std::int64_t low = INT64_MIN;
  std::int64_t high = INT64_MAX;

  bool matches_nothing() const {
    if (is_dict(column)) {
      return ids.empty();
    }
    if (column == AnalyticColumn::kStage || column == AnalyticColumn::kLevel) {
      return allowed_small == 0;
    }
    return !range && numbers.empty();
  }
};

// Keeps in `rows` only the rows of `b` that meet `c`.
void filter_rows(const Block& b, const Condition& c, std::vector<std::uint32_t>* rows) {
  std::size_t kept = 0;
  auto keep_if = [&](auto&& test) {
    for (const std::uint32_t r : *rows) {
      if (test(r)) {
        (*rows)[kept++] = r;
      }
    }
  };
  if (is_dict(c.column)) {
    const std::int64_t* ids = b.columns.ids[id_column(c.column)].data();
    const std::size_t size = c.allowed_ids.size();
    keep_if([&](std::uint32_t r) {
      const std::int64_t id = ids[r];
      return id >= 0 && static_cast<std::uint64_t>(id) < size &&
             c.allowed_ids[static_cast<std::size_t>(id)] != 0;
    });
  } else if (c.column == AnalyticColumn::kStage || c.column == AnalyticColumn::kLevel) {
    const std::uint8_t* v =
        c.column == AnalyticColumn::kStage ? b.columns.stage.data() : b.columns.level.data();
    keep_if([&](std::uint32_t r) { return ((c.allowed_small >> v[r]) & 1U) != 0; });
  } else {
    const std::int64_t* v = c.column == AnalyticColumn::kCode ? b.code.data() : b.columns.ts.data();
    if (c.range) {
      keep_if([&](std::uint32_t r) {
        return v[r] != kNullNumber && v[r] >= c.low && v[r] <= c.high;
      });
    } else {
      keep_if([&](std::uint32_t r) {
        return v[r] != kNullNumber &&
               std::find(c.numbers.begin(), c.numbers.end(), v[r]) != c.numbers.end();
      });
    }
  }
  rows->resize(kept);
}

int compare_values(const SqlValue& a, const SqlValue& b) {
  auto rank = [](const SqlValue& v) {
    return v.kind == SqlValue::Kind::kNull ? 0 : v.kind == SqlValue::Kind::kInt ? 1 : 2;
  };
  if (rank(a) != rank(b)) {
    return rank(a) < rank(b) ? -1 : 1;
  }
  if (a.kind == SqlValue::Kind::kInt) {
    return a.integer < b.integer ? -1 : a.integer > b.integer ? 1 : 0;
  }
  if (a.kind == SqlValue::Kind::kText) {
    const int c = std::memcmp(a.text.data(), b.text.data(), std::min(a.text.size(), b.text.size()));
    if (c != 0) {
      return c < 0 ? -1 : 1;
    }
    return a.text.size() < b.text.size() ? -1 : a.text.size() > b.text.size() ? 1 : 0;
  }
  return 0;
}

SqlValue int_value(std::int64_t v) {
  SqlValue out;
  out.kind = SqlValue::Kind::kInt;
  out.integer = v;
  return out;
}

SqlValue text_value(std::string text) {
  SqlValue out;
  out.kind = SqlValue::Kind::kText;
  out.text = std::move(text);
  return out;
}

class Runner {
 public:
  Runner(sqlite::Db& db, const AnalyticQuery& q, const AnalyticOptions& options)
      : db_(db), q_(q), options_(options) {}

  Result<std::optional<SqlResult>> run() {
    auto has_audit = sqlite::query_int(
        db_, "SELECT count(*) FROM main.sqlite_master WHERE type = 'table' AND name = 'audit'");
    if (!has_audit) {
      return has_audit.status();
    }
    if (*has_audit == 0) {
      return std::optional<SqlResult>();
    }
    for (const auto& k : q_.keys) {
      keys_.emplace_back(k.column, k.divisor);
    }
    if (keys_.size() > 4) {
      return std::optional<SqlResult>();
    }
    for (const auto& a : q_.aggregates) {
      values_.emplace_back(a.column, 0);
      if (a.kind == AnalyticAggregate::Kind::kCountDistinct) {
        distinct_.emplace_back();
      }
    }
    counts_.resize(q_.aggregates.size());
    sqlite::ReadSnapshot snapshot(db_);
    KTRAIL_RETURN_IF_ERROR(snapshot.status());
    KTRAIL_RETURN_IF_ERROR(prepare_conditions());
    select_columns();
    bool nothing = false;
    for (const auto& c : conditions_) {
      nothing = nothing || c.matches_nothing();
    }
    if (!nothing) {
      KTRAIL_RETURN_IF_ERROR(read_hot());
      if (too_many_) {
        return std::optional<SqlResult>();
      }
      KTRAIL_RETURN_IF_ERROR(read_segments());
      if (too_many_) {
        return std::optional<SqlResult>();
      }
    }
    if (keys_.empty() && groups_ == 0) {
      add_group(0);
    }
    return finish();
  }

 private:
  Status prepare_conditions() {
    auto lookup = sqlite::Stmt::prepare(db_, "SELECT id FROM dict WHERE value = ?1");
    if (!lookup) {
      return lookup.status();
    }
    for (const auto& qc : q_.conditions) {
      Condition c;
      c.column = qc.column;
      c.numbers = qc.numbers;
      c.range = qc.range;
      c.low = qc.low;
      c.high = qc.high;
      if (is_dict(qc.column)) {
        for (const auto& text : qc.texts) {
          lookup->bind(1, text);
          const int rc = lookup->step();
          if (rc == SQLITE_ROW) {
            c.ids.push_back(lookup->column_int(0));
          } else if (rc != SQLITE_DONE) {
            return db_.error("dictionary lookup");
          }
          lookup->reset();
        }
        for (const std::int64_t id : c.ids) {
          if (id <= 0 || static_cast<std::uint64_t>(id) >= kDenseIdLimit) {
            return internal_error("dictionary id out of range");
          }
          if (static_cast<std::size_t>(id) >= c.allowed_ids.size()) {
            c.allowed_ids.resize(static_cast<std::size_t>(id) + 1, 0);
          }
          c.allowed_ids[static_cast<std::size_t>(id)] = 1;
        }
      } else if (qc.column == AnalyticColumn::kStage || qc.column == AnalyticColumn::kLevel) {
        const auto& names = qc.column == AnalyticColumn::kStage ? kStageNames : kLevelNames;
        for (const auto& text : qc.texts) {
          for (unsigned v = 0; v < names.size(); ++v) {
            if (text == names[v]) {
              c.allowed_small |= 1U << v;
            }
          }
        }
      }
      conditions_.push_back(std::move(c));
    }
    return Status::ok();
  }

  void select_columns() {
    auto want = [&](AnalyticColumn c) {
      if (is_dict(c)) {
        wanted_.ids[id_column(c)] = true;
      } else if (c == AnalyticColumn::kStage || c == AnalyticColumn::kLevel) {
        wanted_.stage_level = true;
      } else if (c == AnalyticColumn::kCode) {
        wanted_.code = true;
      } else {
        wanted_.ts = true;
      }
    };
    for (const auto& k : q_.keys) {
      want(k.column);
    }
    for (const auto& a : q_.aggregates) {
      if (a.kind != AnalyticAggregate::Kind::kCountRows) {
        want(a.column);
      }
    }
    for (const auto& c : q_.conditions) {
      want(c.column);
    }
  }

  Status read_hot() {
    std::string sql = "SELECT 0";
    for (std::size_t k = 0; k < kIdColumns; ++k) {
      if (wanted_.ids[k]) {
        sql += std::string(", ") + kHotIdColumns[k];
      }
    }
    if (wanted_.stage_level) {
      sql += ", stage, level";
    }
    if (wanted_.code) {
      sql += ", code";
    }
    if (wanted_.ts) {
      sql += ", ts";
    }
    sql += " FROM main.audit";
    const Micros low = lowest_ts();
    const bool bounded = low > INT64_MIN && low >= 0 && low <= kMaxKeyTime;
    if (bounded) {
      sql += " WHERE key >= ?1";
    }
    auto st = sqlite::Stmt::prepare(db_, sql);
    if (!st) {
      return st.status();
    }
    if (bounded) {
      st->bind(1, low << kSlotBits);
    }
    Block b;
    auto clear = [&] {
      b.n = 0;
      for (std::size_t k = 0; k < kIdColumns; ++k) {
        b.columns.ids[k].clear();
      }
      b.columns.stage.clear();
      b.columns.level.clear();
      b.code.clear();
      b.columns.ts.clear();
    };
    int rc;
    while ((rc = st->step()) == SQLITE_ROW) {
      int col = 1;
      for (std::size_t k = 0; k < kIdColumns; ++k) {
        if (wanted_.ids[k]) {
          b.columns.ids[k].push_back(st->column_int(col++));  // NULL reads as 0
        }
      }
      if (wanted_.stage_level) {
        // The view names 3 and anything above it alike (its CASE's ELSE).
        b.columns.stage.push_back(
            static_cast<std::uint8_t>(std::clamp<std::int64_t>(st->column_int(col++), 0, 3)));
        b.columns.level.push_back(
            static_cast<std::uint8_t>(std::clamp<std::int64_t>(st->column_int(col++), 0, 3)));
      }
      if (wanted_.code) {
        b.code.push_back(st->column_null(col) ? kNullNumber : st->column_int(col));
        ++col;
      }
      if (wanted_.ts) {
        b.columns.ts.push_back(st->column_int(col++));
      }
      if (++b.n == kHotBlockRows) {
        KTRAIL_RETURN_IF_ERROR(process(b));
        if (too_many_) {
          return Status::ok();
        }
        clear();
      }
    }
    if (rc != SQLITE_DONE) {
      return db_.error("read audit rows");
    }
    return b.n > 0 ? process(b) : Status::ok();
  }

  Status read_segments() {
    auto has = sqlite::query_int(
        db_, "SELECT count(*) FROM main.sqlite_master WHERE type = 'table' AND name = 'segments'");
    if (!has) {
      return has.status();
    }
    if (*has == 0) {
      return Status::ok();
    }
    auto st = sqlite::Stmt::prepare(
        db_,
        "SELECT s.id, s.min_ts, s.max_ts, s.count, c.filter FROM main.segments s "
        "LEFT JOIN main.segment_columns c ON c.segment_id = s.id ORDER BY s.id");
    if (!st) {
      return st.status();
    }
    Micros low = INT64_MIN;
    Micros high = INT64_MAX;
    for (const auto& c : conditions_) {
      if (c.column == AnalyticColumn::kTs) {
        low = std::max(low, c.low);
        high = std::min(high, c.high);
      }
    }
    std::string plain;
    Block b;
    int rc;
    while ((rc = st->step()) == SQLITE_ROW) {
      if (st->column_int(2) < low || st->column_int(1) > high) {
        continue;
      }
      if (st->column_null(4)) {
        return database_error("segment " + std::to_string(st->column_int(0)) +
                              " has no columns");
      }
      if (!may_match(st->column_blob(4))) {
        continue;
      }
      // The times are the largest frame: a segment whose times all give the same ts / N and
      // meet every condition on ts whole is read without them.
      ColumnSelection want = wanted_;
      const Micros min_ts = st->column_int(1);
      const bool same_times = wanted_.ts && times_alike(min_ts, st->column_int(2));
      want.ts = wanted_.ts && !same_times;
      std::size_t size = 0;
      auto prefix = read_prefix(st->column_int(0), want, &size);
      if (!prefix) {
        return prefix.status();
      }
      auto n = decode_selected_columns(*prefix, size, want, &b.columns, &plain);
      if (!n) {
        return n.status();
      }
      if (static_cast<std::int64_t>(*n) != st->column_int(3)) {
        return database_error("segment " + std::to_string(st->column_int(0)) + " holds " +
                              std::to_string(*n) + " rows, not " +
                              std::to_string(st->column_int(3)));
      }
      b.n = *n;
      if (same_times) {
        b.columns.ts.assign(b.n, min_ts);
      }
      if (wanted_.code) {
        b.code.resize(b.n);
        for (std::size_t i = 0; i < b.n; ++i) {
          b.code[i] = b.columns.code[i] == 0 ? kNullNumber : b.columns.code[i];
        }
      }
      KTRAIL_RETURN_IF_ERROR(process(b));
      if (too_many_) {
        return Status::ok();
      }
    }
    if (rc != SQLITE_DONE) {
      return db_.error("read segments");
    }
    sqlite3_blob_close(blob_);  // before the read transaction ends
    blob_ = nullptr;
    return Status::ok();
  }

  // The leading bytes of segment `id`'s column blob (its size in `size`) that the query's
  // columns need: read through SQLite's incremental blob I/O, which reads only the pages of
  // that prefix.
  Result<std::string_view> read_prefix(std::int64_t id, const ColumnSelection& want,
                                       std::size_t* size_out) {
    int rc = blob_ == nullptr ? sqlite3_blob_open(db_.get(), "main", "segment_columns", "columns",
                                                  id, 0, &blob_)
                              : sqlite3_blob_reopen(blob_, id);
    if (rc != SQLITE_OK) {
      return db_.error("read segment " + std::to_string(id) + " columns");
    }
    const auto size = static_cast<std::size_t>(sqlite3_blob_bytes(blob_));
    *size_out = size;
    const std::size_t head = std::min(size, kColumnsHeadBytes);
    blob_bytes_.resize(head);
    if (sqlite3_blob_read(blob_, blob_bytes_.data(), static_cast<int>(head), 0) != SQLITE_OK) {
      return db_.error("read segment " + std::to_string(id) + " columns");
    }
    auto extent = selected_columns_extent(blob_bytes_, size, want);
    if (!extent) {
      return extent.status();
    }
    if (*extent > head) {
      blob_bytes_.resize(*extent);
      rc = sqlite3_blob_read(blob_, blob_bytes_.data() + head, static_cast<int>(*extent - head),
                             static_cast<int>(head));
      if (rc != SQLITE_OK) {
        return db_.error("read segment " + std::to_string(id) + " columns");
      }
    }
    return std::string_view(blob_bytes_).substr(0, std::max(head, *extent));
  }

  // Whether every stageTimestamp in [min_ts, max_ts] gives the same value to each ts / N key
  // and meets every condition on ts (integer division is monotonic, so the ends decide).
  bool times_alike(Micros min_ts, Micros max_ts) const {
    for (const auto& c : conditions_) {
      if (c.column == AnalyticColumn::kTs && (min_ts < c.low || max_ts > c.high)) {
        return false;
      }
    }
    for (const auto& k : q_.keys) {
      if (k.column == AnalyticColumn::kTs && min_ts / k.divisor != max_ts / k.divisor) {
        return false;
      }
    }
    return min_ts <= max_ts;
  }

  // Whether a segment's filter allows every condition on a filtered column.
  bool may_match(std::string_view filter_blob) {
    bool any = false;
    for (const auto& c : conditions_) {
      if (is_dict(c.column) &&
          std::find(kFilteredColumns.begin(), kFilteredColumns.end(), id_column(c.column)) !=
              kFilteredColumns.end()) {
        any = true;
      }
    }
    if (!any) {
      return true;
    }
    auto filter = SegmentFilter::decode(filter_blob);
    if (!filter) {
      return true;  // the columns are read instead; damage there is reported
    }
    for (const auto& c : conditions_) {
      if (!is_dict(c.column)) {
        continue;
      }
      const SegmentIdColumn col = id_column(c.column);
      if (std::find(kFilteredColumns.begin(), kFilteredColumns.end(), col) ==
          kFilteredColumns.end()) {
        continue;
      }
      if (std::none_of(c.ids.begin(), c.ids.end(),
                       [&](std::int64_t id) { return filter->may_hold(col, id); })) {
        return false;
      }
    }
    return true;
  }

  Micros lowest_ts() const {
    Micros low = INT64_MIN;
    for (const auto& c : conditions_) {
      if (c.column == AnalyticColumn::kTs) {
        low = std::max(low, c.low);
      }
    }
    return low;
  }

  std::uint32_t add_group(std::uint64_t packed) {
    const auto g = static_cast<std::uint32_t>(groups_++);
    for (auto& c : counts_) {
      c.push_back(0);
    }
    packed_.push_back(packed);
    return g;
  }

  Status process(const Block& b) {
    if (options_.check) {
      KTRAIL_RETURN_IF_ERROR(options_.check());
    }
    rows_.resize(b.n);
    for (std::size_t i = 0; i < b.n; ++i) {
      rows_[i] = static_cast<std::uint32_t>(i);
    }
    for (const auto& c : conditions_) {
      filter_rows(b, c, &rows_);
    }
    const std::size_t m = rows_.size();
    // The group of each row kept.
    group_of_.assign(m, 0);
    if (keys_.empty()) {
      if (groups_ == 0) {
        add_group(0);
      }
    } else {
      key_codes_.resize(keys_.size());
      const unsigned bits = 64 / static_cast<unsigned>(keys_.size());
      std::vector<std::size_t> radix(keys_.size());
      std::size_t product = 1;
      for (std::size_t k = 0; k < keys_.size(); ++k) {
        keys_[k].code_rows(b, rows_, &key_codes_[k]);
        if (bits < 64 && keys_[k].size() > (std::size_t{1} << bits)) {
          too_many_ = true;
          return Status::ok();
        }
        std::uint32_t max = 0;
        for (const std::uint32_t code : key_codes_[k]) {
          max = std::max(max, code);
        }
        radix[k] = static_cast<std::size_t>(max) + 1;
        product = product > kLocalGroupLimit ? product : product * radix[k];
      }
      auto packed_of = [&](std::size_t j) {
        std::uint64_t p = 0;
        for (std::size_t k = 0; k < keys_.size(); ++k) {
          p = bits < 64 ? (p << bits) | key_codes_[k][j] : key_codes_[k][j];
        }
        return p;
      };
      auto global = [&](std::uint64_t p) {
        const auto [it, added] = group_index_.emplace(p, static_cast<std::uint32_t>(groups_));
        if (added) {
          add_group(p);
        }
        return it->second;
      };
      if (product <= kLocalGroupLimit) {
        local_.assign(product, UINT32_MAX);
        for (std::size_t j = 0; j < m; ++j) {
          std::size_t idx = 0;
          for (std::size_t k = 0; k < keys_.size(); ++k) {
            idx = idx * radix[k] + key_codes_[k][j];
          }
          if (local_[idx] == UINT32_MAX) {
            local_[idx] = global(packed_of(j));
          }
          group_of_[j] = local_[idx];
        }
      } else {
        for (std::size_t j = 0; j < m; ++j) {
          group_of_[j] = global(packed_of(j));
        }
      }
      if (groups_ > options_.max_groups) {
        too_many_ = true;
        return Status::ok();
      }
    }
    std::size_t d = 0;
    for (std::size_t a = 0; a < q_.aggregates.size(); ++a) {
      const auto& agg = q_.aggregates[a];
      auto& counts = counts_[a];
      if (agg.kind == AnalyticAggregate::Kind::kCountRows) {
        for (std::size_t j = 0; j < m; ++j) {
          ++counts[group_of_[j]];
        }
        continue;
      }
      values_[a].code_rows(b, rows_, &value_codes_);
      if (agg.kind == AnalyticAggregate::Kind::kCountValues) {
        for (std::size_t j = 0; j < m; ++j) {
          counts[group_of_[j]] += values_[a].is_null(value_codes_[j]) ? 0 : 1;
        }
        continue;
      }
      auto& seen = distinct_[d++];
      for (std::size_t j = 0; j < m; ++j) {
        if (!values_[a].is_null(value_codes_[j]) &&
            seen.insert(std::uint64_t{group_of_[j]} << 32 | value_codes_[j]).second) {
          ++counts[group_of_[j]];
        }
      }
    }
    return Status::ok();
  }

  // The SQL value of a key's code.
  Result<SqlValue> key_value(const ValueCoder& coder, std::uint32_t code) {
    const std::int64_t raw = coder.raw(code);
    switch (coder.column()) {
      case AnalyticColumn::kStage:
        return text_value(kStageNames[static_cast<std::size_t>(raw & 3)]);
      case AnalyticColumn::kLevel:
        return text_value(kLevelNames[static_cast<std::size_t>(raw & 3)]);
      case AnalyticColumn::kCode:
        return raw == kNullNumber ? SqlValue() : int_value(raw);
      case AnalyticColumn::kTs:
        return int_value(raw);
      default:
        break;
    }
    if (raw == 0) {
      return SqlValue();
    }
    auto found = strings_.find(raw);
    if (found == strings_.end()) {
      if (name_of_.get() == nullptr) {
        auto st = sqlite::Stmt::prepare(db_, "SELECT value FROM dict WHERE id = ?1");
        if (!st) {
          return st.status();
        }
        name_of_ = std::move(*st);
      }
      name_of_.bind(1, raw);
      const int rc = name_of_.step();
      if (rc != SQLITE_ROW) {
        name_of_.reset();
        return rc == SQLITE_DONE ? Status(not_found("dictionary id missing"))
                                 : db_.error("dictionary lookup");
      }
      found = strings_.emplace(raw, std::string(name_of_.column_text(0))).first;
      name_of_.reset();
    }
    return text_value(found->second);
  }

  Result<std::optional<SqlResult>> finish() {
    // Each group's keys and aggregates as SQL values.
    struct Row {
      std::vector<SqlValue> keys;
      std::vector<SqlValue> aggregates;
    };
    std::vector<Row> rows(groups_);
    const unsigned bits = keys_.empty() ? 64 : 64 / static_cast<unsigned>(keys_.size());
    const std::uint64_t mask = bits >= 64 ? ~std::uint64_t{0} : (std::uint64_t{1} << bits) - 1;
    for (std::size_t g = 0; g < groups_; ++g) {
      Row& row = rows[g];
      row.keys.resize(keys_.size());
      std::uint64_t p = packed_[g];
      for (std::size_t k = keys_.size(); k-- > 0;) {
        const auto code = static_cast<std::uint32_t>(p & mask);
        p = bits >= 64 ? 0 : p >> bits;
        auto v = key_value(keys_[k], code);
        if (!v) {
          if (v.status().code() == ErrorCode::kNotFound) {
            return std::optional<SqlResult>();  // SQLite shows a missing id as NULL: let it
          }
          return v.status();
        }
        row.keys[k] = std::move(*v);
      }
      for (std::size_t a = 0; a < counts_.size(); ++a) {
        row.aggregates.push_back(int_value(counts_[a][g]));
      }
    }
    auto less = [&](const Row& x, const Row& y) {
      for (const auto& o : q_.order) {
        const auto& vx = o.is_key ? x.keys[o.index] : x.aggregates[o.index];
        const auto& vy = o.is_key ? y.keys[o.index] : y.aggregates[o.index];
        const int c = compare_values(vx, vy);
        if (c != 0) {
          return o.descending ? c > 0 : c < 0;
        }
      }
      for (std::size_t k = 0; k < x.keys.size(); ++k) {
        const int c = compare_values(x.keys[k], y.keys[k]);
        if (c != 0) {
          return c < 0;
        }
      }
      return false;
    };
    std::size_t keep = rows.size();
    if (q_.limit && *q_.limit >= 0 && static_cast<std::size_t>(*q_.limit) < keep) {
      keep = static_cast<std::size_t>(*q_.limit);
      std::partial_sort(rows.begin(), rows.begin() + static_cast<std::ptrdiff_t>(keep),
                        rows.end(), less);
    } else {
      std::sort(rows.begin(), rows.end(), less);
    }
    SqlResult result;
    for (const auto& out : q_.outputs) {
      result.columns.push_back(out.name);
    }
    for (std::size_t i = 0; i < keep; ++i) {
      std::vector<SqlValue> values;
      for (const auto& out : q_.outputs) {
        values.push_back(out.is_key ? rows[i].keys[out.index] : rows[i].aggregates[out.index]);
      }
      result.rows.push_back(std::move(values));
    }
    return std::optional<SqlResult>(std::move(result));
  }

  sqlite::Db& db_;
  const AnalyticQuery& q_;
  const AnalyticOptions& options_;
  ColumnSelection wanted_;
  std::vector<Condition> conditions_;
  std::vector<ValueCoder> keys_;
  std::vector<ValueCoder> values_;  // one per aggregate (unused for count(*))
  std::vector<std::unordered_set<std::uint64_t>> distinct_;
  std::vector<std::vector<std::int64_t>> counts_;  // per aggregate, per group
  std::vector<std::uint64_t> packed_;              // per group: its key codes
  std::unordered_map<std::uint64_t, std::uint32_t> group_index_;
  std::size_t groups_ = 0;
  bool too_many_ = false;
  // Scratch, reused between blocks.
  std::vector<std::uint32_t> rows_;
  std::vector<std::uint32_t> group_of_;
  std::vector<std::vector<std::uint32_t>> key_codes_;
  std::vector<std::uint32_t> value_codes_;
  std::vector<std::uint32_t> local_;
  std::unordered_map<std::int64_t, std::string> strings_;
  sqlite::Stmt name_of_;
  sqlite3_blob* blob_ = nullptr;  // closed by the destructor
  std::string blob_bytes_;

 public:
  ~Runner() { sqlite3_blob_close(blob_); }
};

}  // namespace

Result<std::optional<SqlResult>> run_analytic(sqlite::Db& db, const AnalyticQuery& query,
                                              const AnalyticOptions& options) {
  Runner runner(db, query, options);
  return runner.run();
}

}  // namespace ktrail::storage
