#include "core/metrics.h"

#include <gtest/gtest.h>

#include <ctime>
#include <map>
#include <vector>

#include "tests/support/prometheus_text.h"

namespace ktrail {
namespace {

using testing::parse_prometheus_strict;
using testing::PromFamily;

TEST(PrometheusStrict, RefusesAFamilySplitInTwoBlocks) {
  std::map<std::string, PromFamily> families;
  std::string error;
  const std::string split =
      "# HELP a_total A.\n# TYPE a_total counter\na_total{x=\"1\"} 1\n"
      "# HELP b B.\n# TYPE b gauge\nb 2\n"
      "a_total{x=\"2\"} 3\n";
  EXPECT_FALSE(parse_prometheus_strict(split, &families, &error));
  EXPECT_NE(error.find("more than one block"), std::string::npos) << error;
}

TEST(PrometheusStrict, RefusesDuplicateHelpBadLabelsAndBrokenHistograms) {
  std::map<std::string, PromFamily> families;
  std::string error;
  EXPECT_FALSE(parse_prometheus_strict("# HELP a A.\n# HELP a A.\na 1\n", &families, &error));
  EXPECT_FALSE(parse_prometheus_strict("a{x=1} 1\n", &families, &error));
  EXPECT_FALSE(parse_prometheus_strict("a{x=\"1\",x=\"2\"} 1\n", &families, &error));
  EXPECT_FALSE(parse_prometheus_strict("a one\n", &families, &error));
  EXPECT_FALSE(parse_prometheus_strict(
      "# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 1\nh_sum 1\nh_count 1\n",
      &families, &error));
  EXPECT_FALSE(parse_prometheus_strict(
      "# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_sum 1\nh_count 1\n", &families, &error));
  EXPECT_TRUE(parse_prometheus_strict(
      "# HELP h H.\n# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 2\n"
      "h_sum 3.5\nh_count 2\n",
      &families, &error))
      << error;
}

TEST(MetricsRegistry, WritesEachFamilyInOneBlockWhateverTheRegistrationOrder) {
  MetricsRegistry registry;
  registry.get("t_requests_total", MetricType::kCounter, "Requests.", "code=\"200\"").add(3);
  registry.get("t_queue", MetricType::kGauge, "Queue.").set(7);
  auto& latency = registry.histogram("t_latency_seconds", "Latency.", "path=\"/audit\"");
  registry.get("t_requests_total", MetricType::kCounter, "Requests.", "code=\"400\"").add(1);
  registry.histogram("t_latency_seconds", "Latency.", "path=\"/events\"").observe(2);
  latency.observe(0.0002);
  latency.observe(0.004);
  latency.observe(100);

  std::map<std::string, PromFamily> families;
  std::string error;
  const auto text = registry.render_prometheus();
  ASSERT_TRUE(parse_prometheus_strict(text, &families, &error)) << error << "\n" << text;

  ASSERT_EQ(families.count("t_requests_total"), 1u);
  EXPECT_EQ(families["t_requests_total"].samples.size(), 2u);
  EXPECT_EQ(families["t_requests_total"].type, "counter");
  const auto& h = families["t_latency_seconds"];
  EXPECT_EQ(h.type, "histogram");
  double audit_count = -1, audit_sum = -1, audit_le_1ms = -1;
  for (const auto& s : h.samples) {
    if (s.labels == "path=\"/audit\"" && s.name == "t_latency_seconds_count") audit_count = s.value;
    if (s.labels == "path=\"/audit\"" && s.name == "t_latency_seconds_sum") audit_sum = s.value;
    if (s.labels == "path=\"/audit\",le=\"0.001\"") audit_le_1ms = s.value;
  }
  EXPECT_EQ(audit_count, 3);
  EXPECT_EQ(audit_le_1ms, 1);
  EXPECT_NEAR(audit_sum, 100.0042, 1e-9);
}

TEST(MetricsRegistry, ReportsTheProcess) {
  // Spend some CPU first, so that the process has used at least one clock tick.
  volatile std::uint64_t spin = 0;
  const auto start = std::clock();
  while (std::clock() - start < CLOCKS_PER_SEC / 20) {
    spin = spin + 1;
  }
  MetricsRegistry registry;
  std::map<std::string, PromFamily> families;
  std::string error;
  ASSERT_TRUE(parse_prometheus_strict(registry.render_prometheus(), &families, &error)) << error;
  for (const char* name : {"process_resident_memory_bytes", "process_cpu_seconds_total",
                           "process_open_fds", "process_start_time_seconds"}) {
    ASSERT_EQ(families.count(name), 1u) << name;
    ASSERT_EQ(families[name].samples.size(), 1u) << name;
    EXPECT_GT(families[name].samples[0].value, 0) << name;
  }
}

}  // namespace
}  // namespace ktrail
