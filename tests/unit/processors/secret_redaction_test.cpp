// The redaction walk (processors/secret_redaction.h) on the shapes that once slipped past it:
// dead letters, duplicate keys, escaped JSON-patch pointers, Secrets without kind "Secret" in an
// event on `secrets`, and Secrets nested deep in lists.
#include "processors/secret_redaction.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "core/batch.h"
#include "core/json.h"
#include "processors/redact_processor.h"

namespace ktrail {
namespace {

const std::string kValue = "c3VwZXItc2VjcmV0LXZhbHVl";  // what must never survive

std::string event(const std::string& resource, const std::string& objects) {
  return R"({"level":"RequestResponse","auditID":"a1","stage":"ResponseComplete","verb":"patch",)"
         R"("objectRef":{"resource":")" +
         resource + R"(","namespace":"ns","name":"s","apiVersion":"v1"},)" + objects +
         R"(,"requestReceivedTimestamp":"2026-03-01T12:00:00.000001Z",)"
         R"("stageTimestamp":"2026-03-01T12:00:00.000002Z"})";
}

std::string redacted(std::string json) {
  auto r = redact_audit_event_text(&json);
  EXPECT_TRUE(r.is_ok()) << r.status().to_string();
  return json;
}

bool has_value(const std::string& text) { return text.find(kValue) != std::string::npos; }

TEST(SecretRedaction, DuplicateDataKeysAreAllRedacted) {
  const std::string e = event(
      "secrets", R"("requestObject":{"kind":"Secret","data":{"k":"x"},"data":{"k":")" + kValue +
                     R"("},"stringData":{"a":"b"},"stringData":{"k":")" + kValue + R"("}})");
  const std::string out = redacted(e);
  EXPECT_FALSE(has_value(out)) << out;
  // Two `kind` members, the last one Secret, in an event on another resource.
  const std::string twice = event(
      "configmaps",
      R"("responseObject":{"kind":"ConfigMap","kind":"Secret","data":{"k":")" + kValue + R"("}})");
  EXPECT_FALSE(has_value(redacted(twice)));
}

TEST(SecretRedaction, JsonPatchPathsReachingSecretValuesAreRedacted) {
  const std::string ops =
      R"("requestObject":[)"
      R"({"op":"add","path":"/metadata/annotations/kubectl.kubernetes.io~1last-applied-configuration","value":"{\"data\":{\"k\":\")" +
      kValue +
      R"(\"}}"},)"
      R"({"op":"add","path":"/metadata/annotations","value":{"kubectl.kubernetes.io/last-applied-configuration":")" +
      kValue +
      R"("}},)"
      R"({"op":"replace","path":"/data/a~1b","value":")" + kValue + R"("},)"
      R"({"op":"test","path":"/stringData/k","value":")" + kValue + R"("},)"
      R"({"op":"add","path":"","value":{"data":{"k":")" + kValue + R"("}}},)"
      R"({"op":"add","path":"~bad","value":")" + kValue + R"("},)"
      R"({"op":"add","path":"/data/k","path":"/metadata/labels/x","value":")" + kValue + R"("},)"
      R"({"op":"replace","path":"/metadata/labels/app","value":"web"}])";
  const std::string out = redacted(event("secrets", ops));
  EXPECT_FALSE(has_value(out)) << out;
  rapidjson::Document d;
  ASSERT_TRUE(json::parse(out, &d).is_ok());
  EXPECT_STREQ(d["requestObject"][7]["value"].GetString(), "web");  // not a secret: kept
  EXPECT_STREQ(d["requestObject"][2]["value"].GetString(),
               redaction_marker(kValue.size()).c_str());
}

TEST(SecretRedaction, TheEventsResourceDecidesNotTheObjectsKind) {
  for (const std::string& objects :
       std::vector<std::string>{R"("requestObject":{"kind":"secret","stringData":{"k":")" + kValue + R"("}})",
        R"("requestObject":{"data":{"k":")" + kValue + R"("}})",
        R"("requestObject":{"kind":"ConfigMap","data":{"k":")" + kValue + R"("}})",
        R"("responseObject":{"kind":"Table","rows":[{"cells":[],"object":{"kind":"PartialObjectMetadata","data":{"k":")" +
            kValue + R"("}}}]})",
        R"("responseObject":{"type":"ADDED","object":{"data":{"k":")" + kValue + R"("}}})"}) {
    EXPECT_FALSE(has_value(redacted(event("secrets", objects)))) << objects;
  }
  // The same ConfigMap in an event on configmaps is not a Secret.
  const std::string cm =
      event("configmaps", R"("requestObject":{"kind":"ConfigMap","data":{"k":")" + kValue +
                              R"("}})");
  EXPECT_EQ(redacted(cm), cm);
}

TEST(SecretRedaction, SecretsNestedInListsAtAnyDepth) {
  std::string object = R"({"kind":"Secret","data":{"k":")" + kValue + R"("}})";
  for (int depth = 0; depth < 40; ++depth) {
    object = R"({"kind":"List","items":[)" + object + "]}";
    EXPECT_FALSE(has_value(redacted(event("pods", R"("responseObject":)" + object))))
        << "depth " << depth;
  }
  std::string list = R"({"kind":"SecretList","items":[{"data":{"k":")" + kValue + R"("}}]})";
  for (int depth = 0; depth < 10; ++depth) {
    list = R"({"kind":"List","items":[)" + list + "]}";
  }
  EXPECT_FALSE(has_value(redacted(event("pods", R"("responseObject":)" + list))));
}

TEST(SecretRedaction, RedactingTwiceChangesNothingButForgedMarkersAreValues) {
  const std::string once = redacted(
      event("secrets", R"("requestObject":{"data":{"k":")" + kValue + R"(","m":"<redacted>"}})"));
  std::string again = once;
  auto r = redact_audit_event_text(&again);
  ASSERT_TRUE(r.is_ok());
  EXPECT_FALSE(*r);
  EXPECT_EQ(again, once);
  const std::string forged = redacted(event(
      "secrets", R"("requestObject":{"data":{"k":"<redacted: 3 bytes> )" + kValue + R"("}})"));
  EXPECT_FALSE(has_value(forged)) << forged;
}

TEST(SecretRedaction, DeadLettersAreRedactedOrReducedToSizeAndHash) {
  // A Secret event rejected by the decoder (no stageTimestamp): kept, redacted.
  std::string raw = R"({"auditID":"x","objectRef":{"resource":"secrets"},"requestObject":{"kind":"Secret","data":{"k":")" +
                    kValue + R"("}}})";
  std::string reason = "not an audit event: missing 'stageTimestamp'";
  EXPECT_TRUE(redact_dead_letter(&raw, &reason));
  EXPECT_FALSE(has_value(raw)) << raw;
  EXPECT_NE(raw.find("\"auditID\":\"x\""), std::string::npos);
  EXPECT_EQ(reason, "not an audit event: missing 'stageTimestamp'");
  // Whatever resource it names: a dead letter is walked as if every object were a Secret.
  std::string cm = R"({"objectRef":{"resource":"configmaps"},"requestObject":{"data":{"k":")" +
                   kValue + R"("}}})";
  EXPECT_TRUE(redact_dead_letter(&cm, &reason));
  EXPECT_FALSE(has_value(cm));
  // A line cut short cannot be parsed: only its size and hash are kept, and the reason says so.
  std::string cut = R"({"requestObject":{"kind":"Secret","data":{"k":")" + kValue;
  const std::size_t size = cut.size();
  reason = "invalid JSON at offset 60";
  EXPECT_TRUE(redact_dead_letter(&cut, &reason));
  EXPECT_FALSE(has_value(cut));
  EXPECT_NE(cut.find("\"bytes\":" + std::to_string(size)), std::string::npos) << cut;
  EXPECT_NE(cut.find("\"sha256\":\""), std::string::npos);
  EXPECT_NE(reason.find("content not kept"), std::string::npos);
  // An event carried as a string (AKS' properties.log, an EKS log event's message), also two
  // levels deep, is walked; one cut short is replaced by a marker; the rest of the record stays.
  const std::string event_text = R"({"objectRef":{"resource":"secrets"},"requestObject":{"data":{"k":")" +
                                 kValue + R"("}}})";
  rapidjson::Document as_string;
  as_string.SetString(event_text.c_str(), static_cast<rapidjson::SizeType>(event_text.size()),
                      as_string.GetAllocator());
  const std::string once = json::to_compact(as_string);
  as_string.SetString(once.c_str(), static_cast<rapidjson::SizeType>(once.size()),
                      as_string.GetAllocator());
  const std::string twice = json::to_compact(as_string);
  std::string record = R"({"category":"kube-audit","properties":{"log":)" + once +
                       R"(,"pod":"kube-apiserver-0"},"nested":{"message":)" + twice + "}}";
  ASSERT_TRUE(has_value(record));
  reason = "not an audit event";
  EXPECT_TRUE(redact_dead_letter(&record, &reason));
  EXPECT_FALSE(has_value(record)) << record;
  EXPECT_NE(record.find("kube-apiserver-0"), std::string::npos) << record;
  EXPECT_NE(record.find(R"(\"objectRef\")"), std::string::npos) << record;  // still the event
  std::string cut_inside = R"({"message":"{\"requestObject\":{\"data\":{\"k\":\")" + kValue +
                           R"(\"","other":"[not json either"})";
  EXPECT_TRUE(redact_dead_letter(&cut_inside, &reason));
  EXPECT_FALSE(has_value(cut_inside)) << cut_inside;
  EXPECT_NE(cut_inside.find("<redacted: "), std::string::npos) << cut_inside;
  std::string plain = R"({"message":"no JSON here"})";
  EXPECT_FALSE(redact_dead_letter(&plain, &reason));
  // A JSON scalar is not kept either.
  std::string scalar = "\"" + kValue + "\"";
  EXPECT_TRUE(redact_dead_letter(&scalar, &reason));
  EXPECT_FALSE(has_value(scalar));
}

TEST(RedactProcessor, RedactsTheBatchsDeadLettersToo) {
  MetricsRegistry metrics;
  RedactProcessor proc({&metrics});
  Batch batch;
  batch.rejected.push_back(
      {"not an audit event: missing 'stage'",
       R"({"objectRef":{"resource":"secrets"},"requestObject":{"data":{"k":")" + kValue + R"("}}})"});
  batch.rejected.push_back({"invalid JSON", "{\"data\":{\"k\":\"" + kValue});
  BatchOutcome outcome;
  proc.process(batch, outcome);
  ASSERT_EQ(batch.rejected.size(), 2u);
  for (const auto& r : batch.rejected) {
    EXPECT_FALSE(has_value(r.raw)) << r.raw;
  }
  EXPECT_NE(metrics.render_prometheus().find("ktrail_redacted_dead_letters_total 2"),
            std::string::npos);
}

}  // namespace
}  // namespace ktrail
