// The benchmark event generator (bench/generator.h) produces what it promises: valid audit
// events of the advertised sizes, increasing stage times, and exact repeats at about the
// configured rate.
#include "bench/generator.h"

#include <gtest/gtest.h>

#include <set>

#include "core/audit_json.h"

namespace ktrail::bench {
namespace {

TEST(Generator, MetadataEventsAreValidAndAboutOneKilobyte) {
  AuditGenerator gen;
  DecodedAudit decoded;
  std::size_t bytes = 0;
  const int n = 5000;
  for (int i = 0; i < n; ++i) {
    const std::string line = gen.next_line();
    bytes += line.size();
    decode_audit_line(line, &decoded);
  }
  ASSERT_TRUE(decoded.rejected.empty()) << decoded.rejected.front().reason;
  ASSERT_EQ(decoded.events.size(), static_cast<std::size_t>(n));
  const double mean = double(bytes) / n;
  EXPECT_GT(mean, 800);
  EXPECT_LT(mean, 2000);
  std::set<std::string> users, ids;
  Micros last = 0;
  for (const auto& e : decoded.events) {
    EXPECT_EQ(e.level, Level::kMetadata);
    EXPECT_FALSE(e.has_request_object || e.has_response_object);
    EXPECT_LE(e.request_received, e.stage_time);
    users.insert(e.user.username);
    if (ids.insert(e.audit_id).second) {
      // Fresh events move forward in time; a repeat carries its original times.
      EXPECT_GT(e.stage_time, last);
      last = e.stage_time;
    }
  }
  EXPECT_GT(users.size(), 50u);
  // About 1% repeats.
  EXPECT_GT(gen.repeats(), 10u);
  EXPECT_LT(gen.repeats(), 150u);
  EXPECT_EQ(ids.size(), n - gen.repeats());
}

TEST(Generator, RequestResponseEventsCarryObjectsOfSeveralKilobytes) {
  GeneratorOptions options;
  options.request_response = true;
  options.object_bytes = 4096;
  options.duplicate_rate = 0;
  AuditGenerator gen(options);
  const std::string body = gen.next_event_list(200);
  auto decoded = decode_audit_document(body);
  ASSERT_TRUE(decoded.is_ok()) << decoded.status().to_string();
  ASSERT_EQ(decoded->events.size(), 200u);
  std::size_t with_response = 0;
  for (const auto& e : decoded->events) {
    EXPECT_EQ(e.level, Level::kRequestResponse);
    if (e.has_response_object) {
      ++with_response;
      EXPECT_GT(e.json.size(), 4096u);
    }
  }
  EXPECT_GT(with_response, 150u);
}

}  // namespace
}  // namespace ktrail::bench
