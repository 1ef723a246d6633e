// Runs the real `ktrail` binary against stores written with Store::write_batch.
#include <gtest/gtest.h>
#include <rapidjson/document.h>
#include <sys/wait.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "storage/readonly_sql.h"
#include "storage/store.h"
#include "tests/unit/storage/store_test_util.h"

namespace ktrail {
namespace {

struct Run {
  int code = -1;
  std::string out;
  std::string err;
};

std::string quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) {
    q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  }
  return q + "'";
}

Run run(const std::vector<std::string>& args, const testing::TempDir& dir) {
  std::string cmd = quote(KTRAIL_BINARY);
  for (const auto& a : args) {
    cmd += " " + quote(a);
  }
  const std::string err_path = dir.file("stderr.txt");
  cmd += " 2>" + quote(err_path);
  Run r;
  FILE* p = popen(cmd.c_str(), "r");
  if (p == nullptr) {
    return r;
  }
  char buf[4096];
  std::size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) {
    r.out.append(buf, n);
  }
  const int status = pclose(p);
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  std::ifstream in(err_path);
  std::stringstream ss;
  ss << in.rdbuf();
  r.err = ss.str();
  return r;
}

class CliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    db_ = dir_.file("ktrail.db");
    auto store = Store::open(db_, StoreOptions{});
    ASSERT_TRUE(store.is_ok());
    for (const char* name : {"audit2rbac-demo-raw-v1beta1.jsonl", "audit2rbac-demo-v1.jsonl",
                             "falco-k8s-audit-trace-files.jsonl"}) {
      auto decoded = testing::read_data_file(name);
      Batch b;
      b.audit = decoded.events;
      b.rejected = decoded.rejected;
      b.origin = std::string("file ") + name;
      auto outcome = (*store)->write_batch(b);
      ASSERT_TRUE(outcome.is_ok());
      stored_ += outcome->stored;
      // A replay adds nothing.
      auto replay = (*store)->write_batch(b);
      ASSERT_TRUE(replay.is_ok());
      EXPECT_EQ(replay->stored, 0u);
    }
  }

  testing::TempDir dir_;
  std::string db_;
  std::size_t stored_ = 0;
};

rapidjson::Document parse(const std::string& text) {
  rapidjson::Document d;
  d.Parse(text.c_str());
  EXPECT_FALSE(d.HasParseError()) << text.substr(0, 300);
  return d;
}

TEST_F(CliTest, QueryAuditJsonHasEveryEventOnce) {
  auto r = run({"query", "audit", "--db", db_, "-o", "json", "--limit", "0", "--stages", "all"},
               dir_);
  ASSERT_EQ(r.code, 0) << r.err;
  auto d = parse(r.out);
  ASSERT_TRUE(d.IsArray());
  EXPECT_EQ(d.Size(), stored_);
  std::set<std::string> identities;
  std::string last_time;
  for (const auto& e : d.GetArray()) {
    identities.insert(std::string(e["auditID"].GetString()) + e["stage"].GetString() +
                      e["requestReceivedTimestamp"].GetString() + e["time"].GetString());
    EXPECT_GE(std::string(e["time"].GetString()), last_time);  // oldest first
    last_time = e["time"].GetString();
    EXPECT_TRUE(e["groups"].IsArray());
    EXPECT_TRUE(e["sourceIPs"].IsArray());
    EXPECT_FALSE(e.HasMember("event"));
  }
  EXPECT_EQ(identities.size(), stored_);
}

TEST_F(CliTest, QueryAuditFiltersAndFullEvent) {
  auto r =
      run({"query", "audit", "--db", db_, "-o", "json", "--code", "403", "--limit", "0", "--full"},
          dir_);
  ASSERT_EQ(r.code, 0) << r.err;
  auto d = parse(r.out);
  ASSERT_GT(d.Size(), 0u);
  for (const auto& e : d.GetArray()) {
    EXPECT_EQ(e["code"].GetInt(), 403);
    ASSERT_TRUE(e["event"].IsObject());
    EXPECT_STREQ(e["event"]["auditID"].GetString(), e["auditID"].GetString());
  }
  r = run({"query", "audit", "--db", db_, "-o", "json", "--resource", "pods", "--verb", "list",
           "--namespace", "default", "--limit", "2"},
          dir_);
  ASSERT_EQ(r.code, 0) << r.err;
  d = parse(r.out);
  ASSERT_EQ(d.Size(), 2u);
  for (const auto& e : d.GetArray()) {
    EXPECT_STREQ(e["resource"].GetString(), "pods");
    EXPECT_STREQ(e["verb"].GetString(), "list");
    EXPECT_STREQ(e["namespace"].GetString(), "default");
  }
}

TEST_F(CliTest, QueryAuditTimeRangeAndFormats) {
  auto r = run({"query", "audit", "--db", db_, "--since", "2017-09-11T19:55:00Z", "--until",
                "2017-09-11T19:56:00Z", "-o", "csv", "--limit", "0"},
               dir_);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out.rfind("time,requestReceivedTimestamp,auditID,", 0), 0u) << r.out;
  std::size_t lines = 0;
  for (std::size_t i = r.out.find("\r\n"); i != std::string::npos; i = r.out.find("\r\n", i + 2)) {
    ++lines;
  }
  EXPECT_GT(lines, 1u);
  r = run({"query", "audit", "--db", db_, "--limit", "3"}, dir_);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out.rfind("TIME", 0), 0u);
  EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 4);
  // A duration back from now: the test data is from years ago, so nothing matches.
  r = run({"query", "audit", "--db", db_, "--since", "2h", "-o", "json"}, dir_);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "[]\n");
}

TEST_F(CliTest, UsageErrorsExitTwo) {
  for (const auto& args : std::vector<std::vector<std::string>>{
           {"query", "audit", "--db", db_, "--since", "yesterday"},
           {"query", "audit", "--db", db_, "-o", "xml"},
           {"query", "audit", "--db", db_, "--bogus"},
           {"query", "audit", "--db", db_, "--code", "abc"},
           {"query", "audit", "--db", db_, "--limit", "-5"},
           {"query", "audit", "--db", db_, "extra"},
           {"sql", "--db", db_},
           {"sql", "--db", db_, "-o", "xml", "SELECT 1"},
           {"sql", "--db", db_, "--bogus", "SELECT 1"},
       }) {
    auto r = run(args, dir_);
    EXPECT_EQ(r.code, 2) << args.back() << ": " << r.err;
    EXPECT_EQ(r.err.rfind("ktrail: ", 0), 0u) << r.err;
  }
}

TEST_F(CliTest, MissingStoreFails) {
  auto r = run({"query", "audit", "--db", dir_.file("absent.db")}, dir_);
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("no store"), std::string::npos) << r.err;
}

TEST_F(CliTest, SqlSelectWorks) {
  auto r = run({"sql", "--db", db_, "-o", "json",
                "SELECT count(*) AS n, count(DISTINCT audit_id) AS ids FROM audit"},
               dir_);
  ASSERT_EQ(r.code, 0) << r.err;
  auto d = parse(r.out);
  ASSERT_EQ(d.Size(), 1u);
  EXPECT_EQ(d[0]["n"].GetUint64(), stored_);
  r = run({"sql", "--db", db_, "-o", "json",
           "SELECT a.audit_id, block_event(b.format, b.data, a.block_index) AS event "
           "FROM audit_events a JOIN event_blocks b ON b.id = a.block_id "
           "WHERE a.username = 'system:admin' LIMIT 1"},
          dir_);
  ASSERT_EQ(r.code, 0) << r.err;
  d = parse(r.out);
  ASSERT_EQ(d.Size(), 1u);
  auto event = parse(d[0]["event"].GetString());
  EXPECT_STREQ(event["auditID"].GetString(), d[0]["audit_id"].GetString());
}

TEST_F(CliTest, SqlWritesAreRefused) {
  for (const std::string sql : {
           "INSERT INTO dict(value) VALUES ('x')",
           "UPDATE audit SET code = 1",
           "DELETE FROM audit",
           "DROP TABLE audit",
           "CREATE TABLE t(x)",
           "ATTACH DATABASE '/tmp/ktrail-other.db' AS o",
           "PRAGMA user_version = 7",
           "PRAGMA journal_mode = DELETE",
           "SELECT 1; DELETE FROM audit",
           "SELECT 1; SELECT 2",
           "BEGIN",
           "VACUUM",
           "WITH x AS (SELECT 1) DELETE FROM audit",
       }) {
    auto r = run({"sql", "--db", db_, sql}, dir_);
    EXPECT_EQ(r.code, 1) << sql;
    EXPECT_NE(r.err.find("read-only"), std::string::npos) << sql << ": " << r.err;
  }
  auto counts = run({"sql", "--db", db_, "-o", "csv", "SELECT count(*) AS n FROM audit"}, dir_);
  EXPECT_EQ(counts.out, "n\r\n" + std::to_string(stored_) + "\r\n");
  auto version = run({"sql", "--db", db_, "-o", "csv", "PRAGMA user_version"}, dir_);
  EXPECT_EQ(version.code, 0) << version.err;
}

TEST_F(CliTest, SqlRefusalsNameWhatWasRefused) {
  // Every kind of write, and the functions that reach outside the data: exit 1, and the message
  // names what was refused.
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"INSERT INTO dict(value) VALUES ('x')", "INSERT"},
      {"REPLACE INTO dict(id, value) VALUES (1, 'x')", "REPLACE"},
      {"INSERT INTO dict(value) VALUES ('x') ON CONFLICT DO NOTHING", "INSERT"},
      {"UPDATE audit SET code = 1", "UPDATE"},
      {"UPDATE sqlite_master SET sql = ''", "UPDATE"},
      {"DELETE FROM audit", "DELETE"},
      {"DELETE FROM sqlite_master", "DELETE"},
      {"DROP TABLE audit", "DROP"},
      {"DROP VIEW audit_events", "DROP VIEW"},
      {"DROP INDEX audit_displaced_by_key", "DROP"},
      {"CREATE TABLE t(x)", "CREATE"},
      {"CREATE TEMP TABLE t(x)", "CREATE TEMP TABLE"},
      {"CREATE VIEW v AS SELECT 1", "CREATE"},
      {"CREATE INDEX i ON audit(code)", "CREATE"},
      {"CREATE TRIGGER tr AFTER INSERT ON dict BEGIN SELECT 1; END", "CREATE"},
      {"CREATE VIRTUAL TABLE v USING fts4(x)", "CREATE VIRTUAL TABLE"},
      {"ALTER TABLE audit ADD COLUMN x", "ALTER TABLE"},
      {"REINDEX", "REINDEX"},
      {"ANALYZE", "ANALYZE"},
      {"ATTACH DATABASE '/tmp/ktrail-other.db' AS o", "ATTACH"},
      {"DETACH DATABASE main", "DETACH"},
      {"BEGIN", "BEGIN"},
      {"COMMIT", "COMMIT"},
      {"SAVEPOINT s", "SAVEPOINT"},
      {"VACUUM", "VACUUM"},
      {"VACUUM INTO '/tmp/ktrail-copy.db'", "VACUUM"},
      {"PRAGMA user_version = 7", "PRAGMA user_version"},
      {"PRAGMA writable_schema = 1", "PRAGMA writable_schema"},
      {"PRAGMA query_only = 0", "PRAGMA query_only"},
      {"PRAGMA journal_mode = DELETE", "PRAGMA journal_mode"},
      {"PRAGMA integrity_check", "PRAGMA integrity_check"},
      {"SELECT fts3_tokenizer('simple')", "fts3_tokenizer"},
      {"SELECT hex(fts3_tokenizer('porter'))", "fts3_tokenizer"},
      {"SELECT load_extension('/tmp/x.so')", "load_extension"},
      {"WITH x AS (SELECT 1) DELETE FROM audit", "DELETE"},
      {"SELECT 1; DELETE FROM audit", "more than one statement"},
  };
  for (const auto& [sql, named] : cases) {
    auto r = run({"sql", "--db", db_, sql}, dir_);
    EXPECT_EQ(r.code, 1) << sql;
    EXPECT_NE(r.err.find(named), std::string::npos) << sql << ": " << r.err;
    EXPECT_NE(r.err.find("not allowed"), std::string::npos) << sql << ": " << r.err;
  }
}

TEST_F(CliTest, SqlTableValuedFunctionsWork) {
  auto r = run({"sql", "--db", db_, "-o", "csv", "SELECT key, value FROM json_each('[10,20]')"},
               dir_);
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "key,value\r\n0,10\r\n1,20\r\n");
  r = run({"sql", "--db", db_, "-o", "csv",
           "SELECT fullkey FROM json_tree('{\"a\":{\"b\":1}}') WHERE atom IS NOT NULL"},
          dir_);
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "fullkey\r\n$.a.b\r\n");
  r = run({"sql", "--db", db_, "-o", "csv",
           "SELECT name FROM pragma_table_info('audit') WHERE name IN ('key', 'ts')"},
          dir_);
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "name\r\nkey\r\nts\r\n");
  r = run({"sql", "--db", db_, "-o", "csv", "PRAGMA table_info(dict)"}, dir_);
  EXPECT_EQ(r.code, 0) << r.err;
  // A JSON column of the store, expanded: every group of every event.
  r = run({"sql", "--db", db_, "-o", "csv",
           "SELECT count(*) AS n FROM audit_events a, json_each(a.groups) g "
           "WHERE g.value = 'system:authenticated'"},
          dir_);
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out, "n\r\n0\r\n");
}

// Runs ktrail sql with `extra` options and returns the run and its wall time in seconds.
std::pair<Run, double> timed_sql(const testing::TempDir& dir, const std::string& db,
                                 const std::vector<std::string>& extra, const std::string& sql) {
  std::vector<std::string> args = {"sql", "--db", db};
  args.insert(args.end(), extra.begin(), extra.end());
  args.push_back(sql);
  const auto start = std::chrono::steady_clock::now();
  Run r = run(args, dir);
  return {r, std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count()};
}

TEST_F(CliTest, SqlRunawayStatementsHitALimit) {
  constexpr const char* kForever =
      "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c";
  // Each statement would run until killed or take gigabytes without a limit.
  for (const std::string& sql : {
           std::string(kForever),
           std::string("SELECT count(*) FROM audit a, audit b, audit c, audit d, audit e"),
       }) {
    auto [r, seconds] = timed_sql(dir_, db_, {"--timeout", "1s"}, sql);
    EXPECT_EQ(r.code, 1) << sql;
    EXPECT_NE(r.err.find("stopped after 1 s (--timeout)"), std::string::npos) << sql << r.err;
    EXPECT_LT(seconds, 30) << sql;  // generous: the machine may be loaded
  }
  for (const std::string& sql : {
           std::string("SELECT printf('%.*c', 999999999, 'x')"),
           std::string("SELECT length(printf('%.*c', 999999999, 'x'))"),
           std::string("SELECT length(randomblob(2000000000))"),
           std::string("SELECT length(zeroblob(1000000000))"),
           std::string("WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c "
                       "LIMIT 100000) SELECT length(group_concat(hex(zeroblob(1000)))) FROM c"),
           std::string("SELECT format('%*d', 2000000000, 1)"),
           std::string("SELECT printf('%s%s%s%s', x, x, x, x) FROM (SELECT hex(zeroblob(3000000)) "
                       "AS x)"),
       }) {
    auto [r, seconds] = timed_sql(dir_, db_, {"--timeout", "20s", "--max-memory", "64MiB"}, sql);
    EXPECT_EQ(r.code, 1) << sql;
    EXPECT_NE(r.err.find("(a quarter of --max-memory)"), std::string::npos) << sql << r.err;
    EXPECT_LT(seconds, 30) << sql;
  }
  // Many values held at once: the heap limit, not the value limit.
  auto [r, seconds] = timed_sql(
      dir_, db_, {"--timeout", "60s", "--max-memory", "16MiB"},
      "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c LIMIT 2000000) "
      "SELECT count(*) FROM (SELECT x FROM c ORDER BY randomblob(64))");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("of memory (--max-memory)"), std::string::npos) << r.err;
}

TEST_F(CliTest, SqlPrintfWorksWithinTheLimit) {
  auto r = run({"sql", "--db", db_, "-o", "csv",
                "SELECT printf('%5.2f|%-4s|%q|%c%c|%%|%d', 3.14159, 'ab', 'it''s', 'x', 'y', 42) "
                "AS a, format('%.*c', 3, 'z') AS b, length(printf('%.*c', 1000000, 'w')) AS c"},
               dir_);
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "a,b,c\r\n 3.14|ab  |it''s|xy|%|42,zzz,1000000\r\n");
}

TEST_F(CliTest, SqlRowsArePrintedAsTheyCome) {
  // A statement that never ends still prints its rows before the time limit stops it (rows held
  // back until the end would never appear), and --max-rows stops a long result.
  auto [r, seconds] = timed_sql(
      dir_, db_, {"-o", "csv", "--timeout", "2s"},
      "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) "
      "SELECT x, (SELECT count(*) FROM audit) AS n FROM c");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("--timeout"), std::string::npos) << r.err;
  EXPECT_EQ(r.out.rfind("x,n\r\n1,", 0), 0u) << r.out.substr(0, 100);
  EXPECT_GT(std::count(r.out.begin(), r.out.end(), '\n'), 1000);
  auto limited =
      timed_sql(dir_, db_, {"-o", "csv", "--max-rows", "3"}, "SELECT key FROM audit ORDER BY key")
          .first;
  EXPECT_EQ(limited.code, 1);
  EXPECT_NE(limited.err.find("stopped after 3 rows (--max-rows)"), std::string::npos)
      << limited.err;
  EXPECT_EQ(std::count(limited.out.begin(), limited.out.end(), '\n'), 4);  // header and 3 rows
  auto exact = timed_sql(dir_, db_, {"-o", "json", "--max-rows", "2"},
                         "SELECT key FROM audit ORDER BY key LIMIT 2")
                   .first;
  EXPECT_EQ(exact.code, 0) << exact.err;
  EXPECT_EQ(parse(exact.out).Size(), 2u);
  // A table wider than its first thousand rows still prints every row.
  auto table = timed_sql(dir_, db_, {},
                         "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c "
                         "LIMIT 1500) SELECT x, printf('%.*c', x / 100, 'y') AS pad FROM c")
                   .first;
  EXPECT_EQ(table.code, 0) << table.err;
  EXPECT_EQ(std::count(table.out.begin(), table.out.end(), '\n'), 1501);
}

TEST_F(CliTest, SqlLimitOptionsAreChecked) {
  for (const std::vector<std::string>& extra : {
           std::vector<std::string>{"--timeout", "0s"},
           std::vector<std::string>{"--timeout", "soon"},
           std::vector<std::string>{"--max-memory", "1MiB"},
           std::vector<std::string>{"--max-memory", "lots"},
       }) {
    auto r = timed_sql(dir_, db_, extra, "SELECT 1").first;
    EXPECT_EQ(r.code, 2) << extra.back() << ": " << r.err;
  }
}

TEST_F(CliTest, MalformedSqlGivesSqliteMessage) {
  auto r = run({"sql", "--db", db_, "SELEC * FROM audit"}, dir_);
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("syntax error"), std::string::npos) << r.err;
  r = run({"sql", "--db", db_, "SELECT * FROM no_such_table"}, dir_);
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("no such table"), std::string::npos) << r.err;
  r = run({"sql", "--db", db_, ""}, dir_);
  EXPECT_NE(r.code, 0);
}

}  // namespace
}  // namespace ktrail
