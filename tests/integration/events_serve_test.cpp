// Kubernetes Events through `ktrail serve` (POST /events) and `ktrail ingest --kind`, end to
// end with the real binary: Event streams in every accepted shape, bad bodies refused, the
// incidents they make listed, and correlation state rebuilt across a restart of the server.
#include <gtest/gtest.h>
#include <rapidjson/document.h>
#include <signal.h>

#include <fstream>
#include <sstream>

#include "core/json.h"
#include "tests/support/http_client.h"
#include "tests/support/process.h"
#include "tests/support/test_env.h"

namespace ktrail::testing {
namespace {

const std::string kScenarios = std::string(KTRAIL_SOURCE_DIR) + "/tests/data/scenarios/";

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

long long json_number(const std::string& body, const std::string& key) {
  const auto at = body.find("\"" + key + "\":");
  return at == std::string::npos ? -1 : std::stoll(body.substr(at + key.size() + 3));
}

rapidjson::Document incidents(const std::string& db) {
  auto r = run_ktrail({"incidents", "list", "--db", db, "-o", "json"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  rapidjson::Document doc;
  EXPECT_TRUE(json::parse(r.out, &doc).is_ok()) << r.out;
  return doc;
}

class EventsServeTest : public ::testing::Test {
 protected:
  std::string db() const { return dir_.file("ktrail.db"); }
  bool start() { return server_.start({"--listen", "127.0.0.1:0", "--db", db()}); }
  int stop() {
    server_.signal(SIGTERM);
    return server_.wait_exit();
  }
  ClientOptions client() const {
    ClientOptions o;
    o.port = server_.port();
    return o;
  }
  TempDir dir_;
  ServeProcess server_;
};

TEST_F(EventsServeTest, EventStreamsMakeIncidentsAndBadBodiesAreRefused) {
  ASSERT_TRUE(start()) << server_.stderr_text();
  HttpClient http(client());
  // JSON lines of core/v1 Events (updates in place repeat uids with higher counts).
  auto a = http.request("POST", "/events", read_file(kScenarios + "node-not-ready.events.jsonl"));
  ASSERT_TRUE(a.is_ok());
  EXPECT_EQ(a->status, 200u) << a->body;
  EXPECT_EQ(json_number(a->body, "rejected"), 0);
  // Watch-stream lines.
  auto w = http.request("POST", "/events", read_file(kScenarios + "restart-storm.watch.jsonl"));
  ASSERT_TRUE(w.is_ok());
  EXPECT_EQ(w->status, 200u) << w->body;
  // An EventList with one good events.k8s.io/v1 Event and two bad items.
  const std::string list =
      R"({"kind":"EventList","apiVersion":"v1","items":[)"
      R"({"apiVersion":"events.k8s.io/v1","kind":"Event","metadata":{"name":"n.1","namespace":"default","uid":"ev-1"},)"
      R"("eventTime":"2026-03-01T11:00:00.000000Z","reason":"RegisteredNode","regarding":{"kind":"Node","name":"worker-9"},)"
      R"("note":"Node worker-9 event: Registered Node worker-9 in Controller","type":"Normal"},)"
      R"({"kind":"Event","metadata":{"name":"x","uid":"bad-1"},"reason":"X","firstTimestamp":"2026-03-01T11:00:00Z"},)"
      R"({"kind":"Event","metadata":{"name":"y","uid":"bad-2"},"involvedObject":{"kind":"Pod","name":"p"},"firstTimestamp":"2026-03-01T11:00:00Z","count":-7}]})";
  auto l = http.request("POST", "/events", list);
  ASSERT_TRUE(l.is_ok());
  EXPECT_EQ(l->status, 200u) << l->body;
  EXPECT_EQ(json_number(l->body, "stored"), 1);
  EXPECT_EQ(json_number(l->body, "rejected"), 2);
  for (const std::string& body :
       {std::string("{]"), std::string("not json\nat all"), std::string(5000, '[')}) {
    HttpClient one(client());
    auto r = one.request("POST", "/events", body);
    ASSERT_TRUE(r.is_ok());
    EXPECT_EQ(r->status, 400u) << body.substr(0, 20);
  }
  ASSERT_EQ(stop(), 0) << server_.stderr_text();

  auto doc = incidents(db());
  ASSERT_TRUE(doc.IsArray());
  std::vector<std::string> kinds;
  for (const auto& i : doc.GetArray()) kinds.push_back(i["kind"].GetString());
  EXPECT_EQ(kinds, (std::vector<std::string>{"node-not-ready", "restart-storm"}));
  EXPECT_STREQ(doc[0]["end"].GetString(), "2026-03-01T02:41:00.000000Z");
  EXPECT_STREQ(doc[1]["cause"].GetString(), "liveness-probe");
}

TEST_F(EventsServeTest, AnOpenIncidentSurvivesARestart) {
  const std::string lines = read_file(kScenarios + "node-not-ready.events.jsonl");
  // Up to 02:30 (NotReady, evictions, replacements), then the rest after a restart.
  std::string before, after;
  std::istringstream in(lines);
  for (std::string line; std::getline(in, line);) {
    (line.find("\"lastTimestamp\":\"2026-03-01T02:4") != std::string::npos ||
             line.find("\"lastTimestamp\":\"2026-03-01T02:5") != std::string::npos
         ? after
         : before) += line + "\n";
  }
  ASSERT_FALSE(after.empty());
  // One server process per run (a ServeProcess is started once).
  auto serve_and_post = [&](const std::string& body) {
    ServeProcess server;
    ASSERT_TRUE(server.start({"--listen", "127.0.0.1:0", "--db", db()})) << server.stderr_text();
    ClientOptions o;
    o.port = server.port();
    {
      HttpClient http(o);
      auto r = http.request("POST", "/events", body);
      ASSERT_TRUE(r.is_ok());
      ASSERT_EQ(r->status, 200u);
    }
    server.signal(SIGTERM);
    ASSERT_EQ(server.wait_exit(), 0) << server.stderr_text();
  };
  serve_and_post(before);
  auto open = run_ktrail({"incidents", "list", "--db", db(), "--open", "-o", "json"});
  EXPECT_NE(open.out.find("node-not-ready"), std::string::npos) << open.out;
  serve_and_post(after);
  auto doc = incidents(db());
  ASSERT_EQ(doc.Size(), 1u);
  EXPECT_STREQ(doc[0]["kind"].GetString(), "node-not-ready");
  EXPECT_STREQ(doc[0]["start"].GetString(), "2026-03-01T02:14:00.000000Z");
  ASSERT_TRUE(doc[0]["end"].IsString());
  EXPECT_STREQ(doc[0]["end"].GetString(), "2026-03-01T02:41:00.000000Z");
  EXPECT_EQ(doc[0]["objects"].Size(), 4u);
}

// The signal that closes the incident is the last thing sent, inside the reorder window: a
// stopped server has correlated it, as `ktrail ingest` of the same lines does.
TEST_F(EventsServeTest, SigtermCorrelatesTheReorderWindowAsAReplayDoes) {
  std::string lines;
  {
    std::istringstream in(read_file(kScenarios + "node-not-ready.events.jsonl"));
    for (std::string line; std::getline(in, line);) {
      lines += line + "\n";
      if (line.find("\"reason\":\"NodeReady\"") != std::string::npos) break;
    }
  }
  ASSERT_TRUE(start()) << server_.stderr_text();
  {
    HttpClient http(client());
    auto r = http.request("POST", "/events", lines);
    ASSERT_TRUE(r.is_ok());
    ASSERT_EQ(r->status, 200u) << r->body;
  }
  ASSERT_EQ(stop(), 0) << server_.stderr_text();
  const std::string file = dir_.file("lines.jsonl");
  std::ofstream(file) << lines;
  const std::string replayed = dir_.file("replay.db");
  auto r = run_ktrail({"ingest", "--db", replayed, "--kind", "events", "--progress", "never",
                       file});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto served = run_ktrail({"incidents", "list", "--db", db(), "-o", "json"});
  auto replay = run_ktrail({"incidents", "list", "--db", replayed, "-o", "json"});
  EXPECT_EQ(served.out, replay.out);
  auto doc = incidents(db());
  ASSERT_EQ(doc.Size(), 1u);
  ASSERT_TRUE(doc[0]["end"].IsString()) << served.out;
  EXPECT_STREQ(doc[0]["end"].GetString(), "2026-03-01T02:41:00.000000Z");
}

TEST(ServeRules, ABadRulesFileIsAUsageError) {
  TempDir dir;
  const std::string rules = dir.file("rules.yaml");
  std::ofstream(rules) << "nodeDrain:\n  enabled: sometimes\n";
  auto r = run_ktrail({"serve", "--listen", "127.0.0.1:0", "--db", dir.file("k.db"), "--rules",
                       rules});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("rules.yaml:2"), std::string::npos) << r.err;
  r = run_ktrail({"serve", "--listen", "127.0.0.1:0", "--db", dir.file("k.db"), "--rules",
                  dir.file("missing.yaml")});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("missing.yaml"), std::string::npos) << r.err;
}

TEST(IngestEvents, KindAutoAndEventsAndBadRules) {
  TempDir dir;
  const std::string db = dir.file("k.db");
  // auto: the audit file and the Event file are told apart by their first bytes.
  auto r =
      run_ktrail({"ingest", "--db", db, "--progress", "never", "-o", "json",
                  kScenarios + "node-drain.audit.jsonl", kScenarios + "node-drain.events.jsonl"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(json_number(r.out, "rejected"), 0);
  EXPECT_EQ(json_number(r.out, "stored"), 20);
  auto doc = incidents(db);
  ASSERT_EQ(doc.Size(), 1u);
  EXPECT_STREQ(doc[0]["kind"].GetString(), "node-drain");
  EXPECT_STREQ(doc[0]["actor"].GetString(), "alice@example.com");
  // --kind events on a real dump.
  const std::string db2 = dir.file("k2.db");
  r = run_ktrail(
      {"ingest", "--db", db2, "--kind", "events", "--progress", "never", "-o", "json",
       std::string(KTRAIL_SOURCE_DIR) + "/tests/data/sonobuoy-results-0.10-events.jsonl"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(json_number(r.out, "stored"), 214);
  EXPECT_EQ(incidents(db2).Size(), 1u);
  // A rules file with an unknown key is a usage error naming the file and line.
  const std::string rules = dir.file("rules.yaml");
  std::ofstream(rules) << "restartStorm:\n  minRestart: 2\n";
  r = run_ktrail({"ingest", "--db", db2, "--rules", rules, "--progress", "never",
                  kScenarios + "node-drain.audit.jsonl"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("rules.yaml:2"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("minRestart"), std::string::npos) << r.err;
  // A valid one that raises the threshold: the storm is no longer an incident.
  std::ofstream(rules) << "restartStorm:\n  minRestarts: 500\n  window: 1h\n";
  const std::string db3 = dir.file("k3.db");
  r = run_ktrail({"ingest", "--db", db3, "--rules", rules, "--progress", "never",
                  kScenarios + "restart-storm.watch.jsonl"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(incidents(db3).Size(), 0u);
}

}  // namespace
}  // namespace ktrail::testing
