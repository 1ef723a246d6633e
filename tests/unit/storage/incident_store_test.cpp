// Incidents in the store: upserted across batches in the batch's transaction, members linked
// and merged by reference, and read back by the filters of `ktrail incidents` and timelines.
#include <gtest/gtest.h>

#include "storage/store.h"
#include "tests/unit/storage/store_test_util.h"

namespace ktrail {
namespace {

using testing::TempDir;

Micros t(const char* text) { return *parse_rfc3339(text); }

IncidentMember member(const char* time, MemberSource source, const char* ref, const char* reason,
                      const char* object) {
  return {t(time), source, ref, reason, object, "message of " + std::string(ref)};
}

Incident node_incident() {
  Incident i;
  i.kind = IncidentKind::kNodeNotReady;
  i.key = "node/worker-3";
  i.start = t("2026-03-01T02:14:00Z");
  i.id = make_incident_id(i.kind, i.key, i.start);
  i.node = "worker-3";
  i.title = "node worker-3 not ready";
  i.members = {member("2026-03-01T02:14:00Z", MemberSource::kEvent, "uid-1", "NodeNotReady",
                      "Node/worker-3"),
               member("2026-03-01T02:14:00Z", MemberSource::kAudit, "audit-1", "update status",
                      "nodes/status/worker-3")};
  i.count = 2;
  return i;
}

Incident storm() {
  Incident i;
  i.kind = IncidentKind::kRestartStorm;
  i.key = "shop/checkout";
  i.start = t("2026-03-01T09:00:31Z");
  i.end = t("2026-03-01T09:58:00Z");
  i.id = make_incident_id(i.kind, i.key, i.start);
  i.namespace_ = "shop";
  i.workload = "checkout";
  i.workload_kind = "Deployment";
  i.cause = "liveness-probe";
  i.title = "Deployment shop/checkout restarting";
  i.objects = {"shop/checkout-7d9f8b6c5-x2x9z"};
  i.members = {member("2026-03-01T09:00:31Z", MemberSource::kEvent, "uid-9", "BackOff",
                      "Pod/shop/checkout-7d9f8b6c5-x2x9z")};
  i.count = 1;
  return i;
}

TEST(IncidentStore, UpsertsAcrossBatchesAndMergesMembers) {
  TempDir dir;
  auto opened = Store::open(dir.file("k.db"), StoreOptions{});
  ASSERT_TRUE(opened.is_ok()) << opened.status().to_string();
  Store& store = **opened;

  Batch first;
  first.origin = "test";
  first.incidents = {node_incident(), storm()};
  ASSERT_TRUE(store.write_batch(first).is_ok());

  // The node incident goes on: a new member, the first Event updated in place, then closed.
  Incident later = node_incident();
  later.members = {member("2026-03-01T02:14:30Z", MemberSource::kEvent, "uid-1", "NodeNotReady",
                          "Node/worker-3"),
                   member("2026-03-01T02:19:00Z", MemberSource::kEvent, "uid-2",
                          "TaintManagerEviction", "Pod/shop/checkout-7d9f8b6c5-x2x9z")};
  later.objects = {"shop/checkout-7d9f8b6c5-x2x9z"};
  later.replacements = {"shop/checkout-7d9f8b6c5-b8wvn -> worker-1"};
  later.end = t("2026-03-01T02:41:00Z");
  later.count = 3;
  later.title = "node worker-3 not ready, 1 pod evicted";
  Batch second;
  second.incidents = {later};
  ASSERT_TRUE(store.write_batch(second).is_ok());

  auto shown = store.get_incident(later.id);
  ASSERT_TRUE(shown.is_ok()) << shown.status().to_string();
  EXPECT_EQ(shown->title, later.title);
  ASSERT_TRUE(shown->end.has_value());
  EXPECT_EQ(*shown->end, t("2026-03-01T02:41:00Z"));
  EXPECT_EQ(shown->objects, later.objects);
  EXPECT_EQ(shown->replacements, later.replacements);
  ASSERT_EQ(shown->members.size(), 3u);
  EXPECT_EQ(shown->count, 3);
  EXPECT_EQ(shown->members[0].ref, "audit-1");  // time-ordered, then by ref
  EXPECT_EQ(shown->members[0].source, MemberSource::kAudit);
  EXPECT_EQ(shown->members[1].ref, "uid-1");
  EXPECT_EQ(shown->members[1].time, t("2026-03-01T02:14:30Z"));  // updated in place
  EXPECT_EQ(shown->members[2].reason, "TaintManagerEviction");

  EXPECT_EQ(store.get_incident("nope").status().code(), ErrorCode::kNotFound);
  auto counts = store.counts();
  ASSERT_TRUE(counts.is_ok());
  EXPECT_EQ(counts->incidents, 2);
}

TEST(IncidentStore, FiltersByKindOpenTimeNodeNamespacePodActor) {
  TempDir dir;
  auto opened = Store::open(dir.file("k.db"), StoreOptions{});
  ASSERT_TRUE(opened.is_ok());
  Store& store = **opened;
  Incident drain;
  drain.kind = IncidentKind::kNodeDrain;
  drain.key = "node/worker-2";
  drain.start = t("2026-03-01T10:00:00Z");
  drain.id = make_incident_id(drain.kind, drain.key, drain.start);
  drain.node = "worker-2";
  drain.actor = "alice@example.com";
  drain.objects = {"payments/ledger-1", "shop/cart-5c8d9b7f64-w2qzd"};
  Batch b;
  b.incidents = {node_incident(), storm(), drain};
  ASSERT_TRUE(store.write_batch(b).is_ok());

  auto ids = [&](IncidentFilter f) {
    std::vector<std::string> out;
    auto found = store.find_incidents(f);
    EXPECT_TRUE(found.is_ok()) << found.status().to_string();
    if (found) {
      for (const auto& i : *found) out.push_back(to_string(i.kind));
    }
    return out;
  };
  using V = std::vector<std::string>;
  EXPECT_EQ(ids({}), (V{"node-not-ready", "restart-storm", "node-drain"}));
  IncidentFilter f;
  f.kind = IncidentKind::kRestartStorm;
  EXPECT_EQ(ids(f), V{"restart-storm"});
  f = {};
  f.open_only = true;
  EXPECT_EQ(ids(f), (V{"node-not-ready", "node-drain"}));
  f = {};
  f.since = t("2026-03-01T09:59:00Z");  // the storm ended before; the open ones still go on
  EXPECT_EQ(ids(f), (V{"node-not-ready", "node-drain"}));
  f = {};
  f.until = t("2026-03-01T03:00:00Z");
  EXPECT_EQ(ids(f), V{"node-not-ready"});
  f = {};
  f.node = "worker-2";
  EXPECT_EQ(ids(f), V{"node-drain"});
  f = {};
  f.namespace_ = "payments";  // a pod of the drain lives there
  EXPECT_EQ(ids(f), V{"node-drain"});
  f = {};
  f.namespace_ = "sh%";  // LIKE wildcards are literal
  EXPECT_TRUE(ids(f).empty());
  f = {};
  f.pod = "shop/checkout-7d9f8b6c5-x2x9z";
  EXPECT_EQ(ids(f), V{"restart-storm"});
  f = {};
  f.actor = "alice@example.com";
  EXPECT_EQ(ids(f), V{"node-drain"});
  f = {};
  f.limit = 1;
  EXPECT_EQ(ids(f), V{"node-drain"});  // the most recent
}

TEST(IncidentStore, ADeadLetteredEventDoesNotDisturbTheIncidentsOfItsBatch) {
  TempDir dir;
  auto opened = Store::open(dir.file("k.db"), StoreOptions{});
  ASSERT_TRUE(opened.is_ok());
  Store& store = **opened;
  Batch b;
  b.incidents = {node_incident()};
  KubeEvent bad;  // neither uid nor name: dead-lettered with its reason
  bad.json = "{}";
  b.events.push_back(bad);
  auto written = store.write_batch(b);
  ASSERT_TRUE(written.is_ok()) << written.status().to_string();
  EXPECT_EQ(written->rejected, 1u);
  auto found = store.find_incidents({});
  ASSERT_TRUE(found.is_ok());
  ASSERT_EQ(found->size(), 1u);
  EXPECT_EQ((*found)[0].id, node_incident().id);
}

TEST(IncidentStore, FindsKubeEventsOfANode) {
  TempDir dir;
  auto opened = Store::open(dir.file("k.db"), StoreOptions{});
  ASSERT_TRUE(opened.is_ok());
  Store& store = **opened;
  auto event = [](const char* uid, const char* kind, const char* ns, const char* name,
                  const char* host, const char* time) {
    KubeEvent e;
    e.uid = uid;
    e.namespace_ = ns;
    e.name = std::string(name) + ".1";
    e.object.kind = kind;
    e.object.namespace_ = ns;
    e.object.name = name;
    e.source_host = host;
    e.reason = "R";
    e.first_time = e.last_time = t(time);
    e.json = "{}";
    return e;
  };
  Batch b;
  b.events = {event("1", "Node", "", "worker-3", "", "2026-03-01T02:14:00Z"),
              event("2", "Pod", "shop", "web-1", "worker-3", "2026-03-01T02:15:00Z"),
              event("3", "Pod", "shop", "web-2", "worker-1", "2026-03-01T02:16:00Z"),
              event("4", "Node", "", "worker-3", "", "2026-03-02T02:14:00Z")};
  ASSERT_TRUE(store.write_batch(b).is_ok());
  KubeEventFilter f;
  f.node = "worker-3";
  f.since = t("2026-03-01T00:00:00Z");
  f.until = t("2026-03-01T23:59:59Z");
  auto found = store.find_kube_events(f);
  ASSERT_TRUE(found.is_ok()) << found.status().to_string();
  ASSERT_EQ(found->size(), 2u);
  EXPECT_EQ((*found)[0].uid, "1");
  EXPECT_EQ((*found)[1].uid, "2");
  f = {};
  f.namespace_ = "shop";
  f.object_name = "web-2";
  found = store.find_kube_events(f);
  ASSERT_TRUE(found.is_ok());
  ASSERT_EQ(found->size(), 1u);
  EXPECT_EQ((*found)[0].source_host, "worker-1");
}

}  // namespace
}  // namespace ktrail
