// node-not-ready as the node lifecycle and taint-eviction controllers write it
// (pkg/controller/nodelifecycle, pkg/controller/tainteviction): Ready=Unknown on nodes/status
// first, then a taint list with only the NoSchedule unreachable taint, the NoExecute one later;
// recovery is the kubelet's Ready=True. Each test builds the audit events of one timeline.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "core/audit_json.h"
#include "processors/correlate/correlator.h"
#include "tests/unit/processors/correlate_harness.h"

namespace ktrail {
namespace {

using testing::Collector;

Micros t(const std::string& text) { return *parse_rfc3339(text); }
const Micros kT0 = t("2026-05-04T10:00:00.000000Z");
Micros at(double seconds) { return kT0 + static_cast<Micros>(seconds * kMicrosPerSecond); }

class Timeline {
 public:
  // One audit event; `body` is the requestObject (Request level), `response` the
  // responseObject (RequestResponse level) when not empty.
  void write(double when, const std::string& user, const std::string& verb,
             const std::string& resource, const std::string& ns, const std::string& name,
             const std::string& sub, const std::string& body, const std::string& response = "") {
    std::string ref = R"({"resource":")" + resource + R"(","name":")" + name + "\"";
    if (!ns.empty()) ref += R"(,"namespace":")" + ns + "\"";
    if (!sub.empty()) ref += R"(,"subresource":")" + sub + "\"";
    ref += "}";
    const std::string ts = format_rfc3339(at(when));
    std::string line = R"({"kind":"Event","apiVersion":"audit.k8s.io/v1","level":")" +
                       std::string(body.empty() ? "Metadata" : "Request") +
                       R"(","auditID":"id-)" + std::to_string(++n_) +
                       R"(","stage":"ResponseComplete","requestURI":"/x","verb":")" + verb +
                       R"(","user":{"username":")" + user + R"("},"objectRef":)" + ref +
                       R"(,"responseStatus":{"code":200},"requestReceivedTimestamp":")" + ts +
                       R"(","stageTimestamp":")" + ts + "\"";
    if (!body.empty()) line += R"(,"requestObject":)" + body;
    if (!response.empty()) line += R"(,"responseObject":)" + response;
    line += "}";
    DecodedAudit d;
    decode_audit_line(line, &d);
    EXPECT_TRUE(d.rejected.empty()) << line;
    for (auto& a : d.events) events_.push_back(std::move(a));
  }
  void ready(double when, const std::string& node, const std::string& status, bool kubelet) {
    write(when,
          kubelet ? "system:node:" + node : "system:serviceaccount:kube-system:node-controller",
          kubelet ? "patch" : "update", "nodes", "", node, "status",
          R"({"status":{"conditions":[{"type":"Ready","status":")" + status + R"("}]}})");
  }
  void taints(double when, const std::string& node, const std::string& list) {
    write(when, "system:serviceaccount:kube-system:node-controller", "patch", "nodes", "", node,
          "", R"({"spec":{"taints":)" + list + "}}");
  }
  void bind(double when, const std::string& ns, const std::string& pod, const std::string& node) {
    write(when, "system:kube-scheduler", "create", "pods", ns, pod, "binding",
          R"({"kind":"Binding","target":{"kind":"Node","name":")" + node + R"("}})");
  }
  void scheduled_event(double when, const std::string& ns, const std::string& pod,
                       const std::string& node) {
    const std::string name = pod + ".sched";
    write(when, "system:kube-scheduler", "create", "events", ns, name, "",
          R"({"apiVersion":"events.k8s.io/v1","kind":"Event","metadata":{"name":")" + name +
              R"(","namespace":")" + ns + R"(","uid":"u-)" + name +
              R"("},"eventTime":")" + format_rfc3339(at(when)) +
              R"(","reportingController":"default-scheduler","reportingInstance":"s","action":"Binding","reason":"Scheduled","regarding":{"kind":"Pod","namespace":")" +
              ns + R"(","name":")" + pod + R"("},"note":"Successfully assigned )" + ns + "/" +
              pod + " to " + node + R"(","type":"Normal"})");
  }
  void evict(double when, const std::string& ns, const std::string& pod) {
    write(when, "system:serviceaccount:kube-system:taint-eviction-controller", "delete", "pods",
          ns, pod, "", "");
  }
  Collector run() {
    correlate::Correlator c;
    Collector col;
    for (const auto& a : events_) c.add(a);
    c.flush();
    col.take(c);
    return col;
  }
  // The same, stopped after the first `cut` events (a clean stop: the window is released) and
  // started again from what the store holds: the open incidents, members included, and
  // nothing replayed, as when the items that justified them are older than what a restore
  // replays.
  Collector run_with_restart(std::size_t cut) {
    Collector col;
    {
      correlate::Correlator before;
      for (std::size_t i = 0; i < cut; ++i) before.add(events_[i]);
      before.flush();
      col.take(before);
    }
    correlate::Correlator after;
    for (const Incident& i : col.all()) {
      if (i.open()) after.restore(i);
    }
    for (std::size_t i = cut; i < events_.size(); ++i) after.add(events_[i]);
    after.flush();
    col.take(after);
    return col;
  }
  std::size_t size() const { return events_.size(); }

 private:
  int n_ = 0;
  std::vector<AuditEvent> events_;
};

const char* kNoSchedule = R"([{"key":"node.kubernetes.io/unreachable","effect":"NoSchedule"}])";
const char* kBoth =
    R"([{"key":"node.kubernetes.io/unreachable","effect":"NoSchedule"},)"
    R"({"key":"node.kubernetes.io/unreachable","effect":"NoExecute"}])";
const char* kNoExecute = R"([{"key":"node.kubernetes.io/unreachable","effect":"NoExecute"}])";

// The controller's order with 30 s tolerations: the NoSchedule-only list 11 ms after Ready=Unknown
// is not a recovery; a Deployment that loses two pods gets two replacements, each reported twice
// (binding and the scheduler's Event); the kubelet's Ready=True ends it.
TEST(NodeNotReady, FollowsTheControllersWrites) {
  Timeline tl;
  tl.bind(0, "shop", "web-7d9f8b6c5-x2x9z", "n1");
  tl.bind(0.5, "shop", "web-7d9f8b6c5-q4rlm", "n1");
  tl.ready(10, "n2", "True", true);
  tl.ready(50, "n1", "Unknown", false);
  tl.taints(50.011, "n1", kNoSchedule);
  tl.taints(51.2, "n1", kBoth);
  tl.evict(81.2, "shop", "web-7d9f8b6c5-x2x9z");
  tl.evict(81.3, "shop", "web-7d9f8b6c5-q4rlm");
  tl.bind(82, "shop", "web-7d9f8b6c5-b8wvn", "n2");
  tl.scheduled_event(82.004, "shop", "web-7d9f8b6c5-b8wvn", "n2");
  tl.bind(82.5, "shop", "web-7d9f8b6c5-h6ztp", "n2");
  tl.scheduled_event(82.506, "shop", "web-7d9f8b6c5-h6ztp", "n2");
  tl.ready(90.25, "n1", "True", true);
  tl.taints(90.27, "n1", kNoExecute);  // the NoSchedule pass first
  tl.taints(93, "n1", "null");         // then the health monitor drops NoExecute
  tl.ready(400, "n2", "True", true);
  auto all = tl.run().of_kind(IncidentKind::kNodeNotReady);
  ASSERT_EQ(all.size(), 1u);
  const Incident& i = all[0];
  EXPECT_EQ(format_rfc3339(i.start), format_rfc3339(at(50)));
  ASSERT_TRUE(i.end.has_value());
  EXPECT_EQ(format_rfc3339(*i.end), format_rfc3339(at(90.25)));
  EXPECT_EQ(i.objects,
            (std::vector<std::string>{"shop/web-7d9f8b6c5-q4rlm", "shop/web-7d9f8b6c5-x2x9z"}));
  EXPECT_EQ(i.replacements,
            (std::vector<std::string>{"shop/web-7d9f8b6c5-b8wvn -> n2",
                                      "shop/web-7d9f8b6c5-h6ztp -> n2"}));
}

// A restart after the evictions and the first replacement: the second replacement is still
// recorded (the evicted pods are rebuilt from the incident's members), and a later new pod of
// the workload is not taken for a third (the replacement recorded before the restart counts).
TEST(NodeNotReady, ARestartKeepsTheEvictedPodsAndTheirReplacements) {
  Timeline tl;
  tl.bind(0, "shop", "web-7d9f8b6c5-x2x9z", "n1");
  tl.bind(0.5, "shop", "web-7d9f8b6c5-q4rlm", "n1");
  tl.ready(10, "n2", "True", true);
  tl.ready(50, "n1", "Unknown", false);
  tl.taints(50.011, "n1", kNoSchedule);
  tl.taints(51.2, "n1", kBoth);
  tl.evict(81.2, "shop", "web-7d9f8b6c5-x2x9z");
  tl.evict(81.3, "shop", "web-7d9f8b6c5-q4rlm");
  tl.bind(82, "shop", "web-7d9f8b6c5-b8wvn", "n2");
  tl.scheduled_event(82.004, "shop", "web-7d9f8b6c5-b8wvn", "n2");
  const std::size_t cut = tl.size();
  tl.bind(82.5, "shop", "web-7d9f8b6c5-h6ztp", "n2");
  tl.scheduled_event(82.506, "shop", "web-7d9f8b6c5-h6ztp", "n2");
  tl.bind(84, "shop", "web-7d9f8b6c5-zz9kq", "n2");  // a scale-up, not a replacement
  tl.ready(90.25, "n1", "True", true);
  tl.taints(93, "n1", "null");
  tl.ready(400, "n2", "True", true);
  const auto whole = tl.run().of_kind(IncidentKind::kNodeNotReady);
  ASSERT_EQ(whole.size(), 1u);
  ASSERT_EQ(whole[0].replacements.size(), 2u);
  const auto restarted = tl.run_with_restart(cut).of_kind(IncidentKind::kNodeNotReady);
  ASSERT_EQ(restarted.size(), 1u);
  EXPECT_EQ(restarted[0].id, whole[0].id);
  EXPECT_EQ(restarted[0].replacements, whole[0].replacements);
  EXPECT_EQ(restarted[0].objects, whole[0].objects);
  ASSERT_TRUE(restarted[0].end.has_value());
  EXPECT_EQ(*restarted[0].end, *whole[0].end);
}

// Default 300 s tolerations and a 5-minute outage: the pods are deleted just before the node is
// back and their replacements are placed after: still this incident's replacements.
TEST(NodeNotReady, ReplacementsPlacedAfterRecoveryAreKept) {
  Timeline tl;
  tl.bind(0, "shop", "api-7d9f8b6c5-x2x9z", "n1");
  tl.ready(10, "n1", "Unknown", false);
  tl.taints(10.02, "n1", kNoSchedule);
  tl.taints(11, "n1", kBoth);
  tl.evict(311, "shop", "api-7d9f8b6c5-x2x9z");
  tl.ready(312, "n1", "True", true);
  tl.taints(312.01, "n1", kNoExecute);
  tl.taints(315, "n1", "[]");
  tl.bind(330, "shop", "api-7d9f8b6c5-s9dfc", "n1");  // back on the recovered node: counts
  tl.scheduled_event(330.01, "shop", "api-7d9f8b6c5-s9dfc", "n1");
  tl.ready(900, "n2", "True", true);
  auto all = tl.run().of_kind(IncidentKind::kNodeNotReady);
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(format_rfc3339(*all[0].end), format_rfc3339(at(312)));
  EXPECT_EQ(all[0].objects, std::vector<std::string>{"shop/api-7d9f8b6c5-x2x9z"});
  EXPECT_EQ(all[0].replacements, std::vector<std::string>{"shop/api-7d9f8b6c5-s9dfc -> n1"});
}

// A node that fails again a minute after it came back is a second failure; taint lists without
// a NoExecute taint (never set, or the whole Node of a RequestResponse label patch) close
// nothing.
TEST(NodeNotReady, OneIncidentPerFailure) {
  Timeline tl;
  tl.ready(0, "n1", "Unknown", false);
  tl.taints(0.011, "n1", kNoSchedule);
  tl.write(5, "admin", "patch", "nodes", "", "n1", "", R"({"metadata":{"labels":{"a":"b"}}})",
           R"({"kind":"Node","metadata":{"name":"n1"},"spec":{"taints":)" +
               std::string(kNoSchedule) + "}}");
  tl.ready(40, "n1", "True", true);
  tl.taints(40.02, "n1", "null");
  tl.ready(100, "n1", "Unknown", false);
  tl.taints(100.011, "n1", kNoSchedule);
  tl.taints(101, "n1", kBoth);
  tl.ready(160, "n1", "True", true);
  tl.taints(160.01, "n1", kNoExecute);
  tl.taints(163, "n1", "null");
  tl.ready(600, "n2", "True", true);
  auto all = tl.run().of_kind(IncidentKind::kNodeNotReady);
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(format_rfc3339(all[0].start), format_rfc3339(at(0)));
  EXPECT_EQ(format_rfc3339(*all[0].end), format_rfc3339(at(40)));
  EXPECT_EQ(format_rfc3339(all[1].start), format_rfc3339(at(100)));
  EXPECT_EQ(format_rfc3339(*all[1].end), format_rfc3339(at(160)));
}

// Without the Ready condition in the input (a policy that drops nodes/status), the NoExecute
// taint opens the incident and its removal closes it.
TEST(NodeNotReady, TaintsAloneOpenAndClose) {
  Timeline tl;
  tl.taints(0, "n1", kNoSchedule);
  tl.taints(1, "n1", kBoth);
  tl.taints(60, "n1", kNoSchedule);
  tl.taints(60.01, "n1", "null");
  tl.ready(600, "n2", "True", true);
  auto all = tl.run().of_kind(IncidentKind::kNodeNotReady);
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(format_rfc3339(all[0].start), format_rfc3339(at(1)));
  EXPECT_EQ(format_rfc3339(*all[0].end), format_rfc3339(at(60)));
}

}  // namespace
}  // namespace ktrail
