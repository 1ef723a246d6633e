// The rules that combine versions of one incident written by different shards.
#include "app/incident_merge.h"

#include <gtest/gtest.h>

namespace ktrail::app {
namespace {

IncidentMember member(const std::string& ref, Micros time) {
  IncidentMember m;
  m.ref = ref;
  m.time = time;
  m.reason = "BackOff";
  m.message = "at " + std::to_string(time);
  return m;
}

// A version of one restart storm starting at 100.
Incident version(std::vector<IncidentMember> members, std::optional<Micros> end,
                 std::vector<std::string> objects, const std::string& title) {
  Incident i;
  i.kind = IncidentKind::kRestartStorm;
  i.key = "shop/checkout";
  i.start = 100;
  i.id = make_incident_id(i.kind, i.key, i.start);
  i.end = end;
  i.title = title;
  i.namespace_ = "shop";
  i.workload = "checkout";
  i.objects = std::move(objects);
  i.members = std::move(members);
  i.count = static_cast<std::int64_t>(i.members.size());
  return i;
}

std::vector<std::string> refs(const Incident& i) {
  std::vector<std::string> out;
  for (const auto& m : i.members) out.push_back(m.ref);
  return out;
}

TEST(IncidentMerge, OneVersionIsReturnedAsItIs) {
  Incident only = version({member("a", 100), member("b", 200)}, 200, {"shop/p1"}, "t");
  only.count = 7;  // not recomputed for a single version
  Incident merged = merge_incident_versions({only});
  EXPECT_EQ(merged.count, 7);
  EXPECT_EQ(refs(merged), refs(only));
}

TEST(IncidentMerge, ThePartitionMovedMidEpisode) {
  // The first owner saw the start and left it open; the next owner saw the rest and closed it.
  Incident first = version({member("a", 100), member("b", 200)}, std::nullopt, {"shop/checkout-1"},
                           "first owner's title");
  Incident next = version({member("b", 250), member("c", 300), member("d", 400)}, 400,
                          {"shop/checkout-2", "shop/checkout-1"}, "next owner's title");
  next.cause = "liveness-probe";
  for (const auto& order : {std::vector<Incident>{first, next}, {next, first}}) {
    Incident merged = merge_incident_versions(order);
    EXPECT_EQ(merged.id, first.id);
    EXPECT_EQ(merged.start, 100);
    ASSERT_TRUE(merged.end.has_value());
    EXPECT_EQ(*merged.end, 400);
    EXPECT_EQ(merged.objects, (std::vector<std::string>{"shop/checkout-1", "shop/checkout-2"}));
    EXPECT_EQ(refs(merged), (std::vector<std::string>{"a", "b", "c", "d"}));
    EXPECT_EQ(merged.members[1].time, 250);  // the later sight of member b
    EXPECT_EQ(merged.count, 4);              // distinct members, not 2 + 3
    EXPECT_EQ(merged.title, "next owner's title");
    EXPECT_EQ(merged.cause, "liveness-probe");
  }
}

TEST(IncidentMerge, OpenWhenTheMostRecentVersionIsOpen) {
  Incident closed = version({member("a", 100), member("b", 200)}, 200, {}, "closed early");
  Incident open = version({member("a", 100), member("c", 500)}, std::nullopt, {}, "still open");
  Incident merged = merge_incident_versions({closed, open});
  EXPECT_TRUE(merged.open());
  EXPECT_EQ(merged.title, "still open");
  EXPECT_EQ(merged.count, 3);
}

TEST(IncidentMerge, AtEqualActivityTheClosedVersionWins) {
  // Closed by event time passing: the next owner closed it without a new member.
  Incident open = version({member("a", 100), member("b", 200)}, std::nullopt, {}, "open");
  Incident closed = version({member("a", 100), member("b", 200)}, 200, {}, "closed");
  EXPECT_FALSE(merge_incident_versions({open, closed}).open());
  EXPECT_FALSE(merge_incident_versions({closed, open}).open());
}

TEST(IncidentMerge, TheLatestEndOfAllVersions) {
  Incident a = version({member("a", 100), member("late", 600)}, 300, {}, "a");  // newest
  Incident b = version({member("a", 100), member("b", 450)}, 450, {}, "b");
  Incident merged = merge_incident_versions({a, b});
  EXPECT_EQ(merged.title, "a");
  ASSERT_TRUE(merged.end.has_value());
  EXPECT_EQ(*merged.end, 450);
}

TEST(IncidentMerge, ReplacementsKeepTheOrderTheyHappenedIn) {
  Incident first = version({member("a", 100)}, std::nullopt, {}, "first");
  first.kind = IncidentKind::kNodeNotReady;
  first.replacements = {"shop/z-2 -> worker-1", "shop/a-1 -> worker-2"};
  Incident next = first;
  next.members = {member("b", 300)};
  next.replacements = {"shop/z-2 -> worker-1", "shop/a-1 -> worker-2", "shop/m-3 -> worker-1"};
  Incident merged = merge_incident_versions({next, first});
  EXPECT_EQ(merged.replacements, next.replacements);  // not sorted: the correlator's order
}

TEST(IncidentMerge, FilterMatchesAsTheStoreDoes) {
  Incident i = version({member("a", 100)}, 400, {"shop/checkout-1", "prod/api-2"}, "t");
  i.node = "worker-3";
  i.actor = "alice";
  EXPECT_TRUE(incident_matches(i, {}));
  IncidentFilter f;
  f.kind = IncidentKind::kRestartStorm;
  EXPECT_TRUE(incident_matches(i, f));
  f.kind = IncidentKind::kNodeDrain;
  EXPECT_FALSE(incident_matches(i, f));
  f = {};
  f.open_only = true;
  EXPECT_FALSE(incident_matches(i, f));
  f = {};
  f.since = 400;
  EXPECT_TRUE(incident_matches(i, f));
  f.since = 401;
  EXPECT_FALSE(incident_matches(i, f));
  f = {};
  f.until = 100;
  EXPECT_TRUE(incident_matches(i, f));
  f.until = 99;
  EXPECT_FALSE(incident_matches(i, f));
  f = {};
  f.node = "worker-3";
  EXPECT_TRUE(incident_matches(i, f));
  f.node = "worker-1";
  EXPECT_FALSE(incident_matches(i, f));
  f = {};
  f.actor = "bob";
  EXPECT_FALSE(incident_matches(i, f));
  f = {};
  f.namespace_ = "prod";  // through an object
  EXPECT_TRUE(incident_matches(i, f));
  f.namespace_ = "pro";  // a prefix of a namespace is not the namespace
  EXPECT_FALSE(incident_matches(i, f));
  f = {};
  f.pod = "prod/api-2";
  EXPECT_TRUE(incident_matches(i, f));
  f.pod = "api-2";  // a bare name in any namespace
  EXPECT_TRUE(incident_matches(i, f));
  f.pod = "shop/api-2";
  EXPECT_FALSE(incident_matches(i, f));
  Incident open = i;
  open.end.reset();
  f = {};
  f.since = 1'000'000;
  f.open_only = true;
  EXPECT_TRUE(incident_matches(open, f));
}

}  // namespace
}  // namespace ktrail::app
