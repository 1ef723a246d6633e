// The processing stages over real and constructed audit events: level application, omitted
// stages, managedFields, secret redaction, truncation, and the factory's chain.
#include <gtest/gtest.h>

#include <fstream>

#include "core/audit_json.h"
#include "core/json.h"
#include "processors/audit_processors.h"
#include "processors/event_json.h"
#include "processors/policy_processor.h"
#include "processors/redact_processor.h"
#include "processors/truncate_processor.h"
#include "tests/unit/policy/vectors.h"

namespace ktrail {
namespace {

using policy::testing::data_path;

std::vector<AuditEvent> read_jsonl(const std::string& name) {
  std::ifstream in(data_path(name));
  DecodedAudit decoded;
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty()) {
      decode_audit_line(line, &decoded);
    }
  }
  return std::move(decoded.events);
}

std::shared_ptr<const policy::CompiledPolicy> compile(const std::string& body) {
  auto loaded =
      policy::parse_policy("apiVersion: audit.k8s.io/v1\nkind: Policy\n" + body, "test.yaml");
  EXPECT_TRUE(loaded.ok()) << loaded.status().to_string();
  auto c = policy::CompiledPolicy::compile(loaded.policy);
  return c ? *c : nullptr;
}

rapidjson::Document doc_of(const AuditEvent& e) {
  rapidjson::Document d;
  EXPECT_TRUE(json::parse(e.json, &d).is_ok());
  return d;
}

AuditEvent event_from(const std::string& json) {
  DecodedAudit decoded;
  decode_audit_line(json, &decoded);
  EXPECT_EQ(decoded.events.size(), 1u)
      << (decoded.rejected.empty() ? "" : decoded.rejected[0].reason);
  return decoded.events.empty() ? AuditEvent{} : decoded.events[0];
}

std::string make_event(const std::string& level, const std::string& stage,
                       const std::string& resource, const std::string& extra) {
  return R"({"kind":"Event","apiVersion":"audit.k8s.io/v1","level":")" + level +
         R"(","auditID":"id-1","stage":")" + stage + R"(","requestURI":"/api/v1/namespaces/d/)" +
         resource +
         R"(","verb":"create","user":{"username":"alice","groups":["system:authenticated"]},)" +
         R"("objectRef":{"resource":")" + resource +
         R"(","namespace":"d","apiVersion":"v1"},"responseStatus":{"metadata":{},"code":201},)" +
         R"("requestReceivedTimestamp":"2024-01-01T00:00:00.000000Z",)" +
         R"("stageTimestamp":"2024-01-01T00:00:00.100000Z")" + extra + "}";
}

TEST(PolicyProcessor, LowersLevelsDropsObjectsAndNeverRaises) {
  std::vector<AuditEvent> events = read_jsonl("falco-k8s-audit-trace-files.jsonl");
  ASSERT_GT(events.size(), 40u);
  std::size_t rr = 0;
  for (const auto& e : events) {
    rr += e.level == Level::kRequestResponse ? 1 : 0;
  }
  ASSERT_GT(rr, 20u);
  MetricsRegistry metrics;
  PolicyProcessor proc(
      {compile("rules:\n"
               "- {level: Metadata, resources: [{resources: [configmaps]}]}\n"
               "- {level: Request, resources: [{group: rbac.authorization.k8s.io}]}\n"
               "- {level: RequestResponse}\n"),
       &metrics, nullptr});
  Batch batch;
  batch.audit = events;
  BatchOutcome outcome;
  proc.process(batch, outcome);
  ASSERT_EQ(batch.audit.size(), events.size());
  EXPECT_EQ(outcome.dropped_by_policy, 0u);
  for (std::size_t i = 0; i < events.size(); ++i) {
    const AuditEvent& before = events[i];
    const AuditEvent& after = batch.audit[i];
    const std::string res = before.object_ref ? before.object_ref->resource : "";
    const auto d = doc_of(after);
    EXPECT_EQ(after.level_received, before.level_received);
    EXPECT_STREQ(d["level"].GetString(), to_string(after.level));
    if (res == "configmaps") {
      EXPECT_EQ(after.level, Level::kMetadata);
      EXPECT_FALSE(d.HasMember("requestObject"));
      EXPECT_FALSE(d.HasMember("responseObject"));
      EXPECT_FALSE(after.has_request_object);
    } else if (res == "clusterroles" || res == "clusterrolebindings") {
      EXPECT_EQ(after.level, Level::kRequest);
      EXPECT_EQ(d.HasMember("requestObject"), before.has_request_object);
      EXPECT_FALSE(d.HasMember("responseObject"));
    } else {
      // The catch-all asks RequestResponse, but the level never rises above the received one.
      EXPECT_EQ(after.level, before.level);
      EXPECT_EQ(after.json, before.json) << "unchanged events are not re-serialised";
    }
  }
}

TEST(PolicyProcessor, DropsLevelNoneAndOmittedStagesAndCountsThem) {
  MetricsRegistry metrics;
  PolicyProcessor proc({compile("omitStages: [RequestReceived]\n"
                                "rules:\n"
                                "- {level: None, resources: [{resources: [events]}]}\n"
                                "- {level: Metadata, resources: [{resources: [pods]}]}\n"),
                        &metrics, nullptr});
  Batch batch;
  batch.audit.push_back(event_from(make_event("Metadata", "ResponseComplete", "events", "")));
  batch.audit.push_back(event_from(make_event("Metadata", "RequestReceived", "pods", "")));
  batch.audit.push_back(event_from(make_event("Metadata", "ResponseComplete", "pods", "")));
  batch.audit.push_back(event_from(make_event("Metadata", "ResponseComplete", "secrets", "")));
  // An event that arrived at level None stays None whatever the policy says.
  batch.audit.push_back(event_from(make_event("None", "ResponseComplete", "pods", "")));
  BatchOutcome outcome;
  proc.process(batch, outcome);
  ASSERT_EQ(batch.audit.size(), 1u);
  EXPECT_EQ(batch.audit[0].stage, Stage::kResponseComplete);
  EXPECT_EQ(batch.audit[0].object_ref->resource, "pods");
  EXPECT_EQ(outcome.dropped_by_policy, 4u);
  const std::string text = metrics.render_prometheus();
  EXPECT_NE(text.find("ktrail_policy_dropped_total{reason=\"level_none\"} 3"), std::string::npos)
      << text;
  EXPECT_NE(text.find("ktrail_policy_dropped_total{reason=\"omitted_stage\"} 1"), std::string::npos)
      << text;
}

TEST(PolicyProcessor, OmitsManagedFieldsFromObjectsAndListItems) {
  const std::string mf = R"("managedFields":[{"manager":"kubectl","operation":"Update"}])";
  AuditEvent e = event_from(
      make_event("RequestResponse", "ResponseComplete", "pods",
                 R"(,"requestObject":{"kind":"Pod","metadata":{"name":"p",)" + mf +
                     R"(}},"responseObject":{"kind":"PodList","items":[{"metadata":{"name":"a",)" +
                     mf + R"(}},{"metadata":{"name":"b",)" + mf + R"(}}]})"));
  ASSERT_TRUE(apply_level(&e, Level::kRequestResponse, true).is_ok());
  EXPECT_EQ(e.json.find("managedFields"), std::string::npos) << e.json;
  const auto d = doc_of(e);
  EXPECT_STREQ(d["requestObject"]["metadata"]["name"].GetString(), "p");
  EXPECT_EQ(d["responseObject"]["items"].Size(), 2u);
  EXPECT_STREQ(d["responseObject"]["items"][1]["metadata"]["name"].GetString(), "b");

  // Table rows too.
  rapidjson::Document table;
  ASSERT_TRUE(
      json::parse(
          R"({"kind":"Table","rows":[{"cells":[],"object":{"metadata":{"name":"x",)" + mf + "}}}]}",
          &table)
          .is_ok());
  EXPECT_TRUE(remove_managed_fields(&table));
  EXPECT_EQ(json::to_compact(table).find("managedFields"), std::string::npos);
}

TEST(RedactProcessor, SecretValuesBecomeMarkersKeepingKeysAndLengths) {
  MetricsRegistry metrics;
  RedactProcessor proc({&metrics});
  Batch batch;
  // A Secret created (request) and returned (response), and a SecretList.
  batch.audit.push_back(event_from(make_event(
      "RequestResponse", "ResponseComplete", "secrets",
      R"(,"requestObject":{"kind":"Secret","metadata":{"name":"s","annotations":{)"
      R"("kubectl.kubernetes.io/last-applied-configuration":"{\"data\":{\"password\":\"aHVudGVyMg==\"}}"}},)"
      R"("data":{"password":"aHVudGVyMg=="},"stringData":{"token":"abc"}},)"
      R"("responseObject":{"kind":"SecretList","items":[{"metadata":{"name":"a"},"data":{"k":"dmFsdWU="}}]})")));
  // A merge patch on a secret carries no kind.
  batch.audit.push_back(event_from(make_event("Request", "ResponseComplete", "secrets",
                                              R"(,"requestObject":{"data":{"k":"c2VjcmV0"}})")));
  // A JSON patch on a secret.
  batch.audit.push_back(event_from(make_event(
      "Request", "ResponseComplete", "secrets",
      R"(,"requestObject":[{"op":"add","path":"/data/k","value":"c2VjcmV0"},{"op":"replace","path":"/metadata/name","value":"n"}])")));
  // A configmap is left alone.
  const std::string cm = make_event("Request", "ResponseComplete", "configmaps",
                                    R"(,"requestObject":{"kind":"ConfigMap","data":{"k":"v"}})");
  batch.audit.push_back(event_from(cm));
  BatchOutcome outcome;
  proc.process(batch, outcome);
  ASSERT_EQ(batch.audit.size(), 4u);
  for (int i = 0; i < 3; ++i) {
    for (const char* secret : {"aHVudGVyMg==", "abc\"", "dmFsdWU=", "c2VjcmV0"}) {
      EXPECT_EQ(batch.audit[i].json.find(secret), std::string::npos) << batch.audit[i].json;
    }
  }
  const auto d0 = doc_of(batch.audit[0]);
  EXPECT_STREQ(d0["requestObject"]["data"]["password"].GetString(), "<redacted: 12 bytes>");
  EXPECT_STREQ(d0["requestObject"]["stringData"]["token"].GetString(), "<redacted: 3 bytes>");
  EXPECT_STREQ(d0["responseObject"]["items"][0]["data"]["k"].GetString(), "<redacted: 8 bytes>");
  const auto d2 = doc_of(batch.audit[2]);
  EXPECT_STREQ(d2["requestObject"][0]["value"].GetString(), "<redacted: 8 bytes>");
  EXPECT_STREQ(d2["requestObject"][1]["value"].GetString(), "n");
  EXPECT_EQ(batch.audit[3].json, event_from(cm).json);
  EXPECT_NE(metrics.render_prometheus().find("ktrail_redacted_events_total 3"), std::string::npos);
}

TEST(TruncateProcessor, RemovesObjectsThenDeadLettersWhatIsStillTooLarge) {
  MetricsRegistry metrics;
  const std::string big(4000, 'x');
  AuditEvent with_objects = event_from(
      make_event("RequestResponse", "ResponseComplete", "pods",
                 R"(,"requestObject":{"kind":"Pod","metadata":{"name":")" + big + R"("}})"));
  AuditEvent metadata_big = event_from(make_event("Metadata", "ResponseComplete", "pods",
                                                  R"(,"annotations":{"a":")" + big + R"("})"));
  AuditEvent small = event_from(make_event("Metadata", "ResponseComplete", "pods", ""));
  const std::size_t limit = 2000;
  ASSERT_LT(serialized_event_size(small), limit);
  TruncateProcessor proc({limit, &metrics});
  Batch batch;
  batch.audit = {with_objects, metadata_big, small};
  BatchOutcome outcome;
  proc.process(batch, outcome);
  ASSERT_EQ(batch.audit.size(), 2u);
  EXPECT_EQ(outcome.truncated, 1u);
  EXPECT_EQ(outcome.rejected, 0u);  // counted by the store when it writes the dead letter
  ASSERT_EQ(batch.rejected.size(), 1u);
  EXPECT_NE(batch.rejected[0].reason.find("exceeds --max-event-bytes=2000"), std::string::npos);
  const auto d = doc_of(batch.audit[0]);
  EXPECT_FALSE(d.HasMember("requestObject"));
  EXPECT_STREQ(d["annotations"]["audit.k8s.io/truncated"].GetString(), "true");
  EXPECT_FALSE(batch.audit[0].has_request_object);
  EXPECT_EQ(batch.audit[1].json, small.json);
}

TEST(TruncateProcessor, MeasuresTheEventAsSentAlone) {
  AuditEvent e = event_from(make_event("Metadata", "ResponseComplete", "pods", ""));
  EXPECT_EQ(serialized_event_size(e), e.json.size() + 1);
  // An EventList item has no kind/apiVersion: they are counted as kube-apiserver would.
  e.json = R"({"auditID":"x"})";
  EXPECT_EQ(serialized_event_size(e), e.json.size() + 1 + 15 + 31);
}

TEST(AuditProcessors, FactoryBuildsTheChainInOrder) {
  MetricsRegistry metrics;
  AuditProcessingOptions opts;
  opts.metrics = &metrics;
  auto none = build_audit_processors({"", 0, false, &metrics, nullptr});
  ASSERT_TRUE(none.is_ok());
  EXPECT_TRUE(none->empty());
  opts.policy_file = std::string(KTRAIL_SOURCE_DIR) + "/examples/policies/gce-audit-policy.yaml";
  opts.max_event_bytes = 100000;
  auto chain = build_audit_processors(opts);
  ASSERT_TRUE(chain.is_ok()) << chain.status().to_string();
  ASSERT_EQ(chain->size(), 3u);
  EXPECT_NE(dynamic_cast<PolicyProcessor*>((*chain)[0].get()), nullptr);
  EXPECT_NE(dynamic_cast<RedactProcessor*>((*chain)[1].get()), nullptr);
  EXPECT_NE(dynamic_cast<TruncateProcessor*>((*chain)[2].get()), nullptr);

  // The GCE policy over a real log: every event accounted for.
  Batch batch;
  batch.audit = read_jsonl("audit2rbac-demo-raw-v1beta1.jsonl");
  const std::size_t total = batch.audit.size();
  ASSERT_GT(total, 10u);
  BatchOutcome outcome;
  run_processors(*chain, batch, outcome);
  EXPECT_EQ(batch.audit.size() + outcome.dropped_by_policy + batch.rejected.size(), total);
  EXPECT_GE(outcome.dropped_by_policy, 320u);  // RequestReceived is omitted by every rule
  for (const auto& e : batch.audit) {
    EXPECT_NE(e.stage, Stage::kRequestReceived);
  }

  opts.policy_file = "/nonexistent.yaml";
  auto bad = build_audit_processors(opts);
  ASSERT_FALSE(bad.is_ok());
  EXPECT_NE(bad.status().message().find("/nonexistent.yaml"), std::string::npos);
}

}  // namespace
}  // namespace ktrail
