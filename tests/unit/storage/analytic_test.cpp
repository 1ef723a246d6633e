// The columnar path for aggregations (storage/analytic.h, storage/analytic_sql.h) against SQLite's
// own answer, on real store files: unsealed, half sealed and all sealed. Every statement is run
// both ways (`ktrail sql`'s row path and the columnar one) and must give the same columns, rows,
// values and types. Statements outside the recognized shape must not be recognized, and damaged
// segment columns are an error, never a wrong answer.
#include "storage/analytic.h"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <random>
#include <string>
#include <vector>

#include "core/audit_json.h"
#include "core/time.h"
#include "storage/analytic_sql.h"
#include "storage/event_codec.h"
#include "storage/segment_codec.h"
#include "storage/readonly_sql.h"
#include "storage/sqlite_util.h"
#include "tests/unit/storage/store_test_util.h"

namespace ktrail {
namespace {

using testing::TempDir;

constexpr Micros kHour = 3600LL * 1000000;
constexpr Micros kStart = 1772359200000000;  // 2026-03-01T10:00Z

// `n` events over `hours` hours with every column varied: missing namespaces and codes,
// impersonation, several stages and levels, groups, source IPs and agents.
std::vector<AuditEvent> events(std::size_t n, int hours, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  const char* users[] = {"alice", "bob", "system:node:n1", "system:serviceaccount:x:y", "Zed"};
  const char* verbs[] = {"get", "list", "watch", "update", "create", "delete", "patch"};
  const char* resources[] = {"pods", "secrets", "configmaps", "leases", "nodes"};
  const char* namespaces[] = {"default", "prod", "kube-system", ""};
  const char* stages[] = {"ResponseComplete", "ResponseStarted", "RequestReceived", "Panic"};
  const char* levels[] = {"Metadata", "Request", "RequestResponse", "None"};
  const char* agents[] = {"kubectl/v1.29", "kubelet/v1.37", "curl/8"};
  std::vector<AuditEvent> out;
  for (std::size_t i = 0; i < n; ++i) {
    const Micros t = kStart + static_cast<Micros>(i) * (hours * kHour / static_cast<Micros>(n)) +
                     static_cast<Micros>(rng() % 1000);
    char id[40];
    std::snprintf(id, sizeof id, "%08llx-0000-4000-8000-%012llx",
                  static_cast<unsigned long long>(seed), static_cast<unsigned long long>(i));
    const std::string ns = namespaces[rng() % 4];
    const int code_pick = static_cast<int>(rng() % 10);
    std::string json = R"({"kind":"Event","apiVersion":"audit.k8s.io/v1","level":")" +
                       std::string(levels[rng() % 4]) + R"(","auditID":")" + id +
                       R"(","stage":")" + stages[rng() % 10 < 7 ? 0 : rng() % 4] +
                       R"(","requestURI":"/x","verb":")" + verbs[rng() % 7] +
                       R"(","user":{"username":")" + users[rng() % 5] + R"(","groups":[)" +
                       (rng() % 3 == 0 ? R"("system:masters")" : R"("system:authenticated")") +
                       "]}," +
                       (rng() % 8 == 0 ? R"("impersonatedUser":{"username":"carol"},)" : "") +
                       R"("sourceIPs":["10.0.0.)" + std::to_string(rng() % 4) +
                       R"("],"userAgent":")" + agents[rng() % 3] +
                       R"(","objectRef":{"resource":")" + resources[rng() % 5] + R"(",)" +
                       (ns.empty() ? "" : R"("namespace":")" + ns + R"(",)") +
                       R"("name":"obj-)" + std::to_string(rng() % 40) + R"(","apiVersion":"v1"},)" +
                       (code_pick == 0   ? ""
                        : code_pick == 1 ? R"("responseStatus":{"metadata":{},"code":403},)"
                        : code_pick == 2 ? R"("responseStatus":{"metadata":{},"code":401},)"
                                         : R"("responseStatus":{"metadata":{},"code":200},)") +
                       R"("requestReceivedTimestamp":")" + format_rfc3339(t - 150) +
                       R"(","stageTimestamp":")" + format_rfc3339(t) + R"("})";
    DecodedAudit decoded;
    decode_audit_line(json, &decoded);
    EXPECT_EQ(decoded.events.size(), 1u) << json;
    if (!decoded.events.empty()) {
      out.push_back(decoded.events[0]);
    }
  }
  return out;
}

void fill_store(const std::string& path, std::size_t n, int hours, std::uint64_t seed) {
  auto store = Store::open(path, StoreOptions{});
  ASSERT_TRUE(store.is_ok()) << store.status().to_string();
  Batch b;
  b.origin = "test";
  b.audit = events(n, hours, seed);
  ASSERT_TRUE((*store)->write_batch(b).is_ok());
}

void seal(const std::string& path, Micros seal_after) {
  auto store = Store::open(path, StoreOptions{});
  ASSERT_TRUE(store.is_ok());
  auto sealed = (*store)->seal_due(seal_after);
  ASSERT_TRUE(sealed.is_ok()) << sealed.status().to_string();
}

std::int64_t count_on_file(const std::string& path, const std::string& sql) {
  auto r = run_readonly_sql(path, sql);
  EXPECT_TRUE(r.is_ok()) << r.status().to_string();
  return r && !r->rows.empty() ? r->rows[0][0].integer : -1;
}

// A result as text: column names, then each row with every value's type and value.
std::string render(const SqlResult& r) {
  std::string out;
  for (const auto& c : r.columns) {
    out += c + "\t";
  }
  out += "\n";
  for (const auto& row : r.rows) {
    for (const auto& v : row) {
      switch (v.kind) {
        case SqlValue::Kind::kNull:
          out += "NULL";
          break;
        case SqlValue::Kind::kInt:
          out += "i:" + std::to_string(v.integer);
          break;
        case SqlValue::Kind::kReal:
          out += "r:" + std::to_string(v.real);
          break;
        default:
          out += "t:" + v.text;
      }
      out += "\t";
    }
    out += "\n";
  }
  return out;
}

std::string row_path(const std::string& db, const std::string& sql) {
  SqlLimits limits;
  limits.columnar = false;
  auto r = run_readonly_sql(db, sql, limits);
  EXPECT_TRUE(r.is_ok()) << r.status().to_string() << " in " << sql;
  return r ? render(*r) : "error";
}

// The columnar engine called directly, so that a statement it declines cannot pass unseen.
std::string columnar(const std::string& db, const std::string& sql) {
  auto q = storage::parse_analytic_sql(sql);
  EXPECT_TRUE(q.has_value()) << "not recognized: " << sql;
  if (!q) {
    return "not recognized";
  }
  auto conn = sqlite::Db::open(db, SQLITE_OPEN_READONLY);
  EXPECT_TRUE(conn.is_ok());
  auto r = storage::run_analytic(*conn, *q, {});
  EXPECT_TRUE(r.is_ok()) << r.status().to_string();
  if (!r || !r->has_value()) {
    return "declined";
  }
  return render(**r);
}

// The statements every store is asked: the bench's four, the report's kinds, and a seeded
// random mix of keys, aggregates, conditions, orders and limits.
std::vector<std::string> statements(std::size_t random) {
  std::vector<std::string> out = {
      "SELECT verb, count(*) FROM audit_events GROUP BY verb ORDER BY verb",
      "SELECT namespace, count(DISTINCT username) FROM audit_events WHERE resource = 'secrets' "
      "AND verb IN ('get','list','watch') GROUP BY namespace ORDER BY namespace",
      "SELECT username, count(*) AS n FROM audit_events WHERE verb IN "
      "('create','update','patch','delete','deletecollection') GROUP BY username "
      "ORDER BY n DESC, username LIMIT 10",
      "SELECT ts / 86400000000 AS day, resource, count(*) FROM audit_events "
      "GROUP BY day, resource ORDER BY day, resource",
      "SELECT ts / 3600000000, resource, count(*) FROM audit_events GROUP BY ts / 3600000000, "
      "resource ORDER BY 1, 2",
      "select COUNT(*) from AUDIT_EVENTS",
      "SELECT ts / 600000000 AS m, verb, count(*) FROM audit_events GROUP BY m, verb "
      "ORDER BY m, verb",
      "SELECT USERNAME, count(*) FROM audit_events GROUP BY USERNAME ORDER BY 2 DESC, 1 LIMIT 3",
      "SELECT Verb AS V, COUNT( * ) FROM audit_events GROUP BY v ORDER BY V",
      "SELECT count(*) AS n, count(code), count(DISTINCT code) FROM audit_events "
      "WHERE verb = 'nothing-like-this'",
      "SELECT username, impersonated_user, count(*) FROM audit_events WHERE code IN (401, 403) "
      "GROUP BY username, impersonated_user",
      "SELECT code, count(*) FROM audit_events GROUP BY code ORDER BY count(*) DESC, code",
      "SELECT stage, level, count(*) FROM audit_events WHERE stage = 'ResponseComplete' "
      "GROUP BY stage, level ORDER BY level DESC",
      "SELECT namespace, count(*) FROM audit_events WHERE code >= 400 AND code < 500 "
      "GROUP BY namespace",
      "SELECT user_agent, source_ips, groups, count(DISTINCT subresource) FROM audit_events "
      "GROUP BY user_agent, source_ips, groups",
      "SELECT resource, count(*) c FROM audit_events WHERE ts >= 1772366400000000 AND "
      "ts < 1772373600000000 GROUP BY resource ORDER BY c, resource;",
      "SELECT count(*) FROM audit_events WHERE stage = 'Panic' AND level IN ('None', 'Request')",
  };
  const char* text_columns[] = {"verb",      "username",   "groups",     "impersonated_user",
                                "resource",  "subresource", "namespace", "source_ips",
                                "user_agent", "stage",      "level",      "code"};
  const char* conditions[] = {"verb IN ('get','list')",   "resource = 'secrets'",
                              "namespace = 'prod'",        "username IN ('alice','Zed','x')",
                              "code = 200",                "code > 300",
                              "ts <= 1772370000000000",    "ts > 1772362000000000",
                              "level = 'RequestResponse'", "impersonated_user = 'carol'",
                              "groups = '[\"system:masters\"]'", "stage IN ('Panic','x')"};
  std::mt19937_64 rng(2026);
  for (std::size_t i = 0; i < random; ++i) {
    const std::size_t nkeys = rng() % 4;
    std::vector<std::string> keys;
    for (std::size_t k = 0; k < nkeys; ++k) {
      const std::string key =
          rng() % 5 == 0 ? "ts / 3600000000" : text_columns[rng() % std::size(text_columns)];
      if (std::find(keys.begin(), keys.end(), key) == keys.end()) {
        keys.push_back(key);
      }
    }
    std::vector<std::string> items = keys;
    const std::size_t naggs = 1 + rng() % 2;
    for (std::size_t a = 0; a < naggs; ++a) {
      const std::string col = text_columns[rng() % std::size(text_columns)];
      items.push_back(rng() % 3 == 0   ? "count(*)"
                      : rng() % 2 == 0 ? "count(DISTINCT " + col + ")"
                                       : "count(" + col + ")");
    }
    std::string sql = "SELECT ";
    for (std::size_t j = 0; j < items.size(); ++j) {
      sql += (j ? ", " : "") + items[j] + " AS c" + std::to_string(j);
    }
    sql += " FROM audit_events";
    const std::size_t nconds = rng() % 3;
    for (std::size_t c = 0; c < nconds; ++c) {
      sql += (c ? " AND " : " WHERE ") + std::string(conditions[rng() % std::size(conditions)]);
    }
    if (!keys.empty()) {
      sql += " GROUP BY ";
      for (std::size_t k = 0; k < keys.size(); ++k) {
        sql += (k ? ", " : "") + keys[k];
      }
    }
    // A complete order (every result column), so that SQLite's answer is one sequence.
    sql += " ORDER BY ";
    for (std::size_t j = 0; j < items.size(); ++j) {
      sql += (j ? ", " : "") + std::string("c") + std::to_string(items.size() - 1 - j) +
             (rng() % 2 ? " DESC" : "");
    }
    if (rng() % 3 == 0) {
      sql += " LIMIT " + std::to_string(rng() % 7);
    }
    out.push_back(sql);
  }
  return out;
}

void expect_same_answers(const std::string& db) {
  for (const auto& sql : statements(150)) {
    const std::string expected = row_path(db, sql);
    EXPECT_EQ(columnar(db, sql), expected) << sql;
    // And through `ktrail sql`'s entry point, which takes the columnar path by default.
    auto via_sql = run_readonly_sql(db, sql);
    ASSERT_TRUE(via_sql.is_ok()) << via_sql.status().to_string();
    EXPECT_EQ(render(*via_sql), expected) << sql;
  }
}

TEST(SegmentCodec, SelectedColumnsDecodeAsTheWholeAndDamageIsAnError) {
  storage::SegmentColumns c;
  std::mt19937_64 rng(11);
  std::int64_t key = std::int64_t{kStart} << storage::kSlotBits;
  for (int i = 0; i < 4000; ++i) {
    key += 1 + static_cast<std::int64_t>(rng() % 100000);
    c.key.push_back(key);
    c.ts.push_back((key >> storage::kSlotBits) - (i % 50 == 0 ? 3 : 0));
    c.received.push_back(c.ts.back() - static_cast<std::int64_t>(rng() % 5000));
    char id[40];
    std::snprintf(id, sizeof id, "%08x-0000-4000-8000-%012x", i, i * 7);
    c.audit_id.push_back(i % 3 == 0 ? "Not-A-UUID-" + std::to_string(i) : std::string(id));
    c.stage.push_back(static_cast<std::uint8_t>(rng() % 4));
    c.level.push_back(static_cast<std::uint8_t>(rng() % 4));
    c.level_received.push_back(static_cast<std::uint8_t>(rng() % 4));
    c.code.push_back(i % 11 == 0 ? 0 : 200 + static_cast<int>(rng() % 300));
    for (auto& col : c.ids) {
      col.push_back(rng() % 4 == 0 ? 0 : static_cast<std::int64_t>(rng() % (1 << 21)));
    }
  }
  for (const int layout : {1, 2, 3}) {
  SCOPED_TRACE("layout " + std::to_string(layout));
  const std::string blob = storage::encode_columns(c, 3, layout);
  EXPECT_EQ(blob[0], static_cast<char>(layout));
  auto whole = storage::decode_columns(blob);
  ASSERT_TRUE(whole.is_ok()) << whole.status().to_string();
  EXPECT_EQ(whole->key, c.key);
  EXPECT_EQ(whole->ts, c.ts);
  EXPECT_EQ(whole->received, c.received);
  EXPECT_EQ(whole->audit_id, c.audit_id);
  EXPECT_EQ(whole->stage, c.stage);
  EXPECT_EQ(whole->level_received, c.level_received);
  EXPECT_EQ(whole->code, c.code);
  EXPECT_EQ(whole->ids, c.ids);
  storage::SegmentColumns out;
  std::string plain;
  for (int pick = 0; pick < 64; ++pick) {
    storage::ColumnSelection want;
    want.ts = pick & 1;
    want.stage_level = pick & 2;
    want.code = pick & 4;
    for (std::size_t k = 0; k < storage::kIdColumns; ++k) {
      want.ids[k] = ((pick >> 3) + k) % 3 == 0;
    }
    // Only a prefix of the blob is needed (layout 2 keeps the times and auditIDs last).
    auto extent = storage::selected_columns_extent(
        std::string_view(blob).substr(0, storage::kColumnsHeadBytes), blob.size(), want);
    ASSERT_TRUE(extent.is_ok()) << extent.status().to_string();
    if (layout == 1) {
      EXPECT_EQ(*extent, blob.size());
    } else {
      EXPECT_LT(*extent, blob.size());  // never the auditIDs (the last frame)
    }
    if (*extent > 0) {
      EXPECT_FALSE(storage::decode_selected_columns(std::string_view(blob).substr(0, *extent - 1),
                                                    blob.size(), want, &out, &plain)
                       .is_ok());
    }
    auto n = storage::decode_selected_columns(std::string_view(blob).substr(0, *extent),
                                              blob.size(), want, &out, &plain);
    ASSERT_TRUE(n.is_ok()) << n.status().to_string();
    ASSERT_EQ(*n, c.size());
    EXPECT_EQ(out.ts, want.ts ? c.ts : std::vector<std::int64_t>{});
    EXPECT_EQ(out.key, want.ts ? c.key : std::vector<std::int64_t>{});
    EXPECT_EQ(out.stage, want.stage_level ? c.stage : std::vector<std::uint8_t>{});
    EXPECT_EQ(out.level, want.stage_level ? c.level : std::vector<std::uint8_t>{});
    EXPECT_EQ(out.code, want.code ? c.code : std::vector<std::int32_t>{});
    for (std::size_t k = 0; k < storage::kIdColumns; ++k) {
      EXPECT_EQ(out.ids[k], want.ids[k] ? c.ids[k] : std::vector<std::int64_t>{}) << k;
    }
  }
  storage::ColumnSelection all;
  all.ts = all.stage_level = all.code = true;
  all.ids.fill(true);
  std::string damaged = blob;
  damaged[damaged.size() / 2] ^= 0x5a;
  EXPECT_FALSE(storage::decode_selected_columns(damaged, all, &out, &plain).is_ok());
  EXPECT_FALSE(
      storage::decode_selected_columns(blob.substr(0, blob.size() - 9), all, &out, &plain).is_ok());
  EXPECT_FALSE(storage::decode_selected_columns("", all, &out, &plain).is_ok());
  EXPECT_FALSE(storage::decode_selected_columns(std::string(1, '\x07') + blob.substr(1), all, &out,
                                                &plain)
                   .is_ok());
  EXPECT_FALSE(storage::decode_columns(damaged).is_ok());
  // Every cut of the blob is an error, never a shorter answer.
  for (std::size_t cut = 0; cut < blob.size(); cut += 1 + blob.size() / 97) {
    EXPECT_FALSE(storage::decode_columns(blob.substr(0, cut)).is_ok()) << cut;
  }
  }
  // An empty segment round-trips in every layout.
  for (const int layout : {1, 2, 3}) {
    auto empty = storage::decode_columns(storage::encode_columns({}, 3, layout));
    ASSERT_TRUE(empty.is_ok()) << empty.status().to_string();
    EXPECT_EQ(empty->size(), 0u);
  }
}

TEST(AnalyticSql, RecognizesTheAggregationShapesAndNothingElse) {
  for (const auto& sql : statements(40)) {
    EXPECT_TRUE(storage::parse_analytic_sql(sql).has_value()) << sql;
  }
  const char* others[] = {
      "SELECT verb FROM audit_events",                                      // not an aggregation
      "SELECT verb, username, count(*) FROM audit_events GROUP BY verb",    // bare column
      "SELECT verb, count(*) FROM audit GROUP BY verb",                     // ids, not the view
      "SELECT verb, count(*) FROM audit_events GROUP BY verb HAVING count(*) > 1",
      "SELECT resource AS verb, count(*) FROM audit_events GROUP BY verb",  // alias = column
      "SELECT \"verb\", count(*) FROM audit_events GROUP BY verb",          // quoted name
      "SELECT verb, count(*) FROM audit_events -- c\n GROUP BY verb",       // comment
      "SELECT verb, count(*) FROM audit_events WHERE verb = 1 GROUP BY verb",
      "SELECT verb, count(*) FROM audit_events WHERE code = '200' GROUP BY verb",
      "SELECT verb, count(*) FROM audit_events WHERE verb = 'a' OR verb = 'b' GROUP BY verb",
      "SELECT name, count(*) FROM audit_events GROUP BY name",
      "SELECT verb, count(*) FROM audit_events GROUP BY verb; SELECT 1",
      "SELECT verb, sum(code) FROM audit_events GROUP BY verb",
      "SELECT ts, count(*) FROM audit_events GROUP BY ts",
      "SELECT ts / 0, count(*) FROM audit_events GROUP BY 1",
      "SELECT verb, count(*) FROM audit_events GROUP BY verb LIMIT 1 OFFSET 2",
      "SELECT verb, count(*) FROM audit_events GROUP BY verb ORDER BY username",
      "SELECT count(*) FROM audit_events WHERE verb = 'it''s' AND code = 99999999999999999999",
      "SELECT verb, count(*) FROM audit_events WHERE verb = 'caf\xc3\xa9' GROUP BY verb",
      "SELECT verb, count(*) FROM audit_events WHERE verb = 'open GROUP BY verb",
      "SELECT verb, count(*) FROM audit_events WHERE ts >= ?1 GROUP BY verb",
      "",
      "SELECT",
  };
  for (const char* sql : others) {
    EXPECT_FALSE(storage::parse_analytic_sql(sql).has_value()) << sql;
  }
  auto q = storage::parse_analytic_sql(
      "SELECT username, count(*) AS N FROM audit_events WHERE verb IN ('create','it''s') "
      "GROUP BY username ORDER BY n DESC, username LIMIT 10");
  ASSERT_TRUE(q.has_value());
  EXPECT_EQ(q->outputs[1].name, "N");
  ASSERT_EQ(q->conditions.size(), 1u);
  EXPECT_EQ(q->conditions[0].texts, (std::vector<std::string>{"create", "it's"}));
  EXPECT_EQ(q->limit, 10);
  ASSERT_EQ(q->order.size(), 2u);
  EXPECT_TRUE(q->order[0].descending);
  EXPECT_FALSE(q->order[0].is_key);
}

TEST(Analytic, AnswersLikeSqliteOnAnUnsealedStore) {
  TempDir dir;
  const std::string db = dir.file("k.db");
  fill_store(db, 5000, 30, 1);
  ASSERT_EQ(count_on_file(db, "SELECT count(*) FROM segments"), 0);
  expect_same_answers(db);
}

TEST(Analytic, AnswersLikeSqliteOnHotRowsAndSegmentsTogether) {
  TempDir dir;
  const std::string db = dir.file("k.db");
  fill_store(db, 5000, 30, 2);
  // Partitions of an hour: those older than 10 hours before the newest event are sealed.
  seal(db, 10 * kHour);
  ASSERT_GT(count_on_file(db, "SELECT count(*) FROM segments"), 10);
  ASSERT_GT(count_on_file(db, "SELECT count(*) FROM main.audit"), 1000);
  expect_same_answers(db);
  // Late events for sealed hours: hot again, beside their segments.
  fill_store(db, 700, 20, 3);
  expect_same_answers(db);
}

TEST(Analytic, AnswersLikeSqliteOnAFullySealedStore) {
  TempDir dir;
  const std::string db = dir.file("k.db");
  fill_store(db, 5000, 30, 4);
  seal(db, -kHour);  // the newest partition too
  ASSERT_EQ(count_on_file(db, "SELECT count(*) FROM main.audit"), 0);
  expect_same_answers(db);
}

TEST(Analytic, AnEmptyStoreAndAStoreWithoutAuditTable) {
  TempDir dir;
  const std::string db = dir.file("k.db");
  fill_store(db, 0, 1, 5);
  expect_same_answers(db);
  // A file that is not a store: the columnar engine declines, SQLite reports the missing view.
  const std::string other = dir.file("other.db");
  {
    auto conn = sqlite::Db::open(other, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
    ASSERT_TRUE(conn.is_ok());
    ASSERT_TRUE(conn->exec("CREATE TABLE t(x)").is_ok());
  }
  auto conn = sqlite::Db::open(other, SQLITE_OPEN_READONLY);
  auto q = storage::parse_analytic_sql("SELECT verb, count(*) FROM audit_events GROUP BY verb");
  ASSERT_TRUE(q.has_value());
  auto r = storage::run_analytic(*conn, *q, {});
  ASSERT_TRUE(r.is_ok());
  EXPECT_FALSE(r->has_value());
  auto via_sql = run_readonly_sql(other, "SELECT verb, count(*) FROM audit_events GROUP BY verb");
  ASSERT_FALSE(via_sql.is_ok());
  EXPECT_NE(via_sql.status().message().find("audit_events"), std::string::npos)
      << via_sql.status().message();
}

TEST(Analytic, DamagedSegmentColumnsAreAnErrorNotAWrongAnswer) {
  TempDir dir;
  const std::string db = dir.file("k.db");
  fill_store(db, 3000, 10, 6);
  seal(db, 0);
  {
    auto conn = sqlite::Db::open(db, SQLITE_OPEN_READWRITE);
    ASSERT_TRUE(conn.is_ok());
    // Flip bytes in the middle of one segment's column frame, and cut another short.
    ASSERT_TRUE(conn->exec("UPDATE segment_columns SET columns = substr(columns, 1, 20) || "
                           "x'00ff00ff00ff' || substr(columns, 27) WHERE segment_id = "
                           "(SELECT min(segment_id) FROM segment_columns)")
                    .is_ok());
  }
  const std::string sql = "SELECT verb, count(*) FROM audit_events GROUP BY verb";
  auto r = run_readonly_sql(db, sql);
  ASSERT_FALSE(r.is_ok());
  EXPECT_NE(r.status().message().find("corrupt segment columns"), std::string::npos)
      << r.status().message();
  {
    auto conn = sqlite::Db::open(db, SQLITE_OPEN_READWRITE);
    ASSERT_TRUE(conn->exec("UPDATE segment_columns SET columns = substr(columns, 1, 10) WHERE "
                           "segment_id = (SELECT max(segment_id) FROM segment_columns)")
                    .is_ok());
  }
  EXPECT_FALSE(run_readonly_sql(db, sql).is_ok());
  // A segment whose columns are gone is an error too, not an answer without its rows.
  {
    auto conn = sqlite::Db::open(db, SQLITE_OPEN_READWRITE);
    ASSERT_TRUE(conn->exec("DELETE FROM segment_columns").is_ok());
  }
  auto gone = run_readonly_sql(db, sql);
  ASSERT_FALSE(gone.is_ok());
  EXPECT_NE(gone.status().message().find("has no columns"), std::string::npos)
      << gone.status().message();
}

TEST(Analytic, TheRowLimitHoldsOnTheColumnarPath) {
  TempDir dir;
  const std::string db = dir.file("k.db");
  fill_store(db, 2000, 5, 7);
  SqlLimits limits;
  limits.max_rows = 2;
  auto r = run_readonly_sql(db, "SELECT verb, count(*) FROM audit_events GROUP BY verb", limits);
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().code(), ErrorCode::kResourceExhausted);
  EXPECT_NE(r.status().message().find("--max-rows"), std::string::npos);
}

}  // namespace
}  // namespace ktrail
