#include "queue/kafka_keys.h"

#include <gtest/gtest.h>
#include <librdkafka/rdkafka.h>

#include <random>
#include <set>

#include "queue/kafka_handles.h"

namespace ktrail::kafka {
namespace {

AuditEvent audit(const std::string& user, const std::string& verb, const std::string& resource,
                 const std::string& ns, const std::string& name, const std::string& sub = "") {
  AuditEvent e;
  e.audit_id = "id-" + verb + "-" + name;
  e.user.username = user;
  e.verb = verb;
  ObjectRef ref;
  ref.resource = resource;
  ref.namespace_ = ns;
  ref.name = name;
  ref.subresource = sub;
  e.object_ref = ref;
  return e;
}

TEST(WorkloadOfPod, StripsGeneratedSuffixes) {
  EXPECT_EQ(workload_of_pod("web-5d9c7b8f6-x2x4k"), "web");
  EXPECT_EQ(workload_of_pod("my-api-server-7c9f8b6d4-lq2zt"), "my-api-server");
  EXPECT_EQ(workload_of_pod("db-0"), "db");
  EXPECT_EQ(workload_of_pod("kafka-12"), "kafka");
  EXPECT_EQ(workload_of_pod("kube-proxy-x2x4k"), "kube-proxy");
  EXPECT_EQ(workload_of_pod("agent-x2x4k"), "agent");
}

TEST(WorkloadOfPod, KeepsHandNamedPods) {
  EXPECT_EQ(workload_of_pod("debug"), "debug");
  EXPECT_EQ(workload_of_pod("my-pod"), "my-pod");
  EXPECT_EQ(workload_of_pod("nginx-abcde"), "nginx-abcde");  // vowels: not a generated suffix
  EXPECT_EQ(workload_of_pod(""), "");
  EXPECT_EQ(workload_of_pod("-"), "-");
}

TEST(PartitionKey, DrainIsKeyedByItsActor) {
  EXPECT_EQ(partition_key(audit("alice", "patch", "nodes", "", "n1")), "actor/alice");
  EXPECT_EQ(
      partition_key(audit("alice", "create", "pods", "ns", "web-5d9c7b8f6-x2x4k", "eviction")),
      "actor/alice");
}

TEST(PartitionKey, NodeSignalsAreKeyedByNode) {
  EXPECT_EQ(partition_key(audit("system:node:n1", "patch", "nodes", "", "n1", "status")),
            "node/n1");
  EXPECT_EQ(partition_key(audit("system:serviceaccount:kube-system:node-controller", "update",
                                "nodes", "", "n1")),
            "node/n1");
  EXPECT_EQ(partition_key(audit("alice", "get", "nodes", "", "n1")), "node/n1");
}

TEST(PartitionKey, PodsAreKeyedByWorkload) {
  EXPECT_EQ(partition_key(
                audit("system:node:n1", "patch", "pods", "prod", "web-5d9c7b8f6-x2x4k", "status")),
            "workload/prod/web");
  EXPECT_EQ(partition_key(audit("bob", "delete", "pods", "prod", "web-5d9c7b8f6-bcdfz")),
            "workload/prod/web");
}

TEST(PartitionKey, EverythingElseSpreadsByAuditId) {
  AuditEvent e = audit("bob", "get", "secrets", "prod", "s");
  EXPECT_EQ(partition_key(e), e.audit_id);
  AuditEvent nonresource;
  nonresource.audit_id = "abc";
  EXPECT_EQ(partition_key(nonresource), "abc");
  AuditEvent list_pods = audit("bob", "list", "pods", "prod", "");
  EXPECT_EQ(partition_key(list_pods), list_pods.audit_id);
}

TEST(PartitionKey, KubeEvents) {
  KubeEvent e;
  e.object.kind = "Node";
  e.object.name = "n1";
  EXPECT_EQ(partition_key(e), "node/n1");
  e.object = {"Pod", "prod", "web-5d9c7b8f6-x2x4k", "", "v1", ""};
  EXPECT_EQ(partition_key(e), "workload/prod/web");
  e.object = {"ReplicaSet", "prod", "web-5d9c7b8f6", "", "apps/v1", ""};
  EXPECT_EQ(partition_key(e), "workload/prod/web");
  e.object = {"Deployment", "prod", "web", "", "apps/v1", ""};
  EXPECT_EQ(partition_key(e), "workload/prod/web");
  e.object = {"ConfigMap", "prod", "cfg", "", "v1", ""};
  EXPECT_EQ(partition_key(e), "prod/ConfigMap/cfg");
}

// librdkafka's own partitioner, called on a real topic handle, is the reference.
TEST(PartitionForKey, ChoosesWhatLibrdkafkaChooses) {
  auto conf = make_conf({{"partitioner", kPartitioner}});
  ASSERT_TRUE(conf.is_ok());
  auto rk = make_handle(RD_KAFKA_PRODUCER, std::move(*conf));
  ASSERT_TRUE(rk.is_ok()) << rk.status().to_string();
  rd_kafka_topic_t* rkt = rd_kafka_topic_new(rk->get(), "keys", nullptr);
  ASSERT_NE(rkt, nullptr);
  std::vector<std::string> keys = {"node/worker-3",
                                   "actor/alice@example.com",
                                   "workload/shop/checkout",
                                   "kube-system/Node/n1",
                                   "a",
                                   std::string(1000, 'k'),
                                   "caf\xc3\xa9",
                                   std::string("\0\xff", 2)};
  std::mt19937 random(7);  // fixed seed: the same keys every run
  for (int i = 0; i < 2000; ++i) {
    std::string key(1 + random() % 64, '\0');
    for (char& c : key) c = static_cast<char>(random() % 256);
    keys.push_back(key);
  }
  std::set<std::int32_t> seen;
  for (std::int32_t count : {1, 2, 3, 4, 6, 7, 12, 64, 1000}) {
    for (const std::string& key : keys) {
      const std::int32_t want = rd_kafka_msg_partitioner_consistent_random(
          rkt, key.data(), key.size(), count, nullptr, nullptr);
      const auto got = partition_for_key(key, count);
      ASSERT_TRUE(got.has_value());
      ASSERT_EQ(*got, want) << "key of " << key.size() << " bytes, " << count << " partitions";
      if (count == 12) seen.insert(*got);
    }
  }
  EXPECT_EQ(seen.size(), 12u);  // the keys spread: the comparison covered every partition
  rd_kafka_topic_destroy(rkt);
}

TEST(PartitionForKey, NoKeyOrNoPartitionsHasNoFixedPartition) {
  EXPECT_FALSE(partition_for_key("", 6).has_value());
  EXPECT_FALSE(partition_for_key("node/a", 0).has_value());
  EXPECT_FALSE(partition_for_key("node/a", -3).has_value());
}

TEST(PartitionKeyOfIncident, TheKeyItsSignalsTravelWith) {
  Incident nnr;
  nnr.kind = IncidentKind::kNodeNotReady;
  nnr.key = "node/worker-3";
  nnr.node = "worker-3";
  EXPECT_EQ(partition_key(nnr), "node/worker-3");
  Incident drain = nnr;
  drain.kind = IncidentKind::kNodeDrain;
  drain.actor = "alice@example.com";
  EXPECT_EQ(partition_key(drain), "actor/alice@example.com");
  // The cordon's own key: the same function keys the audit event.
  EXPECT_EQ(partition_key(audit("alice@example.com", "patch", "nodes", "", "worker-3")),
            partition_key(drain));
  drain.actor = "system:serviceaccount:kube-system:node-controller";
  EXPECT_EQ(partition_key(drain), "node/worker-3");
  drain.actor.clear();  // seen through Events only
  EXPECT_EQ(partition_key(drain), "node/worker-3");
  Incident storm;
  storm.kind = IncidentKind::kRestartStorm;
  storm.key = "shop/checkout";
  storm.namespace_ = "shop";
  storm.workload = "checkout";
  EXPECT_EQ(partition_key(storm), "workload/shop/checkout");
  EXPECT_EQ(partition_key(audit("system:node:w1", "patch", "pods", "shop",
                                "checkout-7d9f8b6c5-x2x9z", "status")),
            partition_key(storm));
  storm.kind = IncidentKind::kSchedulingFailure;
  EXPECT_EQ(partition_key(storm), "workload/shop/checkout");
  storm.kind = IncidentKind::kImagePullFailure;
  EXPECT_EQ(partition_key(storm), "workload/shop/checkout");
}

}  // namespace
}  // namespace ktrail::kafka
