// One row per Kubernetes Event, however it arrives: with its uid (/events, an audit response),
// or without (an audit event of a create's request), in either order. And the node timeline's
// reading of Node writes (query/timeline_view.h).
#include <gtest/gtest.h>

#include "query/request_stages.h"
#include "query/timeline_view.h"
#include "storage/store.h"
#include "tests/unit/storage/store_test_util.h"

namespace ktrail {
namespace {

// The uid the decoder gives an Event that has none (core/kube_event_json.h).
const char* kByName = "default/worker-3.1800000000007bbc";

KubeEvent node_event(const std::string& uid, std::int64_t count, Micros last, bool carried) {
  KubeEvent e;
  e.uid = uid;
  e.namespace_ = "default";
  e.name = "worker-3.1800000000007bbc";
  e.object.kind = "Node";
  e.object.name = "worker-3";
  e.reason = "NodeNotReady";
  e.type = "Normal";
  e.source_component = "node-controller";
  e.first_time = 1'000'000;
  e.last_time = last;
  e.count = count;
  e.carried = carried;
  e.json = "{}";
  return e;
}

struct Written {
  BatchOutcome outcome;
  std::vector<KubeEvent> rows;
};

Written write_in_order(const std::vector<KubeEvent>& events) {
  testing::TempDir dir;
  auto store = Store::open(dir.file("k.db"), StoreOptions{});
  EXPECT_TRUE(store.is_ok());
  Written w;
  for (const KubeEvent& e : events) {
    Batch b;
    b.origin = "test";
    b.events.push_back(e);
    auto outcome = (*store)->write_batch(b);
    EXPECT_TRUE(outcome.is_ok()) << outcome.status().to_string();
    w.outcome += *outcome;
  }
  w.rows = *(*store)->find_kube_events({});
  return w;
}

TEST(KubeEventIdentity, CarriedWithoutUidThenWithUidIsOneRow) {
  auto w = write_in_order({node_event(kByName, 1, 2'000'000, true), node_event("u-1", 2, 3'000'000, false)});
  ASSERT_EQ(w.rows.size(), 1u);
  EXPECT_EQ(w.rows[0].uid, "u-1");
  EXPECT_EQ(w.rows[0].count, 2);
  EXPECT_EQ(w.rows[0].last_time, 3'000'000);
  EXPECT_EQ(w.outcome.stored, 1u);  // the carried copy is not a received item
  EXPECT_EQ(w.outcome.duplicates, 0u);
}

TEST(KubeEventIdentity, WithUidThenCarriedWithoutUidIsOneRow) {
  auto w = write_in_order({node_event("u-1", 1, 2'000'000, false), node_event(kByName, 3, 4'000'000, true),
                           node_event(kByName, 2, 3'000'000, true)});
  ASSERT_EQ(w.rows.size(), 1u);
  EXPECT_EQ(w.rows[0].uid, "u-1");
  EXPECT_EQ(w.rows[0].count, 3);  // the newer observation wins, an older one changes nothing
  EXPECT_EQ(w.rows[0].last_time, 4'000'000);
  EXPECT_EQ(w.outcome.stored, 1u);
}

// Whether an Event was ever received as an Event, whatever the order: the restore of
// correlation replays only those (app/correlation_restore.h).
TEST(KubeEventIdentity, RowRemembersWhetherTheEventWasReceived) {
  auto carried_only = write_in_order({node_event(kByName, 1, 2'000'000, true),
                                      node_event("u-1", 2, 3'000'000, true)});
  ASSERT_EQ(carried_only.rows.size(), 1u);
  EXPECT_TRUE(carried_only.rows[0].carried);
  EXPECT_EQ(carried_only.outcome.stored + carried_only.outcome.duplicates, 0u);

  // Received with nothing newer than the audit said: now received, and a stored item.
  auto same = write_in_order({node_event("u-1", 2, 3'000'000, true),
                              node_event("u-1", 2, 3'000'000, false),
                              node_event("u-1", 2, 3'000'000, false)});
  ASSERT_EQ(same.rows.size(), 1u);
  EXPECT_FALSE(same.rows[0].carried);
  EXPECT_EQ(same.outcome.stored, 1u);
  EXPECT_EQ(same.outcome.duplicates, 1u);

  // Received first, carried later with a newer count: still received.
  auto later = write_in_order({node_event("u-1", 1, 2'000'000, false),
                               node_event("u-1", 3, 4'000'000, true)});
  ASSERT_EQ(later.rows.size(), 1u);
  EXPECT_FALSE(later.rows[0].carried);
  EXPECT_EQ(later.rows[0].count, 3);
}

TEST(KubeEventIdentity, ReceivedOnlyLeavesOutEventsKnownOnlyFromAudit) {
  testing::TempDir dir;
  auto store = Store::open(dir.file("k.db"), StoreOptions{});
  ASSERT_TRUE(store.is_ok());
  Batch b;
  b.origin = "test";
  b.events.push_back(node_event("u-1", 1, 2'000'000, true));
  KubeEvent other = node_event("u-2", 1, 2'500'000, false);
  other.name = "worker-3.1800000000008ccd";
  b.events.push_back(other);
  ASSERT_TRUE((*store)->write_batch(b).is_ok());
  KubeEventFilter f;
  f.received_only = true;
  auto rows = (*store)->find_kube_events(f);
  ASSERT_TRUE(rows.is_ok());
  ASSERT_EQ(rows->size(), 1u);
  EXPECT_EQ((*rows)[0].uid, "u-2");
  f.node = "worker-3";  // through another index
  rows = (*store)->find_kube_events(f);
  ASSERT_TRUE(rows.is_ok());
  ASSERT_EQ(rows->size(), 1u);
  EXPECT_EQ((*store)->find_kube_events({})->size(), 2u);
}

TEST(KubeEventIdentity, UnnamedCarriedEventIsNotDeadLettered) {
  KubeEvent e = node_event("", 1, 2'000'000, true);
  e.name.clear();
  testing::TempDir dir;
  auto store = Store::open(dir.file("k.db"), StoreOptions{});
  ASSERT_TRUE(store.is_ok());
  Batch b;
  b.events.push_back(e);
  auto outcome = (*store)->write_batch(b);
  ASSERT_TRUE(outcome.is_ok());
  EXPECT_EQ(outcome->rejected, 0u);
  EXPECT_EQ(testing::scalar(**store, "SELECT count(*) FROM dead_letters"), 0);
  EXPECT_EQ(testing::scalar(**store, "SELECT count(*) FROM kube_events"), 0);
}

TEST(KubeEventIdentity, SameNameInAnotherNamespaceIsAnotherEvent) {
  KubeEvent other = node_event("kube-system/worker-3.1800000000007bbc", 1, 2'000'000, true);
  other.namespace_ = "kube-system";
  auto w = write_in_order({node_event("u-1", 1, 2'000'000, false), other});
  EXPECT_EQ(w.rows.size(), 2u);
}

StoredAudit node_write(const std::string& verb, const std::string& subresource,
                       const std::string& user, const std::string& event) {
  StoredAudit r;
  r.audit_id = "id";
  r.stage = Stage::kResponseComplete;
  r.verb = verb;
  r.user = user;
  r.resource = "nodes";
  r.subresource = subresource;
  r.name = "worker-3";
  r.code = 200;
  r.level = event.empty() ? Level::kMetadata : Level::kRequest;
  r.event = event;
  return r;
}

// Reading an event means unpacking its block: only rows stored with an object are worth it.
TEST(ChangeDescriber, OnlyWritesStoredWithAnObjectAreRead) {
  StoredAudit r = node_write("patch", "", "alice", R"({"requestObject":{}})");
  EXPECT_TRUE(query::change_needs_event(r));
  r.level = Level::kRequestResponse;
  EXPECT_TRUE(query::change_needs_event(r));
  r.level = Level::kMetadata;  // the event holds no object
  EXPECT_FALSE(query::change_needs_event(r));
  r.level = Level::kRequest;
  r.code = 409;
  EXPECT_FALSE(query::change_needs_event(r));
  r.code = 200;
  r.verb = "get";
  EXPECT_FALSE(query::change_needs_event(r));
}

// The node lifecycle controller's writes as kube-apiserver audits them at level Request: the
// NoSchedule taint first, the NoExecute one later (taint-based eviction's own queue), then
// both removed on recovery; a user's cordon and uncordon (kubectl's patches).
TEST(ChangeDescriber, SaysWhatEachNodeWriteChanged) {
  const std::string nc = "system:serviceaccount:kube-system:node-controller";
  auto patch = [&](const std::string& request, const std::string& user) {
    return node_write("patch", "", user, R"({"requestObject":)" + request + "}");
  };
  const std::string no_schedule =
      R"({"key":"node.kubernetes.io/unreachable","effect":"NoSchedule","timeAdded":"2026-03-01T02:14:00Z"})";
  const std::string no_execute =
      R"({"key":"node.kubernetes.io/unreachable","effect":"NoExecute","timeAdded":"2026-03-01T02:14:05Z"})";
  query::ChangeDescriber d;
  EXPECT_EQ(d.describe(node_write("update", "status", nc,
                                  R"({"requestObject":{"status":{"conditions":[)"
                                  R"({"type":"MemoryPressure","status":"Unknown"},)"
                                  R"({"type":"Ready","status":"Unknown"}]}}})")),
            "Ready=Unknown");
  EXPECT_EQ(d.describe(patch(R"({"spec":{"taints":[)" + no_schedule + "]}}", nc)),
            "taints node.kubernetes.io/unreachable:NoSchedule");
  EXPECT_EQ(d.describe(patch(R"({"spec":{"taints":[)" + no_schedule + "," + no_execute + "]}}", nc)),
            "taint node.kubernetes.io/unreachable:NoExecute added");
  EXPECT_EQ(d.describe(patch(R"({"spec":{"taints":null}})", nc)),
            "taint node.kubernetes.io/unreachable:NoExecute removed, taint "
            "node.kubernetes.io/unreachable:NoSchedule removed");
  EXPECT_EQ(d.describe(patch(R"({"spec":{"unschedulable":true}})", "alice")), "cordoned");
  EXPECT_EQ(d.describe(patch(R"({"spec":{"unschedulable":null}})", "alice")), "uncordoned");
  // A label change says nothing; a refused write says nothing.
  EXPECT_EQ(d.describe(patch(R"({"metadata":{"labels":{"a":"b"}}})", "alice")), "");
  StoredAudit refused = patch(R"({"spec":{"unschedulable":true}})", "bob");
  refused.code = 403;
  EXPECT_EQ(d.describe(refused), "");
  // At Metadata level nothing is known but that the Node was written.
  EXPECT_EQ(d.describe(node_write("patch", "", "alice", "")), "");
}

TEST(TimelineView, OneRowPerRequestKeepsTheLastStage) {
  auto row = [](const std::string& id, Stage stage, Micros t) {
    StoredAudit r;
    r.audit_id = id;
    r.stage = stage;
    r.time = t;
    return r;
  };
  auto out = query::one_row_per_request({row("a", Stage::kRequestReceived, 1),
                                         row("b", Stage::kRequestReceived, 2),
                                         row("a", Stage::kResponseComplete, 3),
                                         row("c", Stage::kResponseStarted, 4)});
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[0].audit_id, "b");
  EXPECT_EQ(out[0].stage, Stage::kRequestReceived);  // the last stage seen
  EXPECT_EQ(out[1].audit_id, "a");
  EXPECT_EQ(out[1].stage, Stage::kResponseComplete);
  EXPECT_EQ(out[2].audit_id, "c");
}

TEST(TimelineView, KubeletHeartbeatsAreTheNodesOwn) {
  StoredAudit lease = node_write("update", "", "system:node:worker-3", "");
  lease.resource = "leases";
  EXPECT_TRUE(query::is_kubelet_heartbeat(lease, "worker-3"));
  EXPECT_TRUE(query::is_kubelet_heartbeat(node_write("patch", "status", "system:node:worker-3", ""),
                                          "worker-3"));
  EXPECT_TRUE(
      query::is_kubelet_heartbeat(node_write("get", "", "system:node:worker-3", ""), "worker-3"));
  // Not heartbeats: another kubelet, a controller, the kubelet changing its Node's spec.
  EXPECT_FALSE(query::is_kubelet_heartbeat(node_write("patch", "status", "system:node:worker-1", ""),
                                           "worker-3"));
  EXPECT_FALSE(query::is_kubelet_heartbeat(
      node_write("update", "status", "system:serviceaccount:kube-system:node-controller", ""),
      "worker-3"));
  EXPECT_FALSE(
      query::is_kubelet_heartbeat(node_write("patch", "", "system:node:worker-3", ""), "worker-3"));
}

}  // namespace
}  // namespace ktrail
