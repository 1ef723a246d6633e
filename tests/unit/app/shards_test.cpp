#include "app/shards.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "core/audit_json.h"
#include "tests/support/test_env.h"

namespace ktrail::app {
namespace {

AuditEvent event(const std::string& id, int second) {
  const std::string ts =
      "2026-01-01T00:00:" + std::string(second < 10 ? "0" : "") + std::to_string(second) + "Z";
  const std::string json =
      R"({"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata","auditID":")" + id +
      R"(","stage":"ResponseComplete","requestURI":"/api/v1/pods","verb":"list","user":{"username":"u"},)"
      R"("requestReceivedTimestamp":")" +
      ts + R"(","stageTimestamp":")" + ts + R"("})";
  auto decoded = decode_audit_document(json);
  EXPECT_TRUE(decoded.is_ok());
  return decoded->events.at(0);
}

void write_shard(const std::string& path, const std::vector<AuditEvent>& events) {
  auto store = Store::open(path, StoreOptions{});
  ASSERT_TRUE(store.is_ok()) << store.status().to_string();
  Batch b;
  b.audit = events;
  ASSERT_TRUE((*store)->write_batch(b).is_ok());
}

TEST(Shards, DirectoryExpandsToItsStoreFiles) {
  testing::TempDir dir;
  write_shard(dir.file("b.db"), {event("x", 1)});
  write_shard(dir.file("a.db"), {event("y", 2)});
  testing::write_file(dir.file("notes.txt"), "not a store");
  auto paths = expand_db_paths({dir.path()});
  ASSERT_TRUE(paths.is_ok());
  EXPECT_EQ(*paths, (std::vector<std::string>{dir.file("a.db"), dir.file("b.db")}));
  auto again = expand_db_paths({dir.path(), dir.file("a.db")});
  ASSERT_TRUE(again.is_ok());
  EXPECT_EQ(again->size(), 2u);  // no duplicates
}

TEST(Shards, EmptyDirectoryAndNothingAreErrors) {
  testing::TempDir dir;
  EXPECT_EQ(expand_db_paths({dir.path()}).status().code(), ErrorCode::kNotFound);
  EXPECT_EQ(expand_db_paths({}).status().code(), ErrorCode::kInvalidArgument);
}

TEST(Shards, MergesOldestFirstShowsADuplicateOnceAndLimitsTheMerge) {
  testing::TempDir dir;
  write_shard(dir.file("a.db"), {event("e1", 1), event("e3", 3), event("dup", 5)});
  write_shard(dir.file("b.db"), {event("e2", 2), event("e4", 4), event("dup", 5)});
  StoreOptions options;
  options.read_only = true;
  AuditFilter filter;
  auto rows = find_audit_in_shards({dir.file("a.db"), dir.file("b.db")}, filter, options);
  ASSERT_TRUE(rows.is_ok()) << rows.status().to_string();
  std::vector<std::string> ids;
  for (const auto& r : *rows) {
    ids.push_back(r.audit_id);
  }
  EXPECT_EQ(ids, (std::vector<std::string>{"e1", "e2", "e3", "e4", "dup"}));
  filter.limit = 2;
  rows = find_audit_in_shards({dir.file("a.db"), dir.file("b.db")}, filter, options);
  ASSERT_TRUE(rows.is_ok());
  ASSERT_EQ(rows->size(), 2u);
  EXPECT_EQ((*rows)[0].audit_id, "e4");
  EXPECT_EQ((*rows)[1].audit_id, "dup");
}

TEST(Shards, MissingShardIsAnErrorNamingIt) {
  testing::TempDir dir;
  StoreOptions options;
  options.read_only = true;
  auto rows = find_audit_in_shards({dir.file("missing.db")}, AuditFilter{}, options);
  ASSERT_FALSE(rows.is_ok());
  EXPECT_NE(rows.status().message().find("missing.db"), std::string::npos);
}

}  // namespace
}  // namespace ktrail::app
