#include "queue/kafka_keys.h"

#include <gtest/gtest.h>

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

}  // namespace
}  // namespace ktrail::kafka
