// The correlation rules file: documented defaults, overrides, and hostile input refused with
// the file and line.
#include <gtest/gtest.h>

#include "processors/correlate/rules.h"

namespace ktrail::correlate {
namespace {

TEST(Rules, EmptyDocumentGivesTheDocumentedDefaults) {
  auto r = parse_rules("");
  ASSERT_TRUE(r.is_ok());
  EXPECT_EQ(r->reorder_window, 120 * kMicrosPerSecond);
  EXPECT_EQ(r->restart_storm.min_restarts, 3);
  EXPECT_EQ(r->restart_storm.window, 30 * 60 * kMicrosPerSecond);
  EXPECT_EQ(r->restart_storm.quiet, 15 * 60 * kMicrosPerSecond);
  EXPECT_EQ(r->scheduling_failure.sustain, 60 * kMicrosPerSecond);
  EXPECT_EQ(r->image_pull_failure.min_failures, 3);
  EXPECT_EQ(r->node_not_ready.replacement_window, 15 * 60 * kMicrosPerSecond);
}

TEST(Rules, OverridesTakeDurationsAndSeconds) {
  auto r = parse_rules(
      "reorderWindow: 30s\n"
      "restartStorm:\n  minRestarts: 5\n  window: 1h\n  quietPeriod: 600\n"
      "nodeDrain:\n  enabled: false\n"
      "schedulingFailure:\n  sustainFor: 2m\n");
  ASSERT_TRUE(r.is_ok()) << r.status().to_string();
  EXPECT_EQ(r->reorder_window, 30 * kMicrosPerSecond);
  EXPECT_EQ(r->restart_storm.min_restarts, 5);
  EXPECT_EQ(r->restart_storm.window, 3600 * kMicrosPerSecond);
  EXPECT_EQ(r->restart_storm.quiet, 600 * kMicrosPerSecond);
  EXPECT_FALSE(r->node_drain.enabled);
  EXPECT_EQ(r->scheduling_failure.sustain, 120 * kMicrosPerSecond);
}

TEST(Rules, HostileInputIsRefusedWithFileAndLine) {
  struct Case {
    const char* yaml;
    const char* says;
  };
  const Case cases[] = {
      {"restartStorm:\n  minRestart: 2\n", "f.yaml:2"},
      {"bogus: 1\n", "unknown key 'bogus'"},
      {"restartStorm:\n  minRestarts: 0\n", "at least 1"},
      {"restartStorm:\n  minRestarts: -3\n", "positive integer"},
      {"restartStorm:\n  minRestarts: 99999999999999999999\n", "positive integer"},
      {"restartStorm:\n  window: forever\n", "window"},
      {"restartStorm:\n  window: 9999d\n", "out of range"},
      {"restartStorm: 3\n", "mapping"},
      {"restartStorm:\n  window: [1, 2]\n", "duration"},
      {"nodeDrain:\n  enabled: maybe\n", "true or false"},
      {"- a\n- b\n", "mapping"},
      {"a: [unclosed\n", "f.yaml"},
  };
  for (const auto& c : cases) {
    auto r = parse_rules(c.yaml, "f.yaml");
    ASSERT_FALSE(r.is_ok()) << c.yaml;
    EXPECT_NE(r.status().message().find(c.says), std::string::npos)
        << c.yaml << " -> " << r.status().message();
  }
  EXPECT_EQ(load_rules_file("/nonexistent/rules.yaml").status().code(), ErrorCode::kNotFound);
}

}  // namespace
}  // namespace ktrail::correlate
