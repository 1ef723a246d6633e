#include "core/kube_event_json.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

namespace ktrail {
namespace {

Micros t(const char* text) { return *parse_rfc3339(text); }

constexpr const char* kCoreV1 =
    R"({"apiVersion":"v1","kind":"Event","metadata":{"name":"web-1.17a","namespace":"shop","uid":"e-1"},)"
    R"("involvedObject":{"kind":"Pod","namespace":"shop","name":"web-1","uid":"p-1","fieldPath":"spec.containers{web}"},)"
    R"("reason":"BackOff","message":"Back-off restarting failed container","type":"Warning",)"
    R"("source":{"component":"kubelet","host":"worker-1"},"firstTimestamp":"2026-03-01T10:00:00Z",)"
    R"("lastTimestamp":"2026-03-01T10:05:00Z","count":7})";

constexpr const char* kEventsV1 =
    R"({"apiVersion":"events.k8s.io/v1","kind":"Event","metadata":{"name":"n.1","namespace":"default","uid":"e-2"},)"
    R"("eventTime":"2026-03-01T10:00:00.123456Z","series":{"count":4,"lastObservedTime":"2026-03-01T10:09:00.000001Z"},)"
    R"("reportingController":"k8s.io/node-controller","reportingInstance":"kcm-1","action":"NodeNotReady",)"
    R"("reason":"NodeNotReady","regarding":{"kind":"Node","name":"worker-3"},"note":"Node worker-3 status is now: NodeNotReady",)"
    R"("type":"Normal","deprecatedSource":{"component":"node-controller"}})";

TEST(KubeEventJson, DecodesCoreV1) {
  auto d = decode_kube_events(kCoreV1);
  ASSERT_TRUE(d.is_ok()) << d.status().to_string();
  ASSERT_EQ(d->events.size(), 1u);
  const KubeEvent& e = d->events[0];
  EXPECT_EQ(e.uid, "e-1");
  EXPECT_EQ(e.object.kind, "Pod");
  EXPECT_EQ(e.object.field_path, "spec.containers{web}");
  EXPECT_EQ(e.reason, "BackOff");
  EXPECT_EQ(e.source_component, "kubelet");
  EXPECT_EQ(e.source_host, "worker-1");
  EXPECT_EQ(e.first_time, t("2026-03-01T10:00:00Z"));
  EXPECT_EQ(e.last_time, t("2026-03-01T10:05:00Z"));
  EXPECT_EQ(e.count, 7);
  EXPECT_FALSE(e.json.empty());
}

TEST(KubeEventJson, DecodesEventsV1WithSeries) {
  auto d = decode_kube_events(kEventsV1);
  ASSERT_TRUE(d.is_ok());
  ASSERT_EQ(d->events.size(), 1u);
  const KubeEvent& e = d->events[0];
  EXPECT_EQ(e.object.kind, "Node");
  EXPECT_EQ(e.object.name, "worker-3");
  EXPECT_EQ(e.message, "Node worker-3 status is now: NodeNotReady");
  EXPECT_EQ(e.reporting_controller, "k8s.io/node-controller");
  EXPECT_EQ(e.source_component, "node-controller");
  EXPECT_EQ(e.first_time, t("2026-03-01T10:00:00.123456Z"));
  EXPECT_EQ(e.last_time, t("2026-03-01T10:09:00.000001Z"));
  EXPECT_EQ(e.count, 4);
}

TEST(KubeEventJson, ListsArraysLinesAndWatchLines) {
  std::string list = std::string(R"({"kind":"EventList","apiVersion":"v1","items":[)") + kCoreV1 +
                     "," + kEventsV1 + "]}";
  auto a = decode_kube_events(list);
  ASSERT_TRUE(a.is_ok());
  EXPECT_EQ(a->events.size(), 2u);
  auto b = decode_kube_events(std::string("[") + kCoreV1 + "," + kEventsV1 + "]");
  ASSERT_TRUE(b.is_ok());
  EXPECT_EQ(b->events.size(), 2u);
  std::string lines =
      std::string(R"({"type":"ADDED","object":)") + kCoreV1 + "}\n" +
      R"({"type":"DELETED","object":)" + kEventsV1 + "}\r\n\n" +
      R"({"type":"BOOKMARK","object":{"kind":"Event","metadata":{"resourceVersion":"9"}}})" + "\n" +
      kCoreV1 + "\n";
  auto c = decode_kube_events(lines);
  ASSERT_TRUE(c.is_ok()) << c.status().to_string();
  ASSERT_EQ(c->events.size(), 3u);
  EXPECT_FALSE(c->events[0].deleted);
  EXPECT_TRUE(c->events[1].deleted);
  EXPECT_TRUE(c->rejected.empty());
}

TEST(KubeEventJson, BadItemsAreRejectedWithReasons) {
  const char* bad[] = {
      R"({"kind":"Event","metadata":{"name":"a","uid":"1"},"reason":"X","firstTimestamp":"2026-03-01T10:00:00Z"})",
      R"({"kind":"Event","metadata":{"name":"a","uid":"1"},"involvedObject":{},"reason":"X","firstTimestamp":"2026-03-01T10:00:00Z"})",
      R"({"kind":"Event","metadata":{"name":"a","uid":"1"},"involvedObject":{"kind":"Pod","name":"p"},"firstTimestamp":"1900-01-01T00:00:00Z"})",
      R"({"kind":"Event","metadata":{"name":"a","uid":"1"},"involvedObject":{"kind":"Pod","name":"p"},"firstTimestamp":"2026-03-01T10:00:00Z","count":-1})",
      R"({"kind":"Event","metadata":{"name":"a","uid":"1"},"involvedObject":{"kind":"Pod","name":"p"},"firstTimestamp":"2026-03-01T10:00:00Z","count":1e300})",
      R"({"kind":"Event","metadata":{"name":"a","uid":"1"},"involvedObject":{"kind":"Pod","name":"p"}})",
      R"({"kind":"Event","involvedObject":{"kind":"Pod","name":"p"},"firstTimestamp":"2026-03-01T10:00:00Z"})",
      R"({"kind":"Pod","metadata":{"name":"a","uid":"1"}})",
      R"({"kind":"Event","metadata":{"name":"a","uid":"1"},"involvedObject":{"kind":"Pod","name":7},"firstTimestamp":"2026-03-01T10:00:00Z"})",
      R"({"type":"EXPLODED","object":{}})",
      R"("just a string")",
      R"({"kind":"Event","metadata":{"name":"a","uid":"1"},"involvedObject":{"kind":"Pod","name":"p"},"firstTimestamp":"yesterday"})",
  };
  for (const char* item : bad) {
    DecodedKubeEvents d;
    decode_kube_event_line(item, &d);
    EXPECT_TRUE(d.events.empty()) << item;
    ASSERT_EQ(d.rejected.size(), 1u) << item;
    EXPECT_FALSE(d.rejected[0].reason.empty());
  }
}

TEST(KubeEventJson, OneBadLineKeepsTheRest) {
  std::string body = std::string(kCoreV1) + "\n{broken\n" + kEventsV1 + "\n";
  auto d = decode_kube_events(body);
  ASSERT_TRUE(d.is_ok());
  EXPECT_EQ(d->events.size(), 2u);
  EXPECT_EQ(d->rejected.size(), 1u);
}

TEST(KubeEventJson, NothingJsonIsAnError) {
  EXPECT_FALSE(decode_kube_events("hello\nworld").is_ok());
  EXPECT_FALSE(decode_kube_events("").is_ok());
  std::string deep(100000, '[');
  EXPECT_FALSE(decode_kube_events(deep).is_ok());
}

// One contract with audit bodies: a JSON scalar is an error (400), not one rejected item.
TEST(KubeEventJson, AJsonScalarIsAnErrorAsForAuditBodies) {
  for (const char* scalar : {"42", "\"event\"", "null", "true", " -0.5 "}) {
    auto d = decode_kube_events(scalar);
    EXPECT_FALSE(d.is_ok()) << scalar;
    EXPECT_NE(d.status().message().find("JSON scalar"), std::string::npos);
  }
  EXPECT_TRUE(decode_kube_events("[1]").is_ok());  // an array: its item is rejected, as for audit
}

TEST(KubeEventJson, DetectsStreamKind) {
  EXPECT_EQ(detect_stream_kind(kCoreV1), StreamKind::kEvents);
  EXPECT_EQ(detect_stream_kind(std::string(R"({"type":"ADDED","object":)") + kCoreV1 + "}"),
            StreamKind::kEvents);
  EXPECT_EQ(detect_stream_kind(R"({"kind":"EventList","apiVersion":"audit.k8s.io/v1","items":[]})"),
            StreamKind::kAudit);
  EXPECT_EQ(detect_stream_kind(R"({"auditID":"x","stage":"ResponseComplete"})"
                               "\n{}"),
            StreamKind::kAudit);
  EXPECT_EQ(detect_stream_kind("garbage"), StreamKind::kUnknown);
  EXPECT_EQ(detect_stream_kind(std::string(R"({"kind":"List","items":[)") + kEventsV1 + "]}"),
            StreamKind::kEvents);
}

// The real dumps: every line is an Event and decodes; nothing is rejected.
class RealDumpTest : public ::testing::TestWithParam<const char*> {};

TEST_P(RealDumpTest, DecodesEveryLine) {
  std::ifstream in(std::string(KTRAIL_SOURCE_DIR) + "/tests/data/" + GetParam());
  ASSERT_TRUE(in.good()) << GetParam();
  DecodedKubeEvents d;
  std::size_t lines = 0;
  for (std::string line; std::getline(in, line);) {
    if (line.empty()) continue;
    ++lines;
    decode_kube_event_line(line, &d);
  }
  EXPECT_GT(lines, 100u);
  EXPECT_EQ(d.events.size(), lines);
  for (const auto& r : d.rejected) ADD_FAILURE() << r.reason << ": " << r.raw.substr(0, 200);
  for (const auto& e : d.events) {
    EXPECT_FALSE(e.uid.empty());
    EXPECT_GT(e.first_time, 0);
    EXPECT_GE(e.last_time, e.first_time);
  }
}

INSTANTIATE_TEST_SUITE_P(Dumps, RealDumpTest,
                         ::testing::Values("openshift-mustgather-metal-events.jsonl",
                                           "sonobuoy-results-0.10-events.jsonl"));

}  // namespace
}  // namespace ktrail
