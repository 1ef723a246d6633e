// Store::find_audit: each filter, time range, limit and order.
#include <gtest/gtest.h>

#include "storage/store.h"
#include "tests/unit/storage/store_test_util.h"

namespace ktrail {
namespace {

using testing::make_event;

class FindAuditTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = Store::open(dir_.file("k.db"), StoreOptions{});
    ASSERT_TRUE(store.is_ok());
    store_ = std::move(*store);
    Batch b;
    // id, user, verb, resource, namespace, name, code at minute i.
    struct Row {
      const char *id, *user, *verb, *resource, *ns, *name;
      int code;
    };
    const Row rows[] = {
        {"e0", "alice", "get", "pods", "default", "web", 200},
        {"e1", "bob", "list", "secrets", "prod", "", 200},
        {"e2", "alice", "delete", "pods", "prod", "db", 200},
        {"e3", "system:serviceaccount:kube-system:node-controller", "patch", "nodes", "", "node-1",
         200},
        {"e4", "bob", "get", "secrets", "prod", "token", 403},
        {"e5", "alice", "get", "pods", "default", "web", 404},
    };
    int minute = 0;
    for (const Row& r : rows) {
      char t[64];
      std::snprintf(t, sizeof t, "2026-03-01T10:%02d:00.000000Z", minute++);
      b.audit.push_back(make_event(r.id, "ResponseComplete", t, t, r.user, r.verb, r.resource, r.ns,
                                   r.name, r.code));
    }
    ASSERT_TRUE(store_->write_batch(b).is_ok());
  }

  std::string ids(const AuditFilter& f) {
    auto rows = store_->find_audit(f);
    EXPECT_TRUE(rows.is_ok()) << rows.status().to_string();
    std::string out;
    for (const auto& r : *rows) {
      out += (out.empty() ? "" : ",") + r.audit_id;
    }
    return out;
  }

  testing::TempDir dir_;
  std::unique_ptr<Store> store_;
};

TEST_F(FindAuditTest, NoFilterReturnsAllOldestFirst) { EXPECT_EQ(ids({}), "e0,e1,e2,e3,e4,e5"); }

TEST_F(FindAuditTest, EachFilter) {
  AuditFilter f;
  f.user = "alice";
  EXPECT_EQ(ids(f), "e0,e2,e5");
  f = {};
  f.verb = "get";
  EXPECT_EQ(ids(f), "e0,e4,e5");
  f = {};
  f.resource = "secrets";
  EXPECT_EQ(ids(f), "e1,e4");
  f = {};
  f.namespace_ = "prod";
  EXPECT_EQ(ids(f), "e1,e2,e4");
  f = {};
  f.name = "web";
  EXPECT_EQ(ids(f), "e0,e5");
  f = {};
  f.code = 403;
  EXPECT_EQ(ids(f), "e4");
  f = {};
  f.user = "bob";
  f.resource = "secrets";
  f.code = 200;
  EXPECT_EQ(ids(f), "e1");
}

TEST_F(FindAuditTest, UnknownValuesMatchNothing) {
  AuditFilter f;
  f.user = "mallory";
  EXPECT_EQ(ids(f), "");
  f = {};
  f.namespace_ = "x'; DROP TABLE audit; --";
  EXPECT_EQ(ids(f), "");
  EXPECT_EQ(ids({}), "e0,e1,e2,e3,e4,e5");
}

TEST_F(FindAuditTest, TimeRangeIsInclusive) {
  AuditFilter f;
  f.since = *parse_rfc3339("2026-03-01T10:02:00Z");
  f.until = *parse_rfc3339("2026-03-01T10:04:00Z");
  EXPECT_EQ(ids(f), "e2,e3,e4");
  f.until.reset();
  EXPECT_EQ(ids(f), "e2,e3,e4,e5");
  f = {};
  f.until = *parse_rfc3339("2026-03-01T10:00:59Z");
  EXPECT_EQ(ids(f), "e0");
}

TEST_F(FindAuditTest, LimitKeepsTheMostRecent) {
  AuditFilter f;
  f.limit = 2;
  EXPECT_EQ(ids(f), "e4,e5");
  f.user = "alice";
  EXPECT_EQ(ids(f), "e2,e5");
}

TEST_F(FindAuditTest, DecodesNormalizedColumns) {
  AuditFilter f;
  f.resource = "nodes";
  auto rows = store_->find_audit(f);
  ASSERT_TRUE(rows.is_ok());
  ASSERT_EQ(rows->size(), 1u);
  const StoredAudit& r = rows->front();
  EXPECT_EQ(r.user, "system:serviceaccount:kube-system:node-controller");
  EXPECT_EQ(r.verb, "patch");
  EXPECT_EQ(r.namespace_, "");
  EXPECT_EQ(r.name, "node-1");
  EXPECT_EQ(r.code, 200);
  EXPECT_EQ(r.stage, Stage::kResponseComplete);
  EXPECT_EQ(r.level, Level::kMetadata);
  EXPECT_EQ(r.time, *parse_rfc3339("2026-03-01T10:03:00Z"));
  EXPECT_TRUE(r.event.empty());
}

}  // namespace
}  // namespace ktrail
