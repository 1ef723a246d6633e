#include "core/audit_json.h"

#include <gtest/gtest.h>

#include <fstream>
#include <set>
#include <string>
#include <vector>

#include "core/json.h"

namespace ktrail {
namespace {

constexpr const char* kEvent =
    R"({"level":"Metadata","auditID":"5a0c3e5e-4f7b-4d3c-9d55-1b2c3d4e5f60","stage":"ResponseComplete",)"
    R"("requestURI":"/apis/apps/v1/namespaces/shop/deployments/web/scale","verb":"patch",)"
    R"("user":{"username":"alice@example.com","groups":["dev","system:authenticated"]},)"
    R"("impersonatedUser":{"username":"bob"},"sourceIPs":["10.0.0.7"],"userAgent":"kubectl/v1.36.0",)"
    R"("objectRef":{"resource":"deployments","namespace":"shop","name":"web","apiGroup":"apps",)"
    R"("apiVersion":"v1","subresource":"scale"},"responseStatus":{"metadata":{},"code":200},)"
    R"("requestReceivedTimestamp":"2026-03-01T12:00:00.123456Z","stageTimestamp":"2026-03-01T12:00:00.140001Z"})";

// The stored JSON of a line must mean what the line means: equal as parsed documents, and
// compact (what json::to_compact writes for it).
void expect_same_compact_json(const std::string& line, const std::string& stored) {
  rapidjson::Document a;
  rapidjson::Document b;
  ASSERT_TRUE(json::parse(line, &a).is_ok());
  ASSERT_TRUE(json::parse(stored, &b).is_ok()) << stored;
  EXPECT_TRUE(a == b) << stored;
  EXPECT_EQ(stored, json::to_compact(b));
}

TEST(AuditJson, LineJsonIsCompactAndEquivalentWhateverTheSpelling) {
  const std::string base(kEvent);
  const std::vector<std::string> lines = {
      base,                                              // compact already: kept as is
      "{ " + base.substr(1),                             // whitespace
      base.substr(0, base.size() - 1) + ",\"x\":1.50}",  // a number the writer spells 1.5
      base.substr(0, base.size() - 1) + ",\"x\":\"caf\\u00e9 \\/\"}",  // escapes
      base.substr(0, base.size() - 1) + ",\"x\":\"a \\\" b\",\"y\":[true,false,null,-3]}",
  };
  for (const auto& line : lines) {
    DecodedAudit out;
    decode_audit_line(line, &out);
    ASSERT_EQ(out.events.size(), 1u) << line;
    expect_same_compact_json(line, out.events[0].json);
  }
  DecodedAudit out;
  decode_audit_line(base, &out);
  ASSERT_EQ(out.events.size(), 1u);
  EXPECT_EQ(out.events[0].json, base);
}

TEST(AuditJson, DecodesEventListItems) {
  std::string list =
      std::string(R"({"kind":"EventList","apiVersion":"audit.k8s.io/v1","metadata":{},"items":[)") +
      kEvent + "]}";
  auto decoded = decode_audit_document(list);
  ASSERT_TRUE(decoded.is_ok()) << decoded.status().to_string();
  ASSERT_EQ(decoded->events.size(), 1u);
  EXPECT_TRUE(decoded->rejected.empty());
  const AuditEvent& e = decoded->events[0];
  EXPECT_EQ(e.audit_id, "5a0c3e5e-4f7b-4d3c-9d55-1b2c3d4e5f60");
  EXPECT_EQ(e.stage, Stage::kResponseComplete);
  EXPECT_EQ(e.level, Level::kMetadata);
  EXPECT_EQ(e.verb, "patch");
  EXPECT_EQ(e.user.username, "alice@example.com");
  EXPECT_EQ(e.user.groups.size(), 2u);
  ASSERT_TRUE(e.impersonated_user.has_value());
  EXPECT_EQ(e.impersonated_user->username, "bob");
  ASSERT_TRUE(e.object_ref.has_value());
  EXPECT_EQ(e.object_ref->subresource, "scale");
  EXPECT_EQ(e.object_ref->api_group, "apps");
  EXPECT_EQ(e.response_code, 200);
  EXPECT_EQ(format_rfc3339(e.stage_time), "2026-03-01T12:00:00.140001Z");
  EXPECT_FALSE(e.has_request_object);
  EXPECT_EQ(e.json.front(), '{');
}

TEST(AuditJson, SingleEventAndArray) {
  auto one = decode_audit_document(kEvent);
  ASSERT_TRUE(one.is_ok());
  EXPECT_EQ(one->events.size(), 1u);
  auto array = decode_audit_document(std::string("[") + kEvent + "," + kEvent + "]");
  ASSERT_TRUE(array.is_ok());
  EXPECT_EQ(array->events.size(), 2u);
}

TEST(AuditJson, SingleEventKeepsItsTextWhenCompactAndIsCompactedOtherwise) {
  // The compact form, as a Kafka message carries it: kept byte for byte.
  auto spaced = decode_audit_document(std::string(" ") + kEvent + "\n");
  ASSERT_TRUE(spaced.is_ok());
  ASSERT_EQ(spaced->events.size(), 1u);
  const std::string compact = spaced->events[0].json;
  ASSERT_EQ(compact.find('\n'), std::string::npos);
  auto again = decode_audit_document(compact);
  ASSERT_TRUE(again.is_ok());
  ASSERT_EQ(again->events.size(), 1u);
  EXPECT_EQ(again->events[0].json, compact);
  EXPECT_EQ(again->events[0].audit_id, spaced->events[0].audit_id);
  // White space inside the object is not kept: the event is written compact.
  std::string loose = compact;
  loose.insert(1, " ");
  auto relaxed = decode_audit_document(loose);
  ASSERT_TRUE(relaxed.is_ok());
  ASSERT_EQ(relaxed->events.size(), 1u);
  EXPECT_EQ(relaxed->events[0].json, compact);
}

TEST(AuditJson, BadItemsAreRejectedWithReasonAndTheRestKept) {
  std::string list =
      std::string(R"({"kind":"EventList","items":[)") + kEvent +
      R"(,{"level":"Metadata","stage":"ResponseComplete"},)"
      R"({"auditID":"x","stage":"Bogus","level":"Metadata"},)"
      R"({"auditID":"y","stage":"ResponseComplete","level":"Metadata","requestReceivedTimestamp":"yesterday","stageTimestamp":"2026-03-01T12:00:00Z"},)"
      R"({"auditID":"z","stage":"ResponseComplete","level":"Metadata","requestReceivedTimestamp":"2026-03-01T12:00:00Z","stageTimestamp":"2026-03-01T12:00:00Z","user":"root"},)"
      R"(42]})";
  auto decoded = decode_audit_document(list);
  ASSERT_TRUE(decoded.is_ok());
  EXPECT_EQ(decoded->events.size(), 1u);
  ASSERT_EQ(decoded->rejected.size(), 5u);
  EXPECT_NE(decoded->rejected[0].reason.find("auditID"), std::string::npos);
  EXPECT_NE(decoded->rejected[1].reason.find("unknown stage"), std::string::npos);
  EXPECT_NE(decoded->rejected[2].reason.find("requestReceivedTimestamp"), std::string::npos);
  EXPECT_NE(decoded->rejected[3].reason.find("'user'"), std::string::npos);
  EXPECT_EQ(decoded->rejected[4].raw, "42");
}

TEST(AuditJson, MalformedDocumentIsAnError) {
  auto decoded = decode_audit_document(R"({"kind":"EventList","items":[{"auditID":)");
  ASSERT_FALSE(decoded.is_ok());
  EXPECT_EQ(decoded.status().code(), ErrorCode::kParseError);
  EXPECT_FALSE(decode_audit_document("7").is_ok());
  EXPECT_FALSE(decode_audit_document(R"({"items":{}})").is_ok());
}

TEST(AuditJson, BadLineIsRejectedNotFatal) {
  DecodedAudit out;
  decode_audit_line("{not json", &out);
  decode_audit_line(kEvent, &out);
  EXPECT_EQ(out.events.size(), 1u);
  ASSERT_EQ(out.rejected.size(), 1u);
  EXPECT_EQ(out.rejected[0].raw, "{not json");
}

// Every line of the real audit logs decodes; stages pair up by auditID.
TEST(AuditJson, RealAuditLogsDecode) {
  for (const char* name : {"audit2rbac-demo-raw-v1beta1.jsonl", "audit2rbac-demo-v1.jsonl",
                           "falco-k8s-audit-trace-files.jsonl"}) {
    std::ifstream in(std::string(KTRAIL_SOURCE_DIR) + "/tests/data/" + name);
    ASSERT_TRUE(in.good()) << name;
    DecodedAudit out;
    std::string line;
    std::size_t lines = 0;
    while (std::getline(in, line)) {
      if (line.empty()) {
        continue;
      }
      ++lines;
      decode_audit_line(line, &out);
    }
    EXPECT_EQ(out.events.size(), lines) << name;
    EXPECT_TRUE(out.rejected.empty()) << name << ": " << out.rejected[0].reason;
  }
}

}  // namespace
}  // namespace ktrail
