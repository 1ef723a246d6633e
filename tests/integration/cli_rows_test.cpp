// What the query commands show, on the real binary and real stores: one row per request unless
// --stages all (requests only received, panics, long watches).
#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <map>
#include <set>
#include <sstream>

#include "tests/support/process.h"
#include "tests/support/test_env.h"

namespace ktrail::testing {
namespace {

const std::string kData = std::string(KTRAIL_SOURCE_DIR) + "/tests/data/";

// One audit event line with the given stage and times (seconds after 2026-01-01T10:00:00Z).
std::string staged(const std::string& id, const std::string& stage, int received, int at,
                   const std::string& uri = "/api/v1/namespaces/default/pods") {
  auto ts = [](int s) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "2026-01-01T10:%02d:%02d.000000Z", s / 60, s % 60);
    return std::string(buf);
  };
  return R"({"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata","auditID":")" + id +
         R"(","stage":")" + stage + R"(","requestURI":")" + uri +
         R"(","verb":"list","user":{"username":"alice"},"objectRef":{"resource":"pods","namespace":"default"},)"
         R"("requestReceivedTimestamp":")" +
         ts(received) + R"(","stageTimestamp":")" + ts(at) + "\"}\n";
}

std::vector<std::string> id_stages(const std::string& json) {
  rapidjson::Document d;
  EXPECT_FALSE(d.Parse(json.c_str()).HasParseError()) << json;
  std::vector<std::string> out;
  if (!d.IsArray()) {
    return out;
  }
  for (const auto& row : d.GetArray()) {
    out.push_back(std::string(row["auditID"].GetString()) + ":" + row["stage"].GetString());
  }
  return out;
}

class Rows : public ::testing::Test {
 protected:
  void SetUp() override {
    db_ = dir_.file("k.db");
    // only-received: its later stages never came; panicked: RequestReceived then Panic;
    // watch: received, started, complete much later; done: received and complete.
    const std::string log = staged("only-received", "RequestReceived", 1, 1) +
                            staged("panicked", "RequestReceived", 2, 2) +
                            staged("watch", "RequestReceived", 3, 3) +
                            staged("watch", "ResponseStarted", 3, 4) +
                            staged("panicked", "Panic", 2, 5) +
                            staged("done", "RequestReceived", 6, 6) +
                            staged("done", "ResponseComplete", 6, 7) +
                            staged("watch", "ResponseComplete", 3, 90);
    write_file(dir_.file("log.jsonl"), log);
    auto r = run_ktrail({"ingest", "--db", db_, dir_.file("log.jsonl")});
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  TempDir dir_;
  std::string db_;
};

TEST_F(Rows, QueryAuditShowsEachRequestOnceAtItsLastStage) {
  auto r = run_ktrail({"query", "audit", "--db", db_, "-o", "json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(id_stages(r.out),
            (std::vector<std::string>{"only-received:RequestReceived", "panicked:Panic",
                                      "done:ResponseComplete", "watch:ResponseComplete"}));
  EXPECT_EQ(r.err, "");
  auto all = run_ktrail({"query", "audit", "--db", db_, "-o", "json", "--stages", "all"});
  ASSERT_EQ(all.exit_code, 0) << all.err;
  EXPECT_EQ(id_stages(all.out).size(), 8u);
  // The table says the stage of each row.
  auto table = run_ktrail({"query", "audit", "--db", db_, "--stages", "last"});
  ASSERT_EQ(table.exit_code, 0) << table.err;
  EXPECT_NE(table.out.find("Panic"), std::string::npos) << table.out;
  EXPECT_NE(table.out.find("RequestReceived"), std::string::npos) << table.out;
  EXPECT_EQ(table.out.find("ResponseStarted"), std::string::npos) << table.out;
}

TEST_F(Rows, TheLimitCountsRequests) {
  auto r = run_ktrail({"query", "audit", "--db", db_, "-o", "json", "--limit", "2"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(id_stages(r.out),
            (std::vector<std::string>{"done:ResponseComplete", "watch:ResponseComplete"}));
  EXPECT_NE(r.err.find("showing the 2 most recent requests"), std::string::npos) << r.err;
  auto exact = run_ktrail({"query", "audit", "--db", db_, "-o", "json", "--limit", "4"});
  EXPECT_EQ(id_stages(exact.out).size(), 4u);
  EXPECT_EQ(exact.err, "");  // nothing left out
  auto stages = run_ktrail(
      {"query", "audit", "--db", db_, "-o", "json", "--limit", "2", "--stages", "all"});
  EXPECT_EQ(id_stages(stages.out),
            (std::vector<std::string>{"done:ResponseComplete", "watch:ResponseComplete"}));
  EXPECT_NE(stages.err.find("showing the 2 most recent of 8"), std::string::npos) << stages.err;
}

TEST_F(Rows, StagesTakesLastOrAllOnAuditAndTimelineAlike) {
  for (const std::string cmd : {"audit", "timeline"}) {
    for (const char* bad : {"", "ALL", "first", "all,last", "RequestReceived", "-1"}) {
      auto r = run_ktrail({"query", cmd, "--db", db_, "--stages", bad});
      EXPECT_EQ(r.exit_code, 2) << cmd << " --stages '" << bad << "'";
      EXPECT_NE(r.err.find("--stages must be last"), std::string::npos) << r.err;
    }
    auto help = run_ktrail({"query", cmd, "--help"});
    EXPECT_NE(help.out.find("--stages"), std::string::npos) << cmd;
    EXPECT_NE(help.out.find("one row per request"), std::string::npos) << cmd;
  }
  // The timeline thins the same way.
  auto t = run_ktrail({"query", "timeline", "--db", db_, "-o", "json"});
  ASSERT_EQ(t.exit_code, 0) << t.err;
  rapidjson::Document d;
  ASSERT_FALSE(d.Parse(t.out.c_str()).HasParseError());
  EXPECT_EQ(d.Size(), 4u) << t.out;
}

TEST(RowsOfRealData, EveryRequestOfARealLogOnce) {
  // 437 requests of a real cluster's log, 320 of them audited at two stages.
  TempDir dir;
  auto r = run_ktrail({"ingest", "--db", dir.file("k.db"), kData + "audit2rbac-demo-raw-v1beta1.jsonl"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto last = run_ktrail({"query", "audit", "--db", dir.file("k.db"), "--limit", "0", "-o", "json"});
  ASSERT_EQ(last.exit_code, 0) << last.err;
  const auto rows = id_stages(last.out);
  EXPECT_EQ(rows.size(), 437u);
  std::set<std::string> ids;
  for (const auto& row : rows) {
    ids.insert(row.substr(0, row.find(':')));
    EXPECT_NE(row.find(":ResponseComplete"), std::string::npos) << row;
  }
  EXPECT_EQ(ids.size(), 437u);
  auto all = run_ktrail(
      {"query", "audit", "--db", dir.file("k.db"), "--limit", "0", "-o", "json", "--stages", "all"});
  EXPECT_EQ(id_stages(all.out).size(), 757u);
}

// -o name and -o jsonpath on every query command, on a real log and its Events.
class Shapes2 : public ::testing::Test {
 protected:
  void SetUp() override {
    db_ = dir_.file("k.db");
    auto r = run_ktrail({"ingest", "--db", db_, kData + "audit2rbac-demo-raw-v1beta1.jsonl",
                         kData + "sonobuoy-results-0.10-events.jsonl"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  std::vector<std::string> lines(const std::vector<std::string>& args) {
    auto r = run_ktrail(args);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    std::vector<std::string> out;
    std::istringstream in(r.out);
    std::string line;
    while (std::getline(in, line)) {
      out.push_back(line);
    }
    return out;
  }
  TempDir dir_;
  std::string db_;
};

TEST_F(Shapes2, NameIsKindSlashIdForEveryRow) {
  const auto audit = lines({"query", "audit", "--db", db_, "--limit", "0", "-o", "name"});
  ASSERT_EQ(audit.size(), 437u);
  const std::set<std::string> distinct(audit.begin(), audit.end());
  EXPECT_EQ(distinct.size(), 437u);
  for (const auto& l : audit) {
    EXPECT_EQ(l.rfind("audit/", 0), 0u) << l;
    EXPECT_EQ(l.size(), std::string("audit/").size() + 36) << l;  // a UUID
  }
  const auto incidents = lines({"incidents", "list", "--db", db_, "-o", "name"});
  ASSERT_FALSE(incidents.empty());
  for (const auto& l : incidents) {
    EXPECT_EQ(l.rfind("incident/", 0), 0u) << l;
    // Each name is what `incidents show` takes.
    auto shown = run_ktrail({"incidents", "show", l.substr(9), "--db", db_, "-o", "name"});
    EXPECT_EQ(shown.exit_code, 0) << shown.err;
    EXPECT_EQ(shown.out, l + "\n");
  }
  const auto events = lines({"query", "events", "--db", db_, "--limit", "5", "-o", "name"});
  ASSERT_EQ(events.size(), 5u);
  for (const auto& l : events) {
    EXPECT_EQ(l.rfind("event/heptio-sonobuoy/", 0), 0u) << l;
  }
  const auto timeline = lines({"query", "timeline", "--db", db_, "--limit", "0", "-o", "name"});
  std::map<std::string, int> kinds;
  for (const auto& l : timeline) {
    ++kinds[l.substr(0, l.find('/'))];
  }
  EXPECT_GT(kinds["audit"], 0);
  EXPECT_GT(kinds["event"], 0);
  EXPECT_GT(kinds["incident"], 0);
  EXPECT_EQ(kinds.size(), 3u);
  // A timeline row is named as the command listing its kind names it.
  const auto all_events = lines({"query", "events", "--db", db_, "--limit", "0", "-o", "name"});
  const auto all_incidents = lines({"incidents", "list", "--db", db_, "-o", "name"});
  std::set<std::string> listed(audit.begin(), audit.end());
  listed.insert(all_events.begin(), all_events.end());
  listed.insert(all_incidents.begin(), all_incidents.end());
  for (const auto& l : timeline) {
    EXPECT_EQ(listed.count(l), 1u) << l;
  }
  auto sql = run_ktrail({"sql", "--db", db_, "-o", "name", "SELECT 1"});
  EXPECT_EQ(sql.exit_code, 2);
  EXPECT_NE(sql.err.find("jsonpath"), std::string::npos) << sql.err;
}

TEST_F(Shapes2, JsonPathPrintsWhatJsonHolds) {
  auto json = run_ktrail({"query", "audit", "--db", db_, "--limit", "0", "-o", "json"});
  rapidjson::Document d;
  ASSERT_FALSE(d.Parse(json.out.c_str()).HasParseError());
  std::string expected;
  for (const auto& row : d.GetArray()) {
    expected += std::string(row["auditID"].GetString()) + "\t" + row["user"].GetString() + "\t" +
                (row["code"].IsNull() ? "" : std::to_string(row["code"].GetInt())) + "\t" +
                (row["groups"].Size() > 0 ? row["groups"][0].GetString() : "") + "\n";
  }
  auto streamed = run_ktrail(
      {"query", "audit", "--db", db_, "--limit", "0", "-o",
       R"(jsonpath={range .items[*]}{.auditID}{"\t"}{.user}{"\t"}{.code}{"\t"}{.groups[0]}{"\n"}{end})"});
  ASSERT_EQ(streamed.exit_code, 0) << streamed.err;
  EXPECT_EQ(streamed.out, expected);
  // The same through the whole document ($ inside the range needs it).
  auto whole = run_ktrail(
      {"query", "audit", "--db", db_, "--limit", "0", "-o",
       R"(jsonpath={range .items[*]}{.auditID}{"\t"}{.user}{"\t"}{.code}{"\t"}{.groups[0]}{$.none}{"\n"}{end})"});
  EXPECT_EQ(whole.out, expected);
  auto ids = run_ktrail({"query", "audit", "--db", db_, "--limit", "3", "-o",
                         "jsonpath={.kind} {.items[*].stage}"});
  EXPECT_EQ(ids.out, "List ResponseComplete ResponseComplete ResponseComplete");
  for (const auto& cmd : std::vector<std::vector<std::string>>{
           {"incidents", "list"}, {"query", "events"}, {"query", "timeline"}, {"findings", "list"}}) {
    auto args = cmd;
    args.insert(args.end(), {"--db", db_, "-o", "jsonpath={.kind}"});
    auto r = run_ktrail(args);
    EXPECT_EQ(r.exit_code, 0) << cmd[0] << ": " << r.err;
    EXPECT_EQ(r.out, "List") << cmd[0];
  }
  auto sql = run_ktrail({"sql", "--db", db_, "-o", "jsonpath={.items[*].n}",
                         "SELECT count(*) AS n FROM kube_events"});
  EXPECT_EQ(sql.exit_code, 0) << sql.err;
  EXPECT_GT(std::stoi(sql.out), 0);
  const auto incident = lines({"incidents", "list", "--db", db_, "-o", "name"}).at(0).substr(9);
  auto shown = run_ktrail({"incidents", "show", incident, "--db", db_, "-o",
                           "jsonpath={.id} {.members[0].source}"});
  EXPECT_EQ(shown.out.rfind(incident + " ", 0), 0u) << shown.out;
}

TEST_F(Shapes2, MalformedTemplatesAreRefusedBeforeAnyWork) {
  for (const auto& cmd : std::vector<std::vector<std::string>>{{"query", "audit"},
                                                               {"query", "timeline"},
                                                               {"query", "events"},
                                                               {"incidents", "list"},
                                                               {"findings", "list"},
                                                               {"sql", "SELECT 1"}}) {
    for (const char* bad : {"jsonpath", "jsonpath=", "jsonpath={", "jsonpath={..x}",
                            "jsonpath={.items[?(@.a)]}", "jsonpath={range .items[*]}",
                            "jsonpath={end}", "jsonpath={\"\\z\"}", "jsonpath=}", "Name"}) {
      auto args = cmd;
      // A store that does not exist: a bad -o is refused before the store is opened.
      args.insert(args.end(), {"--db", dir_.file("none.db"), "-o", bad});
      auto r = run_ktrail(args);
      EXPECT_EQ(r.exit_code, 2) << cmd[0] << " -o " << bad;
      EXPECT_TRUE(r.err.find("jsonpath") != std::string::npos ||
                  r.err.find("unknown output format") != std::string::npos)
          << r.err;
      EXPECT_EQ(r.out, "");
    }
  }
  auto help = run_ktrail({"query", "audit", "--help"});
  EXPECT_NE(help.out.find("jsonpath=TEMPLATE"), std::string::npos);
  EXPECT_NE(help.out.find("name"), std::string::npos);
}

// A request for no resource, at HH:MM of 2026-01-01.
std::string non_resource(const std::string& id, const std::string& uri, int hour, int minute) {
  char ts[40];
  std::snprintf(ts, sizeof ts, "2026-01-01T%02d:%02d:00.000000Z", hour, minute);
  return R"({"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata","auditID":")" + id +
         R"(","stage":"ResponseComplete","requestURI":")" + uri +
         R"(","verb":"get","user":{"username":"system:anonymous"},"responseStatus":{"code":200},)"
         R"("requestReceivedTimestamp":")" + ts + R"(","stageTimestamp":")" + ts + "\"}\n";
}

TEST(NonResourceRequests, ShowTheirUriFromHotAndSealedRows) {
  TempDir dir;
  const std::string db = dir.file("k.db");
  // The first three hours are sealed into segments (--seal-after 1h), the last stays hot.
  std::string log;
  log += non_resource("h1", "/healthz", 10, 0);
  log += non_resource("m1", "/metrics?format=prometheus", 10, 40);
  log += non_resource("v1", "/version", 11, 10);
  log += staged("pods", "ResponseComplete", 30, 30);  // 10:00:30, a resource request
  log += non_resource("h2", "/healthz/etcd", 13, 0);
  write_file(dir.file("log.jsonl"), log);
  auto ingest = run_ktrail({"ingest", "--db", db, "--seal-after", "1h", "--partition", "30m",
                            dir.file("log.jsonl")});
  ASSERT_EQ(ingest.exit_code, 0) << ingest.err;
  auto sealed = run_ktrail({"sql", "--db", db, "-o", "csv", "SELECT count(*) FROM segments"});
  ASSERT_EQ(sealed.exit_code, 0) << sealed.err;
  EXPECT_NE(sealed.out, "count(*)\r\n0\r\n") << "nothing was sealed";
  auto json = run_ktrail({"query", "audit", "--db", db, "-o",
                          "jsonpath={range .items[*]}{.auditID}={.nonResourceURI};{end}"});
  ASSERT_EQ(json.exit_code, 0) << json.err;
  EXPECT_EQ(json.out,
            "h1=/healthz;pods=;m1=/metrics?format=prometheus;v1=/version;h2=/healthz/etcd;");
  auto table = run_ktrail({"query", "audit", "--db", db});
  ASSERT_EQ(table.exit_code, 0) << table.err;
  for (const char* uri : {"/healthz ", "/metrics?format=prometheus ", "/version ", "/healthz/etcd "}) {
    EXPECT_NE(table.out.find(uri), std::string::npos) << uri << "\n" << table.out;
  }
  EXPECT_NE(table.out.find(" pods "), std::string::npos) << table.out;
  // The events themselves are not shown unless --full; with it, the URI is still given.
  auto plain = run_ktrail({"query", "audit", "--db", db, "-o", "json"});
  EXPECT_EQ(plain.out.find("\"event\""), std::string::npos);
  auto full = run_ktrail({"query", "audit", "--db", db, "-o", "json", "--full"});
  rapidjson::Document d;
  ASSERT_FALSE(d.Parse(full.out.c_str()).HasParseError());
  ASSERT_EQ(d.Size(), 5u);
  EXPECT_STREQ(d[1]["auditID"].GetString(), "pods");
  EXPECT_TRUE(d[1]["nonResourceURI"].IsNull());
  EXPECT_TRUE(d[1]["event"].IsObject());
  EXPECT_STREQ(d[0]["nonResourceURI"].GetString(), "/healthz");
  // The timeline names them by their URI too.
  auto timeline = run_ktrail({"query", "timeline", "--db", db, "-o",
                              "jsonpath={range .items[*]}{.source}={.object};{end}"});
  ASSERT_EQ(timeline.exit_code, 0) << timeline.err;
  std::string audit_rows;
  std::istringstream rows(timeline.out);
  for (std::string row; std::getline(rows, row, ';');) {
    if (row.rfind("audit=", 0) == 0) {
      audit_rows += row.substr(6) + ";";
    }
  }
  EXPECT_EQ(audit_rows, "/healthz;pods;/metrics?format=prometheus;/version;/healthz/etcd;")
      << timeline.out;
}

TEST(FindingsList, StreamsOldestFirstAndTheLimitKeepsTheMostRecent) {
  TempDir dir;
  const std::string db = dir.file("k.db");
  auto ingest = run_ktrail({"ingest", "--db", db, kData + "falco-k8s-audit-trace-files.jsonl"});
  ASSERT_EQ(ingest.exit_code, 0) << ingest.err;
  auto ids = [&](const std::vector<std::string>& extra) {
    std::vector<std::string> args = {"findings", "list", "--db", db, "-o",
                                     R"(jsonpath={range .items[*]}{.id} {end})"};
    args.insert(args.end(), extra.begin(), extra.end());
    auto r = run_ktrail(args);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    std::vector<std::string> out;
    std::istringstream in(r.out);
    std::string id;
    while (in >> id) {
      out.push_back(id);
    }
    return out;
  };
  auto sql = run_ktrail({"sql", "--db", db, "-o", R"(jsonpath={range .items[*]}{.id} {end})",
                         "SELECT id FROM findings ORDER BY time, id"});
  ASSERT_EQ(sql.exit_code, 0) << sql.err;
  std::vector<std::string> expected;
  std::istringstream in(sql.out);
  for (std::string id; in >> id;) {
    expected.push_back(id);
  }
  ASSERT_GT(expected.size(), 5u);
  EXPECT_EQ(ids({"--limit", "0"}), expected);
  EXPECT_EQ(ids({"--limit", "3"}), std::vector<std::string>(expected.end() - 3, expected.end()));
  EXPECT_EQ(ids({"--limit", "100000"}), expected);
}

}  // namespace
}  // namespace ktrail::testing
