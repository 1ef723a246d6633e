// A scheduling-failure group that a restart finds open: the correlator rebuilds from the
// incident's members which workloads joined it and which of its pods are still pending, so the
// group is still one incident of those workloads and ends when its last pod is placed, as in a
// run without the restart.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "processors/correlate/correlator.h"
#include "tests/unit/processors/correlate_harness.h"

namespace ktrail {
namespace {

using testing::Collector;

const Micros kT0 = *parse_rfc3339("2026-05-04T10:00:00Z");
Micros at(int seconds) { return kT0 + seconds * kMicrosPerSecond; }

KubeEvent pod_event(const std::string& uid, const std::string& pod, const std::string& reason,
                    const std::string& message, int first, int last, std::int64_t count) {
  KubeEvent e;
  e.uid = uid;
  e.namespace_ = "shop";
  e.name = pod + "." + uid;
  e.object.kind = "Pod";
  e.object.namespace_ = "shop";
  e.object.name = pod;
  e.reason = reason;
  e.message = message;
  e.type = reason == "Scheduled" ? "Normal" : "Warning";
  e.first_time = at(first);
  e.last_time = at(last);
  e.count = count;
  return e;
}

const char* kApi = "api-7d9f8b6c5-x2x9z";
const char* kDb = "db-0";

// Two workloads fail together (one group), then are placed one after the other.
std::vector<KubeEvent> feed() {
  const std::string no_node = "0/3 nodes are available: 3 Insufficient cpu.";
  std::vector<KubeEvent> out;
  for (int i = 0; i < 3; ++i) {
    out.push_back(pod_event("fa", kApi, "FailedScheduling", no_node, 0, 40 * i, i + 1));
    out.push_back(pod_event("fb", kDb, "FailedScheduling", no_node, 5, 5 + 40 * i, i + 1));
  }
  // ---- the restart comes here (after 6 items)
  out.push_back(pod_event("fa", kApi, "FailedScheduling", no_node, 0, 120, 4));
  out.push_back(pod_event("sa", kApi, "Scheduled",
                          std::string("Successfully assigned shop/") + kApi + " to n1", 200, 200,
                          1));
  out.push_back(pod_event("sb", kDb, "Scheduled",
                          std::string("Successfully assigned shop/") + kDb + " to n2", 300, 300,
                          1));
  return out;
}

std::vector<Incident> run(std::size_t cut) {
  const std::vector<KubeEvent> items = feed();
  Collector col;
  correlate::Correlator before;
  for (std::size_t i = 0; i < std::min(cut, items.size()); ++i) before.add(items[i]);
  before.flush();
  col.take(before);
  if (cut < items.size()) {
    correlate::Correlator after;
    for (const Incident& i : col.all()) {
      if (i.open()) after.restore(i);
    }
    for (std::size_t i = cut; i < items.size(); ++i) after.add(items[i]);
    after.flush();
    col.take(after);
  }
  return col.of_kind(IncidentKind::kSchedulingFailure);
}

TEST(SchedulingRestore, AGroupOpenAtARestartKeepsItsWorkloadsAndPendingPods) {
  const auto whole = run(SIZE_MAX);
  ASSERT_EQ(whole.size(), 1u);
  ASSERT_NE(whole[0].title.find("2 workloads cannot be scheduled"), std::string::npos)
      << whole[0].title;
  ASSERT_TRUE(whole[0].end.has_value());
  EXPECT_EQ(*whole[0].end, at(300));  // the last pod placed

  const auto restarted = run(6);
  ASSERT_EQ(restarted.size(), 1u);
  EXPECT_EQ(restarted[0].id, whole[0].id);
  EXPECT_EQ(restarted[0].title, whole[0].title);
  EXPECT_EQ(restarted[0].objects, whole[0].objects);
  ASSERT_TRUE(restarted[0].end.has_value());
  EXPECT_EQ(*restarted[0].end, *whole[0].end);
}

}  // namespace
}  // namespace ktrail
