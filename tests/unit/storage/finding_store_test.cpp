// Findings in the store: written with their batch, kept once per (rule, auditID, stage) across
// replays, and read back by the filters of `ktrail findings`.
#include <gtest/gtest.h>

#include "storage/store.h"
#include "tests/unit/storage/store_test_util.h"

namespace ktrail {
namespace {

using testing::TempDir;

Finding finding(const char* rule, const char* priority, const char* audit_id, Micros time,
                const char* user, const char* imp = "") {
  Finding f;
  f.rule = rule;
  f.priority = priority;
  f.audit_id = audit_id;
  f.stage = Stage::kResponseComplete;
  f.time = time;
  f.user = user;
  f.impersonated_user = imp;
  f.namespace_ = "prod";
  f.resource = "pods";
  f.name = "web-1";
  f.output = std::string("rule ") + rule + " by " + user;
  f.tags = {"k8s", "falco:Create Privileged Pod"};
  return f;
}

TEST(FindingStore, StoresOnceAcrossReplaysAndFilters) {
  TempDir dir;
  auto opened = Store::open(dir.file("f.db"), StoreOptions{});
  ASSERT_TRUE(opened.is_ok()) << opened.status().to_string();
  Store& store = **opened;

  Batch batch;
  batch.findings = {finding("Privileged pod", "warning", "a-1", 1000, "alice"),
                    finding("Exec into pod", "NOTICE", "a-2", 2000, "system:admin", "bob"),
                    finding("Privileged pod", "WARNING", "a-3", 3000, "carol")};
  ASSERT_TRUE(store.write_batch(batch).is_ok());
  ASSERT_TRUE(store.write_batch(batch).is_ok());  // a replay
  batch.findings[0].stage = Stage::kRequestReceived;  // another stage: another finding
  batch.findings.resize(1);
  ASSERT_TRUE(store.write_batch(batch).is_ok());

  auto all = store.find_findings(FindingFilter{});
  ASSERT_TRUE(all.is_ok()) << all.status().to_string();
  ASSERT_EQ(all->size(), 4u);
  EXPECT_EQ((*all)[0].audit_id, "a-1");
  EXPECT_EQ((*all)[0].priority, "WARNING");  // canonical name
  EXPECT_EQ((*all)[0].tags, (std::vector<std::string>{"k8s", "falco:Create Privileged Pod"}));
  EXPECT_EQ((*all)[0].output, "rule Privileged pod by alice");

  FindingFilter by_user;
  by_user.user = "bob";  // the impersonated user counts
  auto bob = store.find_findings(by_user);
  ASSERT_TRUE(bob.is_ok());
  ASSERT_EQ(bob->size(), 1u);
  EXPECT_EQ((*bob)[0].rule, "Exec into pod");

  FindingFilter severe;
  severe.max_severity = priority_rank("WARNING");
  severe.since = 2500;
  auto warn = store.find_findings(severe);
  ASSERT_TRUE(warn.is_ok());
  ASSERT_EQ(warn->size(), 1u);
  EXPECT_EQ((*warn)[0].audit_id, "a-3");

  auto one = store.get_finding((*warn)[0].id);
  ASSERT_TRUE(one.is_ok());
  EXPECT_EQ(one->user, "carol");
  EXPECT_EQ(store.get_finding(999).status().code(), ErrorCode::kNotFound);

  auto counts = store.counts();
  ASSERT_TRUE(counts.is_ok());
  EXPECT_EQ(counts->findings, 4);
}

}  // namespace
}  // namespace ktrail
