// Scenario tests: fixtures built from documented Kubernetes behaviour (tests/data/scenarios/
// README.md says why each record looks the way it does), fed through audit only, Events only,
// or both, in order and out of order.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>

#include "processors/correlate/correlator.h"
#include "tests/unit/processors/correlate_harness.h"

namespace ktrail {
namespace {

using testing::Collector;
using testing::Feed;
using testing::Item;
using testing::load_items;
using testing::scenario;

Micros t(const char* text) { return *parse_rfc3339(text); }

std::vector<Item> merged(std::vector<Item> a, const std::vector<Item>& b) {
  a.insert(a.end(), b.begin(), b.end());
  std::stable_sort(a.begin(), a.end(),
                   [](const Item& x, const Item& y) { return x.time < y.time; });
  return a;
}

Collector run(const std::vector<Item>& items, correlate::Rules rules = {}) {
  correlate::Correlator c(rules);
  Collector col;
  testing::feed(c, items, &col);
  return col;
}

const std::vector<std::string> kEvictedPods = {"payments/ledger-0", "shop/cart-5c8d9b7f64-m7kxp",
                                               "shop/checkout-7d9f8b6c5-q4rlm",
                                               "shop/checkout-7d9f8b6c5-x2x9z"};

// Events have whole seconds; the writes they report (audit) have the exact times.
const Micros kNotReadyWrite = t("2026-03-01T02:14:00.412Z");
const Micros kReadyWrite = t("2026-03-01T02:41:00.250Z");

void expect_node_not_ready(const Collector& col, Micros start = kNotReadyWrite,
                           Micros end = kReadyWrite) {
  auto all = col.all();
  ASSERT_EQ(all.size(), 1u) << "expected exactly one incident, first: "
                            << (all.empty() ? "" : all[0].title);
  const Incident& i = all[0];
  EXPECT_EQ(i.kind, IncidentKind::kNodeNotReady);
  EXPECT_EQ(i.node, "worker-3");
  EXPECT_EQ(format_rfc3339(i.start), format_rfc3339(start));
  ASSERT_TRUE(i.end.has_value());
  EXPECT_EQ(format_rfc3339(*i.end), format_rfc3339(end));
  EXPECT_EQ(i.objects, kEvictedPods);
  EXPECT_EQ(i.replacements.size(), 4u);
  EXPECT_NE(std::find(i.replacements.begin(), i.replacements.end(),
                      "shop/checkout-7d9f8b6c5-b8wvn -> worker-1"),
            i.replacements.end());
  EXPECT_EQ(i.count, static_cast<std::int64_t>(i.members.size()));
}

TEST(NodeNotReadyScenario, FromEventsOnly) {
  auto col = run(load_items(scenario("node-not-ready.events.jsonl"), Feed::kEvents));
  expect_node_not_ready(col, t("2026-03-01T02:14:00Z"), t("2026-03-01T02:41:00Z"));
  auto all = col.all();
  for (const auto& m : all[0].members) EXPECT_EQ(m.source, MemberSource::kEvent);
}

TEST(NodeNotReadyScenario, FromAuditOnly) {
  auto col = run(load_items(scenario("node-not-ready.audit.jsonl"), Feed::kAudit));
  expect_node_not_ready(col);
  auto all = col.all();
  for (const auto& m : all[0].members) EXPECT_EQ(m.source, MemberSource::kAudit);
}

TEST(NodeNotReadyScenario, FromBothSourcesIsStillOneIncident) {
  auto col = run(merged(load_items(scenario("node-not-ready.audit.jsonl"), Feed::kAudit),
                        load_items(scenario("node-not-ready.events.jsonl"), Feed::kEvents)));
  expect_node_not_ready(col);
  bool audit = false, event = false;
  auto all = col.all();
  for (const auto& m : all[0].members) {
    audit = audit || m.source == MemberSource::kAudit;
    event = event || m.source == MemberSource::kEvent;
  }
  EXPECT_TRUE(audit && event);
}

Micros last_backoff(const std::vector<Item>& items) {
  Micros last = 0;
  for (const auto& it : items) {
    if (!it.audit && it.e.reason == "BackOff") last = std::max(last, it.e.last_time);
    if (it.audit && it.a.object_ref && it.a.object_ref->subresource == "status" &&
        it.a.object_ref->resource == "pods")
      last = std::max(last, it.a.request_received);
  }
  return last;
}

void expect_restart_storm(const Collector& col, Micros expected_end) {
  auto all = col.all();
  ASSERT_EQ(all.size(), 1u) << (all.empty() ? "" : all[0].title);
  const Incident& i = all[0];
  EXPECT_EQ(i.kind, IncidentKind::kRestartStorm);
  EXPECT_EQ(i.namespace_, "shop");
  EXPECT_EQ(i.workload, "checkout");
  EXPECT_EQ(i.workload_kind, "Deployment");
  EXPECT_EQ(i.cause, "liveness-probe");
  // The first restart: the first pod's container was killed at 09:00:30 and backed off at :31.
  EXPECT_EQ(i.start, t("2026-03-01T09:00:31Z"));
  ASSERT_TRUE(i.end.has_value()) << "quiet for 30 minutes: closed";
  EXPECT_EQ(*i.end, expected_end);
  EXPECT_EQ(i.objects, (std::vector<std::string>{"shop/checkout-7d9f8b6c5-q4rlm",
                                                 "shop/checkout-7d9f8b6c5-x2x9z"}));
  EXPECT_NE(i.title.find("liveness-probe"), std::string::npos);
}

TEST(RestartStormScenario, FromWatchStreamOnly) {
  auto items = load_items(scenario("restart-storm.watch.jsonl"), Feed::kEvents);
  expect_restart_storm(run(items), last_backoff(items));
}

TEST(RestartStormScenario, FromAuditOnly) {
  auto items = load_items(scenario("restart-storm.audit.jsonl"), Feed::kAudit);
  expect_restart_storm(run(items), last_backoff(items));
}

TEST(RestartStormScenario, UpdatesInPlaceAreOneMemberEach) {
  auto items = load_items(scenario("restart-storm.watch.jsonl"), Feed::kEvents);
  auto col = run(items);
  ASSERT_EQ(col.all().size(), 1u);
  std::set<std::string> uids;
  for (const auto& it : items) {
    if (it.e.object.namespace_ == "shop") uids.insert(it.e.uid);
  }
  // Each Event object (Unhealthy, Killing, BackOff per pod) is one member however often it
  // was updated.
  EXPECT_EQ(col.all()[0].members.size(), uids.size());
}

TEST(RestartStormScenario, LowerThresholdFromRulesOpensEarlier) {
  auto items = load_items(scenario("restart-storm.watch.jsonl"), Feed::kEvents);
  correlate::Rules rules;
  rules.restart_storm.min_restarts = 1000;  // more restarts than the hour holds
  EXPECT_TRUE(run(items, rules).all().empty());
}

void expect_drain(const Collector& col, const std::string& actor, Micros start, Micros end) {
  EXPECT_TRUE(col.of_kind(IncidentKind::kNodeNotReady).empty());
  auto all = col.all();
  ASSERT_EQ(all.size(), 1u) << (all.empty() ? "" : all[0].title);
  const Incident& i = all[0];
  EXPECT_EQ(i.kind, IncidentKind::kNodeDrain);
  EXPECT_EQ(i.node, "worker-2");
  EXPECT_EQ(i.actor, actor);
  EXPECT_EQ(i.start, start);
  ASSERT_TRUE(i.end.has_value());
  EXPECT_EQ(*i.end, end);
  EXPECT_EQ(i.objects, (std::vector<std::string>{"payments/ledger-1", "shop/cart-5c8d9b7f64-w2qzd",
                                                 "shop/checkout-7d9f8b6c5-h6ztp"}));
}

TEST(NodeDrainScenario, FromAuditOnlyNamesTheActor) {
  expect_drain(run(load_items(scenario("node-drain.audit.jsonl"), Feed::kAudit)),
               "alice@example.com", t("2026-03-01T10:00:00Z"), t("2026-03-01T10:20:00Z"));
}

TEST(NodeDrainScenario, FromEventsOnlyHasNoActor) {
  // Events do not say who cordoned; the kubelet reports NodeNotSchedulable a second later.
  expect_drain(run(load_items(scenario("node-drain.events.jsonl"), Feed::kEvents)), "",
               t("2026-03-01T10:00:01Z"), t("2026-03-01T10:20:01Z"));
}

TEST(NodeDrainScenario, FromBothSources) {
  expect_drain(run(merged(load_items(scenario("node-drain.audit.jsonl"), Feed::kAudit),
                          load_items(scenario("node-drain.events.jsonl"), Feed::kEvents))),
               "alice@example.com", t("2026-03-01T10:00:00Z"), t("2026-03-01T10:20:00Z"));
}

TEST(NoIncidentScenario, OneRestartOrOneFailedProbeIsNotAnIncident) {
  auto events = load_items(scenario("no-incident.events.jsonl"), Feed::kEvents);
  auto audit = load_items(scenario("no-incident.audit.jsonl"), Feed::kAudit);
  ASSERT_FALSE(events.empty());
  ASSERT_FALSE(audit.empty());
  EXPECT_TRUE(run(events).all().empty());
  EXPECT_TRUE(run(audit).all().empty());
  EXPECT_TRUE(run(merged(audit, events)).all().empty());
}

// The same incidents whatever the arrival order within the reorder window, and whatever the
// batching (updates taken after every item or once at the end).
struct Summary {
  std::string id, title, actor, cause;
  Micros start;
  std::optional<Micros> end;
  std::vector<std::string> objects;
  std::size_t members;
  bool operator==(const Summary&) const = default;
};

std::vector<Summary> summarize(const Collector& col) {
  std::vector<Summary> out;
  for (const auto& i : col.all()) {
    out.push_back({i.id, i.title, i.actor, i.cause, i.start, i.end, i.objects, i.members.size()});
  }
  return out;
}

std::vector<Item> shuffled_within(std::vector<Item> items, Micros window, unsigned seed) {
  // Moves items later by up to `window`: every item still arrives before event time has gone
  // a full window past it.
  std::mt19937 rng(seed);
  std::uniform_int_distribution<Micros> jitter(0, window);
  std::vector<std::pair<Micros, std::size_t>> keys;
  for (std::size_t i = 0; i < items.size(); ++i) keys.push_back({items[i].time + jitter(rng), i});
  std::sort(keys.begin(), keys.end());
  std::vector<Item> out;
  for (const auto& [k, i] : keys) out.push_back(items[i]);
  return out;
}

class OrderTest : public ::testing::TestWithParam<std::pair<const char*, Feed>> {};

TEST_P(OrderTest, OutOfOrderWithinWindowGivesTheSameIncidents) {
  auto items = load_items(scenario(GetParam().first), GetParam().second);
  auto expected = summarize(run(items));
  ASSERT_FALSE(expected.empty());
  correlate::Rules rules;
  for (unsigned seed = 1; seed <= 5; ++seed) {
    auto shuffled = shuffled_within(items, rules.reorder_window / 2, seed);
    EXPECT_EQ(summarize(run(shuffled)), expected) << "seed " << seed;
  }
  correlate::Correlator c;
  Collector col;
  testing::feed(c, items, &col, /*take_each=*/true);
  EXPECT_EQ(summarize(col), expected);
}

INSTANTIATE_TEST_SUITE_P(
    Scenarios, OrderTest,
    ::testing::Values(std::make_pair("node-not-ready.events.jsonl", Feed::kEvents),
                      std::make_pair("node-not-ready.audit.jsonl", Feed::kAudit),
                      std::make_pair("restart-storm.watch.jsonl", Feed::kEvents),
                      std::make_pair("restart-storm.audit.jsonl", Feed::kAudit),
                      std::make_pair("node-drain.audit.jsonl", Feed::kAudit),
                      std::make_pair("node-drain.events.jsonl", Feed::kEvents)));

TEST(BadInput, RejectedEventsDoNotDisturbIncidents) {
  auto lines = testing::read_lines(scenario("node-not-ready.events.jsonl"));
  std::vector<std::string> hostile = {
      "{not json",
      R"({"apiVersion":"v1","kind":"Event","metadata":{"name":"x","namespace":"d","uid":"u1"},"reason":"NodeReady","firstTimestamp":"2026-03-01T02:20:00Z"})",
      R"({"apiVersion":"v1","kind":"Event","metadata":{"name":"y","namespace":"d","uid":"u2"},"involvedObject":{"kind":"Node","name":"worker-3"},"reason":"NodeReady","firstTimestamp":"9999-01-01T00:00:00Z"})",
      R"({"apiVersion":"v1","kind":"Event","metadata":{"name":"z","namespace":"d","uid":"u3"},"involvedObject":{"kind":"Node","name":"worker-3"},"reason":"NodeReady","firstTimestamp":"2026-03-01T02:20:00Z","count":-4})",
      R"({"apiVersion":"v1","kind":"Event","metadata":{"name":"w","namespace":"d","uid":"u4"},"involvedObject":"worker-3","reason":"NodeReady","firstTimestamp":"2026-03-01T02:20:00Z"})",
      R"({"apiVersion":"v1","kind":"Event","metadata":{"name":"v","namespace":"d","uid":"u5"},"involvedObject":{"kind":"Node","name":"worker-3"},"reason":"NodeReady","firstTimestamp":"2026-03-01T02:20:00Z","count":99999999999})",
      R"({"type":"ADDED","object":{"kind":"Event","involvedObject":{"kind":"Node","name":"worker-3"},"reason":"NodeReady","firstTimestamp":"2026-03-01T02:20:00Z"}})",
      R"([1,2,3])",
  };
  std::vector<std::string> mixed;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    mixed.push_back(lines[i]);
    if (i == lines.size() / 2) mixed.insert(mixed.end(), hostile.begin(), hostile.end());
  }
  DecodedKubeEvents d;
  for (const auto& line : mixed) decode_kube_event_line(line, &d);
  // "[1,2,3]" is three bad items.
  EXPECT_EQ(d.rejected.size(), hostile.size() - 1 + 3);
  for (const auto& r : d.rejected) EXPECT_FALSE(r.reason.empty());
  correlate::Correlator c;
  Collector col;
  for (const auto& e : d.events) c.add(e);
  c.flush();
  col.take(c);
  expect_node_not_ready(col, t("2026-03-01T02:14:00Z"), t("2026-03-01T02:41:00Z"));
}

}  // namespace
}  // namespace ktrail

namespace ktrail {
namespace {

TEST(LateInput, AStormReadLateIsStillOneIncident) {
  // Two files replayed one after the other: the drain file moves event time to 10:30 before
  // the storm (09:00-10:00) is read, so every storm signal is late. Quiet periods then close
  // the storm between restarts; the next restart of the same episode must reopen it.
  auto drain = load_items(scenario("node-drain.audit.jsonl"), Feed::kAudit);
  auto storm = load_items(scenario("restart-storm.watch.jsonl"), Feed::kEvents);
  std::vector<Item> items = drain;
  items.insert(items.end(), storm.begin(), storm.end());
  correlate::Correlator c;
  Collector col;
  testing::feed(c, items, &col, /*take_each=*/true);
  EXPECT_GT(c.stats().late_items, 0u);
  auto storms = col.of_kind(IncidentKind::kRestartStorm);
  ASSERT_EQ(storms.size(), 1u);
  EXPECT_EQ(storms[0].start, t("2026-03-01T09:00:31Z"));
  ASSERT_TRUE(storms[0].end.has_value());
  EXPECT_EQ(*storms[0].end, last_backoff(storm));
  EXPECT_EQ(col.of_kind(IncidentKind::kNodeDrain).size(), 1u);
}

}  // namespace
}  // namespace ktrail

namespace ktrail::testing {
namespace {

// A pod patch by the kubelet, the commonest write that can carry a signal.
AuditEvent pod_patch(int i, Micros t) {
  AuditEvent a;
  a.audit_id = "patch-" + std::to_string(i);
  a.stage = Stage::kResponseComplete;
  a.verb = "patch";
  a.response_code = 200;
  a.request_received = t;
  a.stage_time = t;
  ObjectRef ref;
  ref.resource = "pods";
  ref.subresource = "status";
  ref.namespace_ = "shop";
  ref.name = "web-" + std::to_string(i % 500);
  a.object_ref = ref;
  a.json = "{}";
  return a;
}

// Two minutes of event time on a busy cluster hold far more writes than the buffer may: it stays
// at its bound, and every item is still read (none is lost to the bound).
TEST(CorrelatorMemory, ReorderBufferIsBoundedByCount) {
  correlate::Rules rules;
  rules.max_buffered = 1000;
  correlate::Correlator correlator(rules);
  const Micros start = *parse_rfc3339("2026-03-01T12:00:00Z");
  std::size_t peak = 0;
  for (int i = 0; i < 20000; ++i) {
    correlator.add(pod_patch(i, start + i * 100));  // 20,000 writes in 2 s of event time
    peak = std::max(peak, correlator.buffered());
  }
  EXPECT_LE(peak, 1000u);
  EXPECT_GT(correlator.stats().early_releases, 0u);
  correlator.flush();
  EXPECT_EQ(correlator.buffered(), 0u);
  EXPECT_EQ(correlator.stats().late_items, 0u);
}

// RequestResponse-level writes carry whole objects: the buffer is also bounded by their size,
// and still loses none of them.
TEST(CorrelatorMemory, ReorderBufferIsBoundedByBytes) {
  correlate::Rules rules;
  rules.max_buffered_bytes = 1 << 20;
  correlate::Correlator correlator(rules);
  const Micros start = *parse_rfc3339("2026-03-01T12:00:00Z");
  const std::string object(16 * 1024, 'x');
  std::size_t peak_bytes = 0;
  std::size_t peak_items = 0;
  for (int i = 0; i < 2000; ++i) {
    AuditEvent a = pod_patch(i, start + i * 1000);
    a.json = "{\"requestObject\":\"" + object + "\"}";
    correlator.add(a);
    peak_bytes = std::max(peak_bytes, correlator.buffered_bytes());
    peak_items = std::max(peak_items, correlator.buffered());
  }
  EXPECT_LE(peak_bytes, std::size_t{1} << 20);
  EXPECT_GT(peak_bytes, std::size_t{1} << 19);  // the bound is used, not undershot
  EXPECT_LT(peak_items, 64u);                   // 2,000 would fit the count bound
  EXPECT_GT(correlator.stats().early_releases, 0u);
  correlator.flush();
  EXPECT_EQ(correlator.buffered(), 0u);
  EXPECT_EQ(correlator.buffered_bytes(), 0u);
  EXPECT_EQ(correlator.stats().late_items, 0u);
}

TEST(CorrelatorMemory, BoundComesFromTheRulesFile) {
  auto defaults = correlate::parse_rules("");
  ASSERT_TRUE(defaults.is_ok());
  EXPECT_EQ(defaults->max_buffered, 20000);
  auto rules = correlate::parse_rules("maxBuffered: 123\n");
  ASSERT_TRUE(rules.is_ok()) << rules.status().to_string();
  EXPECT_EQ(rules->max_buffered, 123);
  EXPECT_FALSE(correlate::parse_rules("maxBuffered: 0\n").is_ok());
  EXPECT_EQ(defaults->max_buffered_bytes, 64 << 20);
  auto bytes = correlate::parse_rules("maxBufferedBytes: 1048576\n");
  ASSERT_TRUE(bytes.is_ok()) << bytes.status().to_string();
  EXPECT_EQ(bytes->max_buffered_bytes, 1048576);
  EXPECT_FALSE(correlate::parse_rules("maxBufferedBytes: -5\n").is_ok());
  EXPECT_FALSE(correlate::parse_rules("maxBufferedBytes: 64Mi\n").is_ok());
}

}  // namespace
}  // namespace ktrail::testing
