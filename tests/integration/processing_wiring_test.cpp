// The audit processing chain as `ktrail ingest` and `ktrail serve` apply it: Secret values are
// redacted by default (and only when asked not to, kept), and --policy drops and lowers events
// on the way into the store. Checked by reading the store back with the real binary.
#include <gtest/gtest.h>

#include <string>

#include "tests/support/http_client.h"
#include "tests/support/process.h"
#include "tests/support/test_env.h"

namespace ktrail::testing {
namespace {

const std::string kBinary = KTRAIL_BINARY;

// A Secret created with values in `data` (base64) and `stringData` (plain), at RequestResponse.
const std::string kSecretCreate =
    R"({"level":"RequestResponse","auditID":"a-secret","stage":"ResponseComplete",)"
    R"("requestURI":"/api/v1/namespaces/prod/secrets","verb":"create",)"
    R"("user":{"username":"alice","groups":["system:authenticated"]},"sourceIPs":["10.0.0.7"],)"
    R"("objectRef":{"resource":"secrets","namespace":"prod","name":"db","apiVersion":"v1"},)"
    R"("responseStatus":{"metadata":{},"code":201},)"
    R"("requestObject":{"kind":"Secret","apiVersion":"v1","metadata":{"name":"db"},)"
    R"("data":{"password":"aHVudGVyMi1iYXNlNjQ="},"stringData":{"token":"plain-hunter2"}},)"
    R"("responseObject":{"kind":"Secret","apiVersion":"v1","metadata":{"name":"db"},)"
    R"("data":{"password":"aHVudGVyMi1iYXNlNjQ=","token":"cGxhaW4taHVudGVyMg=="}},)"
    R"("requestReceivedTimestamp":"2026-03-01T12:00:00.000001Z",)"
    R"("stageTimestamp":"2026-03-01T12:00:00.000002Z"})";

// A kubelet reading its node: the policy below drops it (level None).
const std::string kNodeGet = R"({"level":"Metadata","auditID":"a-node","stage":"ResponseComplete",)"
                             R"("requestURI":"/api/v1/nodes/n1","verb":"get",)"
                             R"("user":{"username":"kubelet","groups":["system:nodes"]},)"
                             R"("objectRef":{"resource":"nodes","name":"n1","apiVersion":"v1"},)"
                             R"("responseStatus":{"metadata":{},"code":200},)"
                             R"("requestReceivedTimestamp":"2026-03-01T12:00:01.000001Z",)"
                             R"("stageTimestamp":"2026-03-01T12:00:01.000002Z"})";

const std::string kPolicy = R"(apiVersion: audit.k8s.io/v1
kind: Policy
rules:
  - level: None
    users: ["kubelet"]
  - level: Metadata
    resources:
      - group: ""
        resources: ["secrets"]
  - level: RequestResponse
)";

std::string stored_events(const std::string& db) {
  CommandResult r =
      run_ktrail({"query", "audit", "--db", db, "--full", "-o", "json", "--limit", "0",
                  "--stages", "all"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return r.out;
}

bool contains(const std::string& text, const std::string& what) {
  return text.find(what) != std::string::npos;
}

TEST(ProcessingWiring, IngestRedactsSecretValuesByDefault) {
  TempDir dir;
  write_file(dir.file("log.jsonl"), kSecretCreate + "\n" + kNodeGet + "\n");
  CommandResult r = run_ktrail({"ingest", "--db", dir.file("a.db"), dir.file("log.jsonl")});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string events = stored_events(dir.file("a.db"));
  EXPECT_TRUE(contains(events, "a-secret")) << events;
  EXPECT_FALSE(contains(events, "aHVudGVyMi1iYXNlNjQ=")) << events;
  EXPECT_FALSE(contains(events, "plain-hunter2")) << events;
  EXPECT_FALSE(contains(events, "cGxhaW4taHVudGVyMg==")) << events;
  EXPECT_TRUE(contains(events, "redacted")) << events;
  // The key names stay, so an auditor still sees which keys were written.
  EXPECT_TRUE(contains(events, "password")) << events;

  // Turned off on request: the values are kept (this is what the assertions above guard).
  r = run_ktrail(
      {"ingest", "--db", dir.file("b.db"), "--redact-secrets=false", dir.file("log.jsonl")});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(contains(stored_events(dir.file("b.db")), "plain-hunter2"));
}

TEST(ProcessingWiring, IngestAppliesThePolicy) {
  TempDir dir;
  write_file(dir.file("log.jsonl"), kSecretCreate + "\n" + kNodeGet + "\n");
  write_file(dir.file("policy.yaml"), kPolicy);
  CommandResult r = run_ktrail({"ingest", "--db", dir.file("a.db"), "--policy",
                                dir.file("policy.yaml"), "-o", "json", dir.file("log.jsonl")});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(contains(r.out, R"("dropped_by_policy":1)") || contains(r.out, R"("dropped":1)"))
      << r.out;
  const std::string events = stored_events(dir.file("a.db"));
  EXPECT_FALSE(contains(events, "a-node")) << events;
  ASSERT_TRUE(contains(events, "a-secret")) << events;
  // Lowered to Metadata: the objects are gone, and with them any secret value.
  EXPECT_FALSE(contains(events, "requestObject")) << events;
  EXPECT_FALSE(contains(events, "responseObject")) << events;
  EXPECT_TRUE(contains(events, R"("level": "Metadata")")) << events;
  // The store keeps the level the event arrived with beside the one applied.
  EXPECT_TRUE(contains(events, R"("levelReceived": "RequestResponse")")) << events;
  CommandResult sql = run_ktrail({"sql", "--db", dir.file("a.db"), "-o", "csv",
                                  "SELECT level, level_received FROM audit_events"});
  ASSERT_EQ(sql.exit_code, 0) << sql.err;
  EXPECT_TRUE(contains(sql.out, "Metadata,RequestResponse")) << sql.out;
}

TEST(ProcessingWiring, IngestRefusesABadPolicy) {
  TempDir dir;
  write_file(dir.file("log.jsonl"), kNodeGet + "\n");
  write_file(dir.file("policy.yaml"), "apiVersion: audit.k8s.io/v1\nkind: Policy\nrules: []\n");
  CommandResult r = run_ktrail({"ingest", "--db", dir.file("a.db"), "--policy",
                                dir.file("policy.yaml"), dir.file("log.jsonl")});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_TRUE(contains(r.err, "0 rules")) << r.err;
}

TEST(ProcessingWiring, ServeAppliesThePolicyAndRedacts) {
  TempDir dir;
  write_file(dir.file("policy.yaml"), kPolicy);
  ServeProcess serve;
  ASSERT_TRUE(serve.start(
      {"--listen", "127.0.0.1:0", "--db", dir.file("s.db"), "--policy", dir.file("policy.yaml")}))
      << serve.stderr_text();
  ClientOptions options;
  options.port = serve.port();
  HttpClient http(options);
  const std::string body =
      R"({"kind":"EventList","apiVersion":"audit.k8s.io/v1","metadata":{},"items":[)" +
      kSecretCreate + "," + kNodeGet + "]}";
  auto response = http.request("POST", "/audit?timeout=30s", body);
  ASSERT_TRUE(response.is_ok()) << response.status().to_string();
  EXPECT_EQ(response->status, 200u) << response->body;
  EXPECT_TRUE(contains(response->body, R"("stored":1)")) << response->body;
  EXPECT_TRUE(contains(response->body, R"("dropped":1)")) << response->body;
  serve.signal(SIGTERM);
  ASSERT_EQ(serve.wait_exit(), 0) << serve.stderr_text();
  const std::string events = stored_events(dir.file("s.db"));
  EXPECT_FALSE(contains(events, "a-node")) << events;
  EXPECT_FALSE(contains(events, "plain-hunter2")) << events;
}

}  // namespace
}  // namespace ktrail::testing
