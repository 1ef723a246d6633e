// Events that reach ktrail only inside audit events (a kubelet's BackOff, audited at Request
// level) are stored as Events by the stage ahead of the correlator. A restart in the middle of
// a crash loop, whatever the moment, must give the incidents an uninterrupted run gives: the
// restore must see those Events once, at the time of the audit event that carried them, as the
// running correlator did, and never again as a received Event at the Event's whole second.
//
// The feed is shaped like the real control plane's (scripts/k8s-e2e.sh): the kubelet patches
// pods/status with the new restartCount a few milliseconds into a second, then records BackOff
// (a create with the whole Event in the request, then patches of count and lastTimestamp), whose
// times are that whole second.
#include <gtest/gtest.h>

#include <cstdio>
#include <string>
#include <vector>

#include "app/processor_chain.h"
#include "core/audit_json.h"
#include "core/time.h"
#include "storage/store.h"
#include "tests/unit/storage/store_test_util.h"

namespace ktrail {
namespace {

constexpr const char* kPod = "checkout-7d9f8b6c5-x2x9z";
constexpr const char* kEventName = "checkout-7d9f8b6c5-x2x9z.18a1b2c3d4e5f607";

std::string at(int second, int micros) {
  // 2026-03-01T09:00:00Z plus `second` seconds and `micros` microseconds.
  char buf[64];
  std::snprintf(buf, sizeof buf, "2026-03-01T%02d:%02d:%02d.%06dZ", 9 + second / 3600,
                second / 60 % 60, second % 60, micros);
  return buf;
}

std::string whole(int second) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "2026-03-01T%02d:%02d:%02dZ", 9 + second / 3600,
                second / 60 % 60, second % 60);
  return buf;
}

std::string audit(int seq, const std::string& verb, const std::string& user,
                  const std::string& resource_json, const std::string& uri,
                  const std::string& time, const std::string& request) {
  char id[64];
  std::snprintf(id, sizeof id, "c0000000-0000-4000-8000-%012d", seq);
  return R"({"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Request","auditID":")" +
         std::string(id) + R"(","stage":"ResponseComplete","requestURI":")" + uri +
         R"(","verb":")" + verb + R"(","user":{"username":")" + user +
         R"(","groups":["system:nodes","system:authenticated"]},"sourceIPs":["10.0.0.10"],)" +
         R"("userAgent":"kubelet/v1.37.2","objectRef":)" + resource_json +
         R"(,"responseStatus":{"metadata":{},"code":)" + (verb == "create" ? "201" : "200") +
         R"(},"requestReceivedTimestamp":")" + time + R"(","stageTimestamp":")" + time +
         R"(","requestObject":)" + request + "}";
}

// A crash loop of five restarts 40 s apart, then 20 minutes of another node's heartbeats
// (event time moves on and the storm's quiet period closes it). The kubelet's status write and
// its BackOff race: `backoff_first` puts the BackOff's request a few milliseconds ahead.
std::vector<AuditEvent> crash_loop(bool backoff_first) {
  std::vector<std::string> lines;
  int seq = 0;
  const std::string pod_ref = std::string(R"({"resource":"pods","namespace":"shop","name":")") +
                              kPod + R"(","apiVersion":"v1","subresource":"status"})";
  const std::string event_ref = std::string(R"({"resource":"events","namespace":"shop","name":")") +
                                kEventName + R"(","apiVersion":"v1"})";
  const std::string pod_uri = std::string("/api/v1/namespaces/shop/pods/") + kPod + "/status";
  const std::string message =
      std::string("Back-off restarting failed container checkout in pod ") + kPod + "_shop";
  auto heartbeat = [&](int second) {
    lines.push_back(audit(++seq, "patch", "system:node:worker-2",
                          R"({"resource":"nodes","name":"worker-2","apiVersion":"v1","subresource":"status"})",
                          "/api/v1/nodes/worker-2/status", at(second, 500000),
                          R"({"status":{"conditions":[{"type":"Ready","status":"True","reason":"KubeletReady"}]}})"));
  };
  for (int s = 0; s < 40; s += 10) heartbeat(s);
  const int event_micros = backoff_first ? 15000 : 31000;
  for (int i = 1; i <= 5; ++i) {
    const int second = 40 * i;
    lines.push_back(audit(
        ++seq, "patch", "system:node:worker-1", pod_ref, pod_uri, at(second, 18947),
        R"({"status":{"containerStatuses":[{"name":"checkout","restartCount":)" +
            std::to_string(i) +
            R"(,"ready":false,"state":{"waiting":{"reason":"CrashLoopBackOff"}},"lastState":{"terminated":{"exitCode":1,"reason":"Error"}}}]}})"));
    if (i == 1) {
      const std::string event =
          std::string(R"({"kind":"Event","apiVersion":"v1","metadata":{"name":")") + kEventName +
          R"(","namespace":"shop"},"involvedObject":{"kind":"Pod","namespace":"shop","name":")" +
          kPod +
          R"(","apiVersion":"v1","fieldPath":"spec.containers{checkout}"},"reason":"BackOff","message":")" +
          message + R"(","source":{"component":"kubelet","host":"worker-1"},"firstTimestamp":")" +
          whole(second) + R"(","lastTimestamp":")" + whole(second) +
          R"(","count":1,"type":"Warning"})";
      lines.push_back(audit(++seq, "create", "system:node:worker-1", event_ref,
                            "/api/v1/namespaces/shop/events", at(second, event_micros), event));
    } else {
      lines.push_back(audit(++seq, "patch", "system:node:worker-1", event_ref,
                            std::string("/api/v1/namespaces/shop/events/") + kEventName,
                            at(second, event_micros),
                            R"({"count":)" + std::to_string(i) + R"(,"lastTimestamp":")" +
                                whole(second) + R"(","message":")" + message + R"("})"));
    }
    for (int s = second + 10; s < second + 40; s += 10) heartbeat(s);
  }
  for (int s = 240; s < 240 + 20 * 60; s += 10) heartbeat(s);
  std::vector<AuditEvent> out;
  for (const std::string& line : lines) {
    DecodedAudit d;
    decode_audit_line(line, &d);
    EXPECT_TRUE(d.rejected.empty()) << line;
    for (auto& a : d.events) out.push_back(std::move(a));
  }
  return out;
}

using Chain = std::vector<std::unique_ptr<Processor>>;

Chain make_chain() {
  auto chain = app::make_processor_chain(app::ServeOptions{});
  EXPECT_TRUE(chain.is_ok()) << chain.status().to_string();
  return std::move(*chain);
}

// Runs `items` through `chain` into `store` in batches of three, as serve does; `finish` ends
// the input (a replay's end or a clean stop).
void run(Chain& chain, Store& store, const std::vector<AuditEvent>& items, bool finish) {
  for (std::size_t i = 0; i < items.size(); i += 3) {
    Batch b;
    b.origin = "test";
    for (std::size_t j = i; j < std::min(items.size(), i + 3); ++j) b.audit.push_back(items[j]);
    BatchOutcome outcome;
    for (auto& stage : chain) stage->process(b, outcome);
    auto written = store.write_batch(b);
    ASSERT_TRUE(written.is_ok()) << written.status().to_string();
  }
  if (finish) {
    Batch last;
    last.end_of_input = true;
    BatchOutcome outcome;
    for (auto& stage : chain) stage->process(last, outcome);
    ASSERT_TRUE(store.write_batch(last).is_ok());
  }
}

// Everything correlation decided, members included.
std::vector<std::string> incidents(Store& store) {
  IncidentFilter all;
  all.with_members = true;
  auto found = store.find_incidents(all);
  EXPECT_TRUE(found.is_ok());
  std::vector<std::string> out;
  for (const auto& i : *found) {
    std::string line = std::string(to_string(i.kind)) + " " + format_rfc3339(i.start) + " " +
                       (i.end ? format_rfc3339(*i.end) : "open") + " " + i.title + " " + i.cause;
    for (const auto& m : i.members) {
      line += "\n  " + format_rfc3339(m.time) + " " + m.ref + " " + m.reason;
    }
    out.push_back(line);
  }
  return out;
}

// Every stored Event as the timeline reads it: its identity, count, last observation, message.
std::vector<std::string> events(Store& store) {
  auto found = store.find_kube_events(KubeEventFilter{});
  EXPECT_TRUE(found.is_ok());
  std::vector<std::string> out;
  for (const auto& e : *found) {
    out.push_back(e.namespace_ + "/" + e.name + " " + e.reason + " x" + std::to_string(e.count) +
                  " " + format_rfc3339(e.last_time) + " " + e.message);
  }
  return out;
}

// Straight through, then killed after each item of the crash loop (no flush) and restarted with
// the restore serve runs: every run gives the same incidents, members included.
void expect_same_incidents_after_any_restart(const std::vector<AuditEvent>& items) {
  testing::TempDir dir;
  auto whole_store = Store::open(dir.file("whole.db"), StoreOptions{});
  ASSERT_TRUE(whole_store.is_ok());
  {
    Chain chain = make_chain();
    run(chain, **whole_store, items, true);
  }
  const std::vector<std::string> expected = incidents(**whole_store);
  const std::vector<std::string> expected_events = events(**whole_store);
  ASSERT_EQ(expected.size(), 1u);
  ASSERT_FALSE(expected_events.empty());
  // The storm starts at the first restart's status write, not at its BackOff's whole second.
  EXPECT_EQ(expected[0].rfind("restart-storm 2026-03-01T09:00:40.018947Z", 0), 0u)
      << expected[0];
  for (std::size_t cut = 4; cut < 24; ++cut) {
    SCOPED_TRACE("killed after item " + std::to_string(cut));
    auto split = Store::open(dir.file("split-" + std::to_string(cut) + ".db"), StoreOptions{});
    ASSERT_TRUE(split.is_ok());
    const std::vector<AuditEvent> before(items.begin(), items.begin() + cut);
    const std::vector<AuditEvent> after(items.begin() + cut, items.end());
    {
      Chain chain = make_chain();
      run(chain, **split, before, false);
    }
    Chain chain = make_chain();
    Status restored = app::restore_processor_state(chain, **split, app::ServeOptions{});
    ASSERT_TRUE(restored.is_ok()) << restored.to_string();
    run(chain, **split, after, true);
    EXPECT_EQ(incidents(**split), expected);
    // A patch of an Event created before the restart (count, lastTimestamp only) still
    // updates that Event.
    EXPECT_EQ(events(**split), expected_events);
  }
}

TEST(CarriedEventsRestart, RestartAnywhereInACrashLoopGivesTheIncidentsOfAnUninterruptedRun) {
  expect_same_incidents_after_any_restart(crash_loop(false));
}

// The BackOff's request reaches the apiserver first (seen against a real one): its whole
// second is still not the start, the status write in that second is.
TEST(CarriedEventsRestart, BackOffAheadOfItsStatusWriteInTheSameSecond) {
  expect_same_incidents_after_any_restart(crash_loop(true));
}

}  // namespace
}  // namespace ktrail
