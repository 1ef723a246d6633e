// What a platform team relies on to operate `ktrail serve`: /metrics that a strict exposition
// parser accepts after real traffic (each family one block, histograms consistent, process
// metrics present), and JSON logs that a log shipper can read line by line.
#include <gtest/gtest.h>
#include <rapidjson/document.h>
#include <signal.h>
#include <sys/wait.h>

#include <map>
#include <sstream>

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
    doc.Parse(line.c_str());
    ASSERT_FALSE(doc.HasParseError()) << "not JSON: " << line;
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

}  // namespace
}  // namespace ktrail::testing
