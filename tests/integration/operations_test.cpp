// What a platform team relies on to operate `ktrail serve`: /metrics that a strict exposition
// parser accepts after real traffic (each family one block, histograms consistent, process
// metrics present), and JSON logs that a log shipper can read line by line.
#include <gtest/gtest.h>
#include <rapidjson/document.h>
#include <signal.h>
#include <sys/wait.h>

#include <map>
#include <sstream>

#include "core/json.h"
#include "tests/support/http_client.h"
#include "tests/support/process.h"
#include "tests/support/prometheus_text.h"
#include "tests/support/test_env.h"

namespace ktrail::testing {
namespace {

TEST(Operations, MetricsPassAStrictExpositionParserAfterTraffic) {
  TempDir dir;
  ServeProcess server;
  ASSERT_TRUE(server.start({"--listen", "127.0.0.1:0", "--db", dir.file("k.db")})) << server.stderr_text();
  ClientOptions o;
  o.port = server.port();
  HttpClient client(o);
  // Traffic that touches many families: stored, duplicate, rejected, a 404, a bad body.
  ASSERT_TRUE(client.request("POST", "/audit", event_list("ops", 5)).is_ok());
  ASSERT_TRUE(client.request("POST", "/audit", event_list("ops", 5)).is_ok());
  ASSERT_TRUE(client.request("POST", "/audit", R"({"kind":"EventList","items":[{"x":1}]})").is_ok());
  ASSERT_TRUE(client.request("POST", "/audit", "not json").is_ok());
  ASSERT_TRUE(client.request("GET", "/nowhere").is_ok());
  auto metrics = client.request("GET", "/metrics");
  ASSERT_TRUE(metrics.is_ok());
  ASSERT_EQ(metrics->status, 200);

  std::map<std::string, PromFamily> families;
  std::string error;
  ASSERT_TRUE(parse_prometheus_strict(metrics->body, &families, &error)) << error << "\n" << metrics->body;
  ASSERT_EQ(families.count("ktrail_http_responses_total"), 1u);
  double ok = 0, bad = 0, not_found = 0;
  for (const auto& s : families["ktrail_http_responses_total"].samples) {
    if (s.labels == "code=\"200\"") ok = s.value;
    if (s.labels == "code=\"400\"") bad = s.value;
    if (s.labels == "code=\"404\"") not_found = s.value;
  }
  EXPECT_GE(ok, 3);
  EXPECT_EQ(bad, 1);
  EXPECT_EQ(not_found, 1);
  // A young process may not have used a whole clock tick of CPU yet: its CPU time is only
  // required to be there; memory and descriptors are never zero.
  for (const char* name : {"process_resident_memory_bytes", "process_cpu_seconds_total",
                           "process_open_fds"}) {
    ASSERT_EQ(families.count(name), 1u) << name;
    ASSERT_EQ(families[name].samples.size(), 1u) << name;
  }
  // Latencies: per endpoint (a path that matched none counts as "other"), the store's commit
  // and the wait in the embedded queue, each observed by the traffic above.
  auto count_of = [&](const std::string& family, const std::string& labels) {
    for (const auto& s : families[family].samples) {
      if (s.name == family + "_count" && s.labels == labels) {
        return s.value;
      }
    }
    return -1.0;
  };
  EXPECT_EQ(families["ktrail_http_request_duration_seconds"].type, "histogram");
  EXPECT_EQ(count_of("ktrail_http_request_duration_seconds", "path=\"/audit\""), 4);
  EXPECT_EQ(count_of("ktrail_http_request_duration_seconds", "path=\"other\""), 1);
  EXPECT_EQ(count_of("ktrail_http_request_duration_seconds", "path=\"/events\""), 0);
  EXPECT_GE(count_of("ktrail_store_commit_seconds", ""), 1);
  EXPECT_GE(count_of("ktrail_queue_wait_seconds", ""), 2);
  EXPECT_GT(families["process_resident_memory_bytes"].samples[0].value, 1 << 20);
  EXPECT_GT(families["process_open_fds"].samples[0].value, 3);
  EXPECT_GE(families["process_cpu_seconds_total"].samples[0].value, 0);
  server.signal(SIGTERM);
  EXPECT_EQ(server.wait_exit(), 0);
}

TEST(Operations, JsonLogsAreOneObjectALine) {
  TempDir dir;
  ServeProcess server;
  ASSERT_TRUE(server.start({"--listen", "127.0.0.1:0", "--db", dir.file("k.db"), "--log-format",
                            "json"}))
      << server.stderr_text();
  server.signal(SIGTERM);
  ASSERT_EQ(server.wait_exit(), 0);
  std::istringstream lines(server.stderr_text());
  int objects = 0;
  bool saw_listening = false;
  for (std::string line; std::getline(lines, line);) {
    rapidjson::Document doc;
    ASSERT_TRUE(json::parse(line, &doc).is_ok()) << "not JSON: " << line;
    ASSERT_TRUE(doc.IsObject());
    for (const char* key : {"time", "level", "logger", "msg"}) {
      ASSERT_TRUE(doc.HasMember(key) && doc[key].IsString()) << key << " in " << line;
    }
    saw_listening |= std::string(doc["msg"].GetString()).find("listening on") == 0;
    ++objects;
  }
  EXPECT_GE(objects, 2);
  EXPECT_TRUE(saw_listening);
}

TEST(Operations, AnUnknownLogFormatIsRefused) {
  auto r = run_ktrail({"serve", "--listen", "127.0.0.1:0", "--db", "/nonexistent/x.db",
                       "--log-format", "xml"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("--log-format"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace ktrail::testing

namespace ktrail::testing {
namespace {

long long number_after(const std::string& body, const std::string& key) {
  const auto at = body.find("\"" + key + "\":");
  return at == std::string::npos ? -1 : std::stoll(body.substr(at + key.size() + 3));
}

TEST(Operations, SighupReloadsThePolicyAndKeepsItWhenTheNewFileIsBroken) {
  TempDir dir;
  const auto policy = dir.file("policy.yaml");
  write_file(policy, "apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n- level: None\n");
  ServeProcess server;
  ASSERT_TRUE(server.start({"--listen", "127.0.0.1:0", "--db", dir.file("k.db"), "--policy", policy}))
      << server.stderr_text();
  ClientOptions o;
  o.port = server.port();
  HttpClient client(o);
  auto first = client.request("POST", "/audit", event_list("before", 2));
  ASSERT_TRUE(first.is_ok());
  EXPECT_EQ(number_after(first->body, "dropped"), 2) << first->body;

  write_file(policy, "apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n- level: Metadata\n");
  server.signal(SIGHUP);
  ASSERT_TRUE(server.wait_for_log("reloaded the audit policy", 1)) << server.stderr_text();
  auto second = client.request("POST", "/audit", event_list("after", 2));
  ASSERT_TRUE(second.is_ok());
  EXPECT_EQ(number_after(second->body, "stored"), 2) << second->body;

  write_file(policy, "apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n- level: Loud\n");
  server.signal(SIGHUP);
  ASSERT_TRUE(server.wait_for_log("did not load", 1)) << server.stderr_text();
  auto third = client.request("POST", "/audit", event_list("kept", 2));
  ASSERT_TRUE(third.is_ok());
  EXPECT_EQ(number_after(third->body, "stored"), 2) << "the Metadata policy stays in force: " << third->body;
  auto metrics = client.request("GET", "/metrics");
  ASSERT_TRUE(metrics.is_ok());
  EXPECT_NE(metrics->body.find("ktrail_policy_reloads_total{result=\"ok\"} 1"), std::string::npos);
  EXPECT_NE(metrics->body.find("ktrail_policy_reloads_total{result=\"failed\"} 1"), std::string::npos);
  server.signal(SIGTERM);
  EXPECT_EQ(server.wait_exit(), 0);
}

TEST(Operations, RefusedRequestsAreLoggedWithoutTheTokenAndRateLimited) {
  TempDir dir;
  const std::string token = "tok-8f3a1c-never-in-a-log";
  write_file(dir.file("tokens"), token + "\n");
  ServeProcess server;
  ASSERT_TRUE(server.start({"--listen", "127.0.0.1:0", "--db", dir.file("k.db"), "--token-file",
                            dir.file("tokens")}))
      << server.stderr_text();
  ClientOptions o;
  o.port = server.port();
  HttpClient client(o);
  auto none = client.request("POST", "/audit", event_list("r", 1));
  ASSERT_TRUE(none.is_ok());
  EXPECT_EQ(none->status, 401);
  const std::string wrong = token + "-but-wrong";
  for (int i = 0; i < 30; ++i) {
    HttpClient fresh(o);  // a refused request with a body closes its connection
    auto r = fresh.request("POST", "/audit", event_list("r", 1),
                           {{"Authorization", "Bearer " + wrong}});
    ASSERT_TRUE(r.is_ok());
    EXPECT_EQ(r->status, 401);
  }
  HttpClient last(o);
  auto good = last.request("POST", "/audit", event_list("r", 1),
                           {{"Authorization", "Bearer " + token}});
  ASSERT_TRUE(good.is_ok());
  EXPECT_EQ(good->status, 200);
  ASSERT_TRUE(server.wait_for_log("refused 401 /audit from 127.0.0.1", 2)) << server.stderr_text();
  server.signal(SIGTERM);
  EXPECT_EQ(server.wait_exit(), 0);
  const std::string log = server.stderr_text();
  EXPECT_NE(log.find("no Authorization header"), std::string::npos) << log;
  EXPECT_NE(log.find("bearer token not accepted"), std::string::npos) << log;
  EXPECT_EQ(log.find(token), std::string::npos) << "a credential reached the log:\n" << log;
  // 31 refusals within one window: at most 10 lines.
  int lines = 0;
  for (std::size_t at = log.find("refused 401"); at != std::string::npos;
       at = log.find("refused 401", at + 1)) {
    ++lines;
  }
  EXPECT_GE(lines, 2);
  EXPECT_LE(lines, 10) << log;
}

TEST(Operations, SighupReloadsTheDetectionRulesAndKeepsThemWhenBroken) {
  TempDir dir;
  const auto rules = dir.file("rules.yaml");
  auto rule = [](const std::string& name, const std::string& verb) {
    return "- rule: " + name + "\n  desc: d\n  condition: ka.verb=" + verb +
           "\n  output: o\n  priority: NOTICE\n  source: k8s_audit\n";
  };
  write_file(rules, rule("Lists", "list"));
  ServeProcess server;
  ASSERT_TRUE(server.start({"--listen", "127.0.0.1:0", "--db", dir.file("k.db"), "--detect-rules",
                            rules}))
      << server.stderr_text();
  ClientOptions o;
  o.port = server.port();
  HttpClient client(o);
  auto findings = [&]() {
    auto m = client.request("GET", "/metrics");
    EXPECT_TRUE(m.is_ok());
    const std::string key = "\nktrail_detect_findings_total ";
    const auto at = m->body.find(key);
    return at == std::string::npos ? -1L : std::stol(m->body.substr(at + key.size()));
  };
  // event_list's events are `get`s of pods (tests/support/test_env.cpp): the first rules never match.
  ASSERT_TRUE(client.request("POST", "/audit", event_list("a", 3)).is_ok());
  EXPECT_EQ(findings(), 0);

  write_file(rules, rule("Gets", "get"));
  server.signal(SIGHUP);
  ASSERT_TRUE(server.wait_for_log("reloaded the detection rules (1 rules)", 1)) << server.stderr_text();
  ASSERT_TRUE(client.request("POST", "/audit", event_list("b", 3)).is_ok());
  EXPECT_EQ(findings(), 3);

  write_file(rules, "- rule: Broken\n  condition: ka.verb=\n");
  server.signal(SIGHUP);
  ASSERT_TRUE(server.wait_for_log("detection rules did not load", 1)) << server.stderr_text();
  ASSERT_TRUE(client.request("POST", "/audit", event_list("c", 2)).is_ok());
  EXPECT_EQ(findings(), 5) << "the rules in force stay";
  auto metrics = client.request("GET", "/metrics");
  ASSERT_TRUE(metrics.is_ok());
  EXPECT_NE(metrics->body.find("ktrail_detect_rules_reloads_total{result=\"ok\"} 1"),
            std::string::npos);
  EXPECT_NE(metrics->body.find("ktrail_detect_rules_reloads_total{result=\"failed\"} 1"),
            std::string::npos);
  server.signal(SIGTERM);
  EXPECT_EQ(server.wait_exit(), 0);
}

TEST(Operations, StartUpLogsTheStoreAndWhatWasRestored) {
  TempDir dir;
  {
    ServeProcess first;
    ASSERT_TRUE(first.start({"--listen", "127.0.0.1:0", "--db", dir.file("k.db")}))
        << first.stderr_text();
    ClientOptions o;
    o.port = first.port();
    HttpClient client(o);
    // Pod deletions within one minute: writes that can carry correlation signals, all inside
    // the window that restore replays.
    std::string deletes = R"({"kind":"EventList","apiVersion":"audit.k8s.io/v1","items":[)";
    for (int i = 0; i < 20; ++i) {
      const std::string t = "2026-03-01T12:00:" + std::string(i < 10 ? "0" : "") +
                            std::to_string(i) + ".000000Z";
      deletes += std::string(i ? "," : "") + R"({"level":"Metadata","auditID":"del-)" +
                 std::to_string(i) +
                 R"(","stage":"ResponseComplete","requestURI":"/api/v1/namespaces/default/pods/p)" +
                 std::to_string(i) + R"(","verb":"delete","user":{"username":"alice"},)" +
                 R"("objectRef":{"resource":"pods","namespace":"default","name":"p)" +
                 std::to_string(i) + R"(","apiVersion":"v1"},"responseStatus":{"code":200},)" +
                 R"("requestReceivedTimestamp":")" + t + R"(","stageTimestamp":")" + t + R"("})";
    }
    deletes += "]}";
    auto posted = client.request("POST", "/audit", deletes);
    ASSERT_TRUE(posted.is_ok());
    ASSERT_NE(posted->body.find("\"stored\":20"), std::string::npos) << posted->body;
    first.signal(SIGKILL);
    first.wait_exit();
  }
  ServeProcess second;
  ASSERT_TRUE(second.start({"--listen", "127.0.0.1:0", "--db", dir.file("k.db")}))
      << second.stderr_text();
  const std::string log = second.stderr_text();
  EXPECT_NE(log.find("store " + dir.file("k.db") + ": schema version "), std::string::npos) << log;
  const auto at = log.find("restored from the store: ");
  ASSERT_NE(at, std::string::npos) << log;
  const auto replayed = log.find(" open incidents re-seeded, ", at);
  ASSERT_NE(replayed, std::string::npos) << log;
  // The 20 deletions stored before the kill are the recent items correlation replays.
  EXPECT_EQ(std::stoi(log.substr(replayed + 27)), 20) << log.substr(at, 200);
  EXPECT_LT(log.find("restored from the store"), log.find("listening on")) << log;
  second.signal(SIGTERM);
  EXPECT_EQ(second.wait_exit(), 0);
}

}  // namespace
}  // namespace ktrail::testing
