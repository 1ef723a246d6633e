// The real Event dumps (tests/data/SOURCES.md): they decode without a reject, correlating them
// twice changes nothing (updates merge into the same records and incidents), and the incidents
// they yield are the ones the documented rules predict. Each expectation says why.
#include <gtest/gtest.h>
#include <rapidjson/document.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <iostream>
#include <set>

#include "core/json.h"
#include "tests/unit/processors/correlate_harness.h"

namespace ktrail {
namespace {

using testing::Collector;
using testing::Feed;
using testing::Item;

std::string data(const char* name) {
  return std::string(KTRAIL_SOURCE_DIR) + "/tests/data/" + name;
}
Micros t(const char* text) { return *parse_rfc3339(text); }

// A dump is a snapshot sorted by namespace, not a stream: replaying it in event time is what a
// live feed would have delivered.
std::vector<Item> by_time(std::vector<Item> items) {
  std::stable_sort(items.begin(), items.end(),
                   [](const Item& a, const Item& b) { return a.time < b.time; });
  return items;
}

Collector correlate_twice(const std::vector<Item>& items, std::vector<Incident>* first) {
  correlate::Correlator c;
  Collector col;
  testing::feed(c, items, &col);
  *first = col.all();
  // The same Events again (a re-list after a watch restart): no count grows, nothing is new.
  for (const auto& it : items) c.add(it.e);
  c.flush();
  EXPECT_TRUE(c.take_updates().empty()) << "a replayed dump changed incidents";
  return col;
}

TEST(RealDumps, MetalInstallYieldsOnlyWhatTheRulesPredict) {
  std::size_t rejected = 0;
  auto items = by_time(testing::load_items(data("openshift-mustgather-metal-events.jsonl"),
                                           Feed::kEvents, &rejected));
  ASSERT_EQ(items.size(), 5171u);
  EXPECT_EQ(rejected, 0u);
  std::vector<Incident> all;
  Collector col = correlate_twice(items, &all);

  // No NodeNotReady, TaintManagerEviction "Marking", cordon or NodeNotSchedulable in this
  // dump; the machine-config daemon's six Uncordon Events find no open drain.
  EXPECT_TRUE(col.of_kind(IncidentKind::kNodeNotReady).empty());
  EXPECT_TRUE(col.of_kind(IncidentKind::kNodeDrain).empty());
  // The two pods that failed a pull each failed once ("pull QPS exceeded", then pulled 26 s
  // later): one failed attempt is below imagePullFailure.minFailures (3).
  EXPECT_TRUE(col.of_kind(IncidentKind::kImagePullFailure).empty());

  // Restart storms: ingress-operator reported "Back-off restarting failed container" 3 times
  // over 42 s (14:14:26..14:15:08), cluster-monitoring-operator 4 times over 28 s; with
  // back-offs of at least 10 s both restarted at least 3 times. Other operators' BackOff Events
  // have count 1-3 within a few seconds: one back-off, not a storm. No probe or OOM Event
  // names a cause for either.
  auto storms = col.of_kind(IncidentKind::kRestartStorm);
  std::set<std::string> storm_keys;
  for (const auto& i : storms) {
    storm_keys.insert(i.key);
    EXPECT_EQ(i.cause, "");
    EXPECT_TRUE(i.end.has_value());
  }
  EXPECT_EQ(storm_keys,
            (std::set<std::string>{"openshift-ingress-operator/ingress-operator",
                                   "openshift-monitoring/cluster-monitoring-operator"}));
  for (const auto& i : storms) {
    if (i.workload == "ingress-operator") {
      EXPECT_EQ(i.start, t("2021-09-14T14:14:26Z"));
      EXPECT_EQ(*i.end, t("2021-09-14T14:15:08Z"));
    }
  }

  // Scheduling failures: during install, pods wait for nodes that do not exist yet or still
  // carry not-ready / master taints. Every incident must rest on FailedScheduling Events of
  // its workload adding up to minFailures (3) over at least sustainFor (60 s). A closed one
  // ends at the Scheduled Event of its last pending pod, or, when the pods went away unscheduled
  // (a rollout replaced them), at its last FailedScheduling once quietPeriod passed.
  // Workloads whose failures start within groupWindow (60 s) of each other are one incident
  // (one cause: the cluster coming up): 31 workloads at 14:07, 8 at 14:14, then four alone.
  auto sched = col.of_kind(IncidentKind::kSchedulingFailure);
  EXPECT_EQ(sched.size(), 6u);
  for (const auto& i : sched) {
    std::int64_t failures = 0;
    bool closed_by_scheduled = false;
    Micros last_failure = 0;
    for (const auto& m : i.members) {
      if (m.reason == "FailedScheduling") {
        ++failures;
        last_failure = std::max(last_failure, m.time);
      }
      if (i.end && m.reason == "Scheduled" && m.time == *i.end) closed_by_scheduled = true;
    }
    EXPECT_GE(failures, 1) << i.title;
    std::int64_t counted = 0;
    Micros first = 0, last = 0;
    for (const auto& it : items) {
      const auto& e = it.e;
      if (e.reason != "FailedScheduling" || e.object.kind != "Pod") continue;
      if (std::find(i.objects.begin(), i.objects.end(),
                    e.object.namespace_ + "/" + e.object.name) == i.objects.end())
        continue;
      if (e.last_time > i.start + 10 * 60 * kMicrosPerSecond) continue;
      counted += e.count;
      first = first == 0 ? e.first_time : std::min(first, e.first_time);
      last = std::max(last, e.last_time);
    }
    EXPECT_GE(counted, 3) << i.title;
    EXPECT_GE(last - first, 60 * kMicrosPerSecond) << i.title;
    bool closed_by_deletion = false;
    for (const auto& m : i.members) {
      if (i.end && m.time == *i.end &&
          (m.reason == "SuccessfulDelete" || m.reason == "FailedScheduling")) {
        closed_by_deletion = true;
      }
    }
    ASSERT_TRUE(i.end.has_value()) << i.title << ": every pod was scheduled or deleted";
    EXPECT_TRUE(closed_by_scheduled || closed_by_deletion || *i.end == last_failure) << i.title;
  }
}

TEST(RealDumps, Sonobuoy2017ClusterHasOneSchedulingFailure) {
  std::size_t rejected = 0;
  auto items = by_time(
      testing::load_items(data("sonobuoy-results-0.10-events.jsonl"), Feed::kEvents, &rejected));
  ASSERT_EQ(items.size(), 214u);
  EXPECT_EQ(rejected, 0u);
  std::vector<Incident> all;
  correlate_twice(items, &all);
  // kube-dns-545bc4bfd4-t4lzx could not be scheduled from 16:59:31 ("NodeNotReady (1)", 6
  // times, then "Insufficient cpu (1)", 9 times) until it was assigned at 17:02:37. The
  // cluster's 9 Unhealthy Events are readiness failures or single liveness failures, and its
  // nodes only boot (NodeReady without NodeNotReady): no other incident.
  ASSERT_EQ(all.size(), 1u);
  const Incident& i = all[0];
  EXPECT_EQ(i.kind, IncidentKind::kSchedulingFailure);
  EXPECT_EQ(i.namespace_, "kube-system");
  EXPECT_EQ(i.workload, "kube-dns");
  EXPECT_EQ(i.workload_kind, "Deployment");
  EXPECT_EQ(i.start, t("2017-12-13T16:59:31Z"));
  ASSERT_TRUE(i.end.has_value());
  EXPECT_EQ(*i.end, t("2017-12-13T17:02:37Z"));
  EXPECT_EQ(i.objects, std::vector<std::string>{"kube-system/kube-dns-545bc4bfd4-t4lzx"});
  EXPECT_EQ(i.count, 3);  // the two FailedScheduling Events and the Scheduled one
}

// YAML (as kspan recorded it) to JSON: quoted scalars are strings; plain ones are numbers,
// booleans or null when they read as such.
void to_json(const YAML::Node& node, rapidjson::Value* out, rapidjson::Document::AllocatorType& a) {
  if (node.IsMap()) {
    out->SetObject();
    for (const auto& kv : node) {
      rapidjson::Value key(kv.first.Scalar().c_str(), a);
      rapidjson::Value value;
      to_json(kv.second, &value, a);
      out->AddMember(key, value, a);
    }
  } else if (node.IsSequence()) {
    out->SetArray();
    for (const auto& item : node) {
      rapidjson::Value value;
      to_json(item, &value, a);
      out->PushBack(value, a);
    }
  } else if (node.IsNull()) {
    out->SetNull();
  } else {
    const std::string& s = node.Scalar();
    if (node.Tag() == "?") {
      if (s == "true" || s == "false") {
        out->SetBool(s == "true");
        return;
      }
      if (!s.empty() && s.find_first_not_of("-0123456789") == std::string::npos) {
        out->SetInt64(std::stoll(s));
        return;
      }
    }
    out->SetString(s.c_str(), a);
  }
}

TEST(RealDumps, KspanKindRecordingIsAHealthyRollout) {
  auto docs = YAML::LoadAllFromFile(data("kspan-kind-deployment-2-pods-recording.yaml"));
  ASSERT_EQ(docs.size(), 26u);
  DecodedKubeEvents decoded;
  for (const auto& doc : docs) {
    if (!doc.IsMap() || doc["kind"].Scalar() != "Event") continue;
    rapidjson::Document json;
    to_json(doc, &json, json.GetAllocator());
    KubeEvent e;
    std::string why;
    if (decode_kube_event_object(json, &e, &why)) {
      decoded.events.push_back(e);
    } else {
      ADD_FAILURE() << why;
    }
  }
  ASSERT_EQ(decoded.events.size(), 19u);
  correlate::Correlator c;
  for (const auto& e : decoded.events) c.add(e);
  c.flush();
  // Scaling, scheduling, pulling, starting and two Killing "Stopping container" Events of the
  // old ReplicaSet's pods (a rollout, no drain is open): nothing to report.
  EXPECT_TRUE(c.take_updates().empty());
  EXPECT_GT(c.stats().signals, 0u);  // the Scheduled and Killing Events were read as signals
}

}  // namespace
}  // namespace ktrail

namespace ktrail {
namespace {

using testing::Collector;
using testing::Feed;
using testing::Item;

std::string dump(const char* name) {
  return std::string(KTRAIL_SOURCE_DIR) + "/tests/data/" + name;
}

std::vector<Item> sorted_dump(const char* name) {
  auto items = testing::load_items(dump(name), Feed::kEvents);
  std::stable_sort(items.begin(), items.end(),
                   [](const Item& a, const Item& b) { return a.time < b.time; });
  return items;
}

// What identifies an incident's outcome: id, times, objects, members.
std::vector<std::string> outcome(const std::vector<Incident>& incidents) {
  std::vector<std::string> out;
  for (const auto& i : incidents) {
    std::string line = i.id + " " + format_rfc3339(i.start) + " " +
                       (i.end ? format_rfc3339(*i.end) : "open") + " " + i.title + " " +
                       std::to_string(i.members.size());
    for (const auto& o : i.objects) line += " " + o;
    out.push_back(line);
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<std::string> correlate_items(const std::vector<Item>& items,
                                         correlate::CorrelatorStats* stats = nullptr) {
  correlate::Correlator c;
  Collector col;
  testing::feed(c, items, &col, /*take_each=*/true);
  if (stats != nullptr) *stats = c.stats();
  return outcome(col.all());
}

// One Event dated ten years ahead in the middle of a dump: it is stored, but it does not move
// the clock, so every incident is what the dump gives without it.
TEST(ImplausibleTime, AFarFutureEventChangesNothing) {
  auto items = sorted_dump("openshift-mustgather-metal-events.jsonl");
  const auto expected = correlate_items(items);
  ASSERT_FALSE(expected.empty());
  Item stray = items[items.size() / 3];
  stray.e.uid = "stray-2031";
  stray.e.name = "stray-2031";
  stray.e.reason = "NodeNotReady";
  stray.e.object.kind = "Node";
  stray.e.object.name = "master-0";
  stray.e.first_time = stray.e.last_time = *parse_rfc3339("2031-01-01T00:00:00Z");
  stray.time = stray.e.last_time;
  items.insert(items.begin() + static_cast<std::ptrdiff_t>(items.size() / 3), stray);
  correlate::CorrelatorStats stats;
  EXPECT_EQ(correlate_items(items, &stats), expected);
  EXPECT_EQ(stats.quarantined, 1u);
  EXPECT_EQ(stats.clock_jumps, 0u);
}

// A newer dump, then an older one, then a newer one again (three clusters' dumps ingested in
// one go, in no particular order): each gives what it gives alone.
TEST(ImplausibleTime, DumpsOfOtherErasEachCorrelateAsAlone) {
  auto metal = sorted_dump("openshift-mustgather-metal-events.jsonl");
  auto sonobuoy = sorted_dump("sonobuoy-results-0.10-events.jsonl");
  auto alone = correlate_items(metal);
  const auto sonobuoy_alone = correlate_items(sonobuoy);
  ASSERT_EQ(sonobuoy_alone.size(), 1u);
  alone.insert(alone.end(), sonobuoy_alone.begin(), sonobuoy_alone.end());
  std::sort(alone.begin(), alone.end());
  std::vector<Item> both = metal;
  both.insert(both.end(), sonobuoy.begin(), sonobuoy.end());
  correlate::CorrelatorStats stats;
  EXPECT_EQ(correlate_items(both, &stats), alone);
  EXPECT_EQ(stats.clock_jumps, 1u);
  EXPECT_EQ(stats.quarantined, 0u);
  // Forward: the 2017 dump first.
  both = sonobuoy;
  both.insert(both.end(), metal.begin(), metal.end());
  EXPECT_EQ(correlate_items(both, &stats), alone);
  EXPECT_EQ(stats.clock_jumps, 1u);
}

// Fewer than kClockJumpItems strays that agree with each other are still strays.
TEST(ImplausibleTime, AFewStraysInARowAreQuarantined) {
  auto items = sorted_dump("sonobuoy-results-0.10-events.jsonl");
  const auto expected = correlate_items(items);
  std::vector<Item> strays;
  for (std::size_t i = 0; i + 1 < correlate::kClockJumpItems; ++i) {
    Item s = items[i];
    s.e.uid = "stray-" + std::to_string(i);
    s.e.last_time = s.e.first_time = *parse_rfc3339("2023-06-01T00:00:00Z") + i;
    s.time = s.e.last_time;
    strays.push_back(s);
  }
  items.insert(items.begin() + 50, strays.begin(), strays.end());
  correlate::CorrelatorStats stats;
  EXPECT_EQ(correlate_items(items, &stats), expected);
  EXPECT_EQ(stats.quarantined, strays.size());
  EXPECT_EQ(stats.clock_jumps, 0u);
}

}  // namespace
}  // namespace ktrail

namespace ktrail {
namespace {

using testing::Collector;
using testing::Feed;
using testing::Item;

// The four OpenShift must-gather Event dumps (tests/data/SOURCES.md; ../shared/data, the metal
// one also in tests/data): four clusters installing, Events only. Replayed in time order (a dump
// is sorted by namespace), each gives a handful of incidents, and each is one an operator would
// accept:
//  - scheduling-failure: the install's bring-up is ONE incident listing its workloads (27-31
//    operators wait for the first nodes, "no nodes available" then the not-ready taint), and
//    later groups are the workloads that wait together for the next nodes (workers, infra);
//    no two start within groupWindow of each other. Each ends when its last pod is placed or
//    deleted (a rollout replaced it): none stays open.
//  - restart-storm: the operators that crash-loop while the API they depend on comes up; each
//    names its container and counts restarts (at least minRestarts), not Event rows; the cause
//    is unknown because these dumps hold no probe, OOM or exit-code report for them, and the
//    title says so rather than guessing.
//  - nothing else: no node goes NotReady after joining, nothing is drained, no image pull
//    fails three times.
TEST(OpenShiftDumps, IncidentsAnOperatorWouldAccept) {
  const char* names[] = {"aws", "azure", "metal", "vsphere"};
  std::size_t dumps = 0;
  for (const char* name : names) {
    const std::string file = std::string("openshift-mustgather-") + name + "-events.jsonl";
    std::string path = std::string(KTRAIL_SHARED_DIR) + "/data/" + file;
    if (!std::ifstream(path).good()) path = std::string(KTRAIL_SOURCE_DIR) + "/tests/data/" + file;
    if (!std::ifstream(path).good()) continue;
    ++dumps;
    std::size_t rejected = 0;
    auto items = testing::load_items(path, Feed::kEvents, &rejected);
    EXPECT_EQ(rejected, 0u) << name;
    std::stable_sort(items.begin(), items.end(),
                     [](const Item& a, const Item& b) { return a.time < b.time; });
    correlate::Correlator c;
    Collector col;
    testing::feed(c, items, &col);
    auto all = col.all();
    std::sort(all.begin(), all.end(),
              [](const Incident& a, const Incident& b) { return a.start < b.start; });
    std::cout << "== " << name << ": " << all.size() << " incidents\n";
    std::vector<Micros> sched_starts;
    bool bring_up = false;
    for (const auto& i : all) {
      std::cout << "  " << to_string(i.kind) << " " << format_rfc3339(i.start) << " - "
                << (i.end ? format_rfc3339(*i.end) : "open") << " (" << i.count << ") "
                << i.title << "\n";
      EXPECT_TRUE(i.end.has_value()) << name << ": " << i.title;
      EXPECT_TRUE(i.kind == IncidentKind::kSchedulingFailure ||
                  i.kind == IncidentKind::kRestartStorm)
          << name << ": " << i.title;
      if (i.kind == IncidentKind::kSchedulingFailure) {
        for (Micros other : sched_starts) {
          EXPECT_GT(i.start - other, 60 * kMicrosPerSecond) << name << ": " << i.title;
        }
        sched_starts.push_back(i.start);
        if (sched_starts.size() == 1) {
          // The first: the cluster's own bring-up, many workloads at once.
          bring_up = i.title.find("workloads cannot be scheduled") != std::string::npos &&
                     std::stoi(i.title) >= 20;
        }
      }
      if (i.kind == IncidentKind::kRestartStorm) {
        EXPECT_NE(i.title.find(": container "), std::string::npos) << i.title;
        EXPECT_NE(i.title.find(std::to_string(i.count) + " restarts"), std::string::npos)
            << i.title;
        EXPECT_GE(i.count, 3) << i.title;
      }
    }
    // The vSphere dump's Events begin after its bring-up (the Event TTL had expired them).
    if (std::string(name) != "vsphere") {
      EXPECT_TRUE(bring_up) << name;
    }
    EXPECT_LE(sched_starts.size(), 6u) << name << ": not thirty, a few groups";
    EXPECT_EQ(c.stats().quarantined, 0u);
  }
  if (dumps == 0) GTEST_SKIP() << "no dumps in " << KTRAIL_SHARED_DIR << "/data";
}

}  // namespace
}  // namespace ktrail
