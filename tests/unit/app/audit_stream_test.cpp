// stream_audit pages back in time and replays oldest first: with small pages, crowded
// timestamps, limits and several shards it must give exactly what one find_audit gives.
#include "app/audit_stream.h"

#include <gtest/gtest.h>

#include <random>

#include "core/audit_json.h"
#include "query/request_stages.h"
#include "tests/support/test_env.h"

namespace ktrail::app {
namespace {

AuditEvent event(const std::string& id, Micros at, const std::string& user) {
  const std::string ts = format_rfc3339(at);
  const std::string json =
      R"({"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata","auditID":")" + id +
      R"(","stage":"ResponseComplete","requestURI":"/api/v1/pods","verb":"list","user":{"username":")" +
      user + R"("},"requestReceivedTimestamp":")" + ts + R"(","stageTimestamp":")" + ts + R"("})";
  auto decoded = decode_audit_document(json);
  EXPECT_TRUE(decoded.is_ok());
  return decoded->events.at(0);
}

// Every field of each row (what the spill must give back as it was read).
std::vector<std::string> ids_of(const std::vector<StoredAudit>& rows) {
  std::vector<std::string> out;
  for (const auto& r : rows) {
    std::string line = r.audit_id + "@" + std::to_string(r.time) + " " +
                       std::to_string(r.received) + " " + to_string(r.stage) + " " +
                       to_string(r.level) + " " + to_string(r.level_received) + " " +
                       std::to_string(r.code);
    for (const std::string* s : {&r.cluster, &r.verb, &r.user, &r.groups, &r.impersonated_user,
                                 &r.resource, &r.subresource, &r.namespace_, &r.name,
                                 &r.source_ips, &r.user_agent, &r.event}) {
      line += "|" + *s;
    }
    out.push_back(line);
  }
  return out;
}

class AuditStream : public ::testing::Test {
 protected:
  void SetUp() override {
    // 600 events over 120 distinct times: runs of up to 40 on one time, so pages of 7 cut
    // through crowds again and again; the second shard repeats some of the first's.
    std::mt19937 rng(7);
    const Micros start = *parse_rfc3339("2026-01-01T00:00:00Z");
    std::vector<AuditEvent> a;
    std::vector<AuditEvent> b;
    Micros t = start;
    for (int i = 0; i < 600; ++i) {
      if (rng() % 5 == 0 || (i > 100 && i < 140)) {
        // same time as the previous event (a crowd from 100 to 140)
      } else {
        t += 1000;
      }
      const std::string user = i % 3 == 0 ? "alice" : "bob";
      AuditEvent e = event("id-" + std::to_string(i), t, user);
      (i % 2 == 0 ? a : b).push_back(e);
      if (i % 11 == 0) {
        (i % 2 == 0 ? b : a).push_back(e);  // also in the other shard
      }
    }
    for (const auto& [name, events] : {std::pair{"a.db", &a}, std::pair{"b.db", &b}}) {
      auto store = Store::open(dir_.file(name), StoreOptions{});
      ASSERT_TRUE(store.is_ok());
      Batch batch;
      batch.audit = *events;
      ASSERT_TRUE((*store)->write_batch(batch).is_ok());
    }
  }

  void expect_same(const std::vector<std::string>& paths, AuditFilter filter,
                   std::size_t page_rows) {
    StoreOptions options;
    options.read_only = true;
    auto shards = ShardSet::open(paths, options);
    ASSERT_TRUE(shards.is_ok());
    std::size_t expected_matched = 0;
    auto expected = shards->find_audit(filter, &expected_matched);
    ASSERT_TRUE(expected.is_ok());
    std::vector<StoredAudit> got;
    std::size_t matched = 0;
    AuditStreamOptions o;
    o.page_rows = page_rows;
    Status s = stream_audit(*shards, filter, o, &matched, [&](const StoredAudit& r) {
      got.push_back(r);
      return Status::ok();
    });
    ASSERT_TRUE(s.is_ok()) << s.to_string();
    EXPECT_EQ(ids_of(got), ids_of(*expected))
        << "limit " << filter.limit << ", page " << page_rows << ", shards " << paths.size();
    if (filter.limit == 0 || paths.size() == 1) {
      // With a limit over several shards, both counts are ShardSet's estimate of different reads.
      EXPECT_EQ(matched, expected_matched);
    }
  }

  testing::TempDir dir_;
};

TEST_F(AuditStream, SmallPagesGiveTheWholeAnswerOnceOldestFirst) {
  for (std::size_t page : {1u, 3u, 7u, 64u, 10000u}) {
    for (std::size_t limit : {0u, 1u, 5u, 50u, 299u, 1000u}) {
      AuditFilter f;
      f.limit = limit;
      expect_same({dir_.file("a.db")}, f, page);
      expect_same({dir_.file("a.db"), dir_.file("b.db")}, f, page);
    }
  }
  // With the events, the longest texts, read back whole.
  AuditFilter with_events;
  with_events.with_event = true;
  expect_same({dir_.file("a.db"), dir_.file("b.db")}, with_events, 7);
}

TEST_F(AuditStream, FiltersAndWindowsPageTheSameWay) {
  const Micros start = *parse_rfc3339("2026-01-01T00:00:00Z");
  AuditFilter f;
  f.user_or_impersonated = "alice";
  expect_same({dir_.file("a.db"), dir_.file("b.db")}, f, 5);
  f = AuditFilter{};
  f.since = start + 50'000;
  f.until = start + 200'000;
  expect_same({dir_.file("a.db")}, f, 4);
  f.limit = 17;
  expect_same({dir_.file("a.db"), dir_.file("b.db")}, f, 4);
}

TEST_F(AuditStream, AnErrorFromTheCallbackStopsIt) {
  StoreOptions options;
  options.read_only = true;
  auto shards = ShardSet::open({dir_.file("a.db")}, options);
  ASSERT_TRUE(shards.is_ok());
  std::size_t seen = 0;
  AuditStreamOptions o;
  o.page_rows = 10;
  Status s = stream_audit(*shards, AuditFilter{}, o, nullptr, [&](const StoredAudit&) {
    return ++seen == 25 ? io_error("closed pipe") : Status::ok();
  });
  EXPECT_EQ(s.code(), ErrorCode::kIo);
  EXPECT_EQ(seen, 25u);
}

// Requests at several stages: one row per request, the limit counting requests, whatever the
// page size.
class AuditStreamStages : public ::testing::Test {
 protected:
  static AuditEvent staged(const std::string& id, const std::string& stage, Micros received,
                           Micros at) {
    const std::string json =
        R"({"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata","auditID":")" + id +
        R"(","stage":")" + stage +
        R"(","requestURI":"/api/v1/pods","verb":"watch","user":{"username":"u"},)"
        R"("requestReceivedTimestamp":")" +
        format_rfc3339(received) + R"(","stageTimestamp":")" + format_rfc3339(at) + R"("})";
    auto decoded = decode_audit_document(json);
    EXPECT_TRUE(decoded.is_ok()) << json;
    return decoded->events.at(0);
  }

  void SetUp() override {
    // 400 requests: most received and completed 2 ms later; every fifth only received; every
    // seventh a watch (ResponseStarted, then complete 300 ms later, after many others);
    // every thirteenth panics; runs of requests share one microsecond.
    std::mt19937 rng(11);
    const Micros start = *parse_rfc3339("2026-01-01T00:00:00Z");
    Batch batch;
    Micros t = start;
    for (int i = 0; i < 400; ++i) {
      if (rng() % 4 != 0) {
        t += 1000;
      }
      const std::string id = "req-" + std::to_string(i);
      batch.audit.push_back(staged(id, "RequestReceived", t, t));
      if (i % 5 == 0) {
        ++requests_;
        continue;
      }
      if (i % 7 == 0) {
        batch.audit.push_back(staged(id, "ResponseStarted", t, t + 1000));
        batch.audit.push_back(staged(id, "ResponseComplete", t, t + 300'000));
      } else {
        // Some complete in the microsecond they were received.
        batch.audit.push_back(
            staged(id, i % 13 == 0 ? "Panic" : "ResponseComplete", t, i % 3 == 0 ? t : t + 2000));
      }
      ++requests_;
    }
    auto store = Store::open(dir_.file("s.db"), StoreOptions{});
    ASSERT_TRUE(store.is_ok());
    ASSERT_TRUE((*store)->write_batch(batch).is_ok());
  }

  std::size_t requests_ = 0;
  testing::TempDir dir_;
};

TEST_F(AuditStreamStages, OneRowPerRequestAtAnyPageSize) {
  StoreOptions options;
  options.read_only = true;
  auto shards = ShardSet::open({dir_.file("s.db")}, options);
  ASSERT_TRUE(shards.is_ok());
  auto everything = shards->find_audit(AuditFilter{});
  ASSERT_TRUE(everything.is_ok());
  ASSERT_GT(everything->size(), requests_);
  const auto all_requests = query::one_row_per_request(*everything);
  ASSERT_EQ(all_requests.size(), requests_);
  std::size_t panics = 0;
  std::size_t received_only = 0;
  for (const auto& r : all_requests) {
    panics += r.stage == Stage::kPanic ? 1 : 0;
    received_only += r.stage == Stage::kRequestReceived ? 1 : 0;
  }
  EXPECT_GT(panics, 0u);
  EXPECT_EQ(received_only, 80u);
  for (std::size_t page : {1u, 2u, 5u, 64u, 10000u}) {
    for (std::size_t limit : {0u, 1u, 7u, 100u, 399u, 400u, 5000u}) {
      AuditFilter f;
      f.limit = limit;
      std::vector<StoredAudit> expected = all_requests;
      if (limit > 0 && expected.size() > limit) {
        expected.erase(expected.begin(),
                       expected.end() - static_cast<std::ptrdiff_t>(limit));
      }
      std::vector<StoredAudit> got;
      std::size_t matched = 0;
      AuditStreamOptions o;
      o.page_rows = page;
      o.last_stage_only = true;
      Status s = stream_audit(*shards, f, o, &matched, [&](const StoredAudit& r) {
        got.push_back(r);
        return Status::ok();
      });
      ASSERT_TRUE(s.is_ok()) << s.to_string();
      std::vector<std::string> want_ids;
      std::vector<std::string> got_ids;
      for (const auto& r : expected) {
        want_ids.push_back(r.audit_id + "/" + to_string(r.stage));
      }
      for (const auto& r : got) {
        got_ids.push_back(r.audit_id + "/" + to_string(r.stage));
      }
      EXPECT_EQ(got_ids, want_ids) << "limit " << limit << ", page " << page;
      EXPECT_EQ(matched, limit > 0 && limit < requests_ ? limit + 1 : requests_)
          << "limit " << limit << ", page " << page;
    }
  }
}

}  // namespace
}  // namespace ktrail::app
