// Runs the real `ktrail` binary against stores written with Store::write_batch.
#include <gtest/gtest.h>
#include <rapidjson/document.h>
#include <sys/wait.h>

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
  auto r = run({"query", "audit", "--db", db_, "-o", "json", "--limit", "0"}, dir_);
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
           {"query", "audit", "--db", db_, "-o", "yaml"},
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
