// Events carried inside audit events (processors/carried_events.h): the apiserver's audit of a
// kubelet or controller writing an Event, at the levels and stages it really sends.
#include "processors/carried_events.h"

#include <gtest/gtest.h>

#include "core/audit_json.h"

namespace ktrail {
namespace {

const char* kEvent =
    R"({"kind":"Event","apiVersion":"v1","metadata":{"name":"worker-3.18a0","namespace":"default"},)"
    R"("involvedObject":{"kind":"Node","name":"worker-3","uid":"worker-3","apiVersion":"v1"},)"
    R"("reason":"NodeReady","message":"Node worker-3 status is now: NodeReady",)"
    R"("source":{"component":"kubelet","host":"worker-3"},"firstTimestamp":"2026-03-01T02:41:00Z",)"
    R"("lastTimestamp":"2026-03-01T02:41:00Z","count":1,"type":"Normal"})";

AuditEvent audit(const std::string& verb, const std::string& level, const std::string& stage,
                 const std::string& request, const std::string& response, int code = 201) {
  std::string line =
      R"({"kind":"Event","apiVersion":"audit.k8s.io/v1","level":")" + level +
      R"(","auditID":"a-1","stage":")" + stage +
      R"(","requestURI":"/api/v1/namespaces/default/events","verb":")" + verb +
      R"(","user":{"username":"system:node:worker-3"},"objectRef":{"resource":"events",)"
      R"("namespace":"default","name":"worker-3.18a0","apiVersion":"v1"},)"
      R"("responseStatus":{"metadata":{},"code":)" +
      std::to_string(code) +
      R"(},"requestReceivedTimestamp":"2026-03-01T02:41:00.100000Z",)"
      R"("stageTimestamp":"2026-03-01T02:41:00.104000Z")";
  if (!request.empty()) line += R"(,"requestObject":)" + request;
  if (!response.empty()) line += R"(,"responseObject":)" + response;
  line += "}";
  DecodedAudit d;
  decode_audit_line(line, &d);
  EXPECT_EQ(d.events.size(), 1u) << line;
  return d.events.empty() ? AuditEvent{} : d.events[0];
}

TEST(CarriedEvents, RequestLevelCreateHasTheEventWithoutUid) {
  CarriedEvents c;
  KubeEvent e;
  ASSERT_TRUE(c.extract(audit("create", "Request", "ResponseComplete", kEvent, ""), &e));
  EXPECT_TRUE(e.carried);
  EXPECT_EQ(e.uid, "default/worker-3.18a0");  // the decoder's identity for an Event without uid
  EXPECT_EQ(e.namespace_, "default");
  EXPECT_EQ(e.name, "worker-3.18a0");
  EXPECT_EQ(e.reason, "NodeReady");
  EXPECT_EQ(e.object.kind, "Node");
  EXPECT_EQ(e.source_host, "worker-3");
}

TEST(CarriedEvents, ResponseHoldsTheStoredEventWithItsUid) {
  std::string stored = kEvent;
  stored.replace(stored.find(R"("namespace":"default"})"), 22,
                 R"("namespace":"default","uid":"u-77","resourceVersion":"12"})");
  CarriedEvents c;
  KubeEvent e;
  ASSERT_TRUE(c.extract(audit("create", "RequestResponse", "ResponseComplete", kEvent, stored), &e));
  EXPECT_EQ(e.uid, "u-77");
}

TEST(CarriedEvents, BodylessPatchAppliesToTheEventAsLastSeen) {
  CarriedEvents c;
  KubeEvent e;
  const std::string patch =
      R"({"count":4,"lastTimestamp":"2026-03-01T02:45:00Z","message":"again"})";
  // Without the Event seen first, a patch of count and time says nothing usable.
  EXPECT_FALSE(c.extract(audit("patch", "Request", "ResponseComplete", patch, "", 200), &e));
  ASSERT_TRUE(c.extract(audit("create", "Request", "ResponseComplete", kEvent, ""), &e));
  ASSERT_TRUE(c.extract(audit("patch", "Request", "ResponseComplete", patch, "", 200), &e));
  EXPECT_EQ(e.count, 4);
  EXPECT_EQ(e.message, "again");
  EXPECT_EQ(e.last_time, *parse_rfc3339("2026-03-01T02:45:00Z"));
  EXPECT_EQ(e.first_time, *parse_rfc3339("2026-03-01T02:41:00Z"));
}

TEST(CarriedEvents, WhatCarriesNoEvent) {
  CarriedEvents c;
  KubeEvent e;
  EXPECT_FALSE(c.extract(audit("create", "Metadata", "ResponseComplete", "", ""), &e));
  EXPECT_FALSE(c.extract(audit("create", "Request", "RequestReceived", kEvent, ""), &e));
  EXPECT_FALSE(c.extract(audit("create", "Request", "ResponseComplete", kEvent, "", 409), &e));
  EXPECT_FALSE(c.extract(audit("get", "Request", "ResponseComplete", kEvent, "", 200), &e));
  EXPECT_FALSE(c.extract(audit("create", "Request", "ResponseComplete", R"({"reason":"x"})", ""), &e));
}

TEST(CarriedEvents, ProcessorAppendsThemMarkedAndDropsNothing) {
  CarriedEventsProcessor stage;
  Batch b;
  b.audit.push_back(audit("create", "Request", "ResponseComplete", kEvent, ""));
  b.audit.push_back(audit("create", "Metadata", "ResponseComplete", "", ""));
  BatchOutcome outcome;
  stage.process(b, outcome);
  EXPECT_EQ(b.audit.size(), 2u);
  ASSERT_EQ(b.events.size(), 1u);
  EXPECT_TRUE(b.events[0].carried);
  EXPECT_EQ(outcome.dropped_by_policy + outcome.rejected, 0u);
}

}  // namespace
}  // namespace ktrail
