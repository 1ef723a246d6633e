// The streamed timeline merge gives the rows of a whole merge, in the same order.
#include "query/timeline_stream.h"

#include <gtest/gtest.h>

#include <random>

namespace ktrail::query {
namespace {

StoredAudit audit(Micros time, const std::string& id, Stage stage) {
  StoredAudit a;
  a.time = time;
  a.received = time;
  a.audit_id = id;
  a.stage = stage;
  a.verb = "get";
  a.resource = "pods";
  a.name = "p-" + id;
  a.code = 200;
  return a;
}

KubeEvent event(Micros time, const std::string& uid) {
  KubeEvent e;
  e.uid = uid;
  e.last_time = time;
  e.first_time = time;
  e.count = 1;
  e.reason = "BackOff";
  e.object.kind = "Pod";
  e.object.name = "p";
  return e;
}

Incident incident(Micros start, const std::string& id) {
  Incident i;
  i.id = id;
  i.kind = IncidentKind::kRestartStorm;
  i.start = start;
  i.title = "storm";
  return i;
}

std::vector<std::string> refs(const std::vector<TimelineRow>& rows) {
  std::vector<std::string> out;
  for (const auto& r : rows) {
    out.push_back(std::to_string(r.time) + " " + r.source + " " + r.ref + " " + r.stage);
  }
  return out;
}

TEST(TimelineMerger, GivesTheRowsOfAWholeMergeInItsOrder) {
  // Few distinct times, so that many rows of each source share one: the order within a time
  // (audit, event, incident, then ref; findings after them) is what is tested.
  for (unsigned seed = 1; seed <= 20; ++seed) {
    std::mt19937 random(seed);
    auto time = [&] { return static_cast<Micros>(random() % 12); };
    std::vector<StoredAudit> a;
    for (int n = 0; n < 60; ++n) {
      // Two stages of one request may share a time: their order is the order given.
      const Stage stage = n % 5 == 0 ? Stage::kRequestReceived : Stage::kResponseComplete;
      a.push_back(audit(time(), "id" + std::to_string(random() % 25), stage));
    }
    std::stable_sort(a.begin(), a.end(),
                     [](const StoredAudit& x, const StoredAudit& y) { return x.time < y.time; });
    std::vector<KubeEvent> e;
    for (int n = 0; n < 20; ++n) {
      e.push_back(event(time(), "uid" + std::to_string(n)));
    }
    std::vector<Incident> i;
    for (int n = 0; n < 8; ++n) {
      i.push_back(incident(time(), "inc" + std::to_string(n)));
    }
    std::vector<TimelineRow> findings;
    for (int n = 0; n < 6; ++n) {
      TimelineRow f;
      f.time = time();
      f.source = "finding";
      f.ref = "finding " + std::to_string(n);
      findings.push_back(f);
    }
    // The whole merge, and findings after the rows of their time (app/finding_rows.h).
    auto merge_findings = [&](std::vector<TimelineRow> rows) {
      rows.insert(rows.end(), findings.begin(), findings.end());
      std::stable_sort(rows.begin(), rows.end(), [](const TimelineRow& x, const TimelineRow& y) {
        return x.time < y.time;
      });
      return rows;
    };
    const auto whole = merge_findings(merge_timeline(a, e, i, 0));

    std::vector<TimelineRow> streamed;
    TimelineMerger merger(merge_findings(merge_timeline({}, e, i, 0)),
                          [&](const TimelineRow& r) {
                            streamed.push_back(r);
                            return Status::ok();
                          });
    for (const StoredAudit& r : a) {
      ASSERT_TRUE(merger.add_audit(audit_timeline_row(r, "")).is_ok());
    }
    ASSERT_TRUE(merger.finish().is_ok());
    ASSERT_EQ(refs(streamed), refs(whole)) << "seed " << seed;
  }
}

TEST(TimelineMerger, AnErrorOfTheOutputStopsTheMerge) {
  int written = 0;
  TimelineMerger merger(merge_timeline({}, {event(5, "e")}, {}, 0), [&](const TimelineRow&) {
    ++written;
    return written == 2 ? io_error("cannot write the output") : Status::ok();
  });
  ASSERT_TRUE(merger.add_audit(audit_timeline_row(audit(1, "a", Stage::kResponseComplete), ""))
                  .is_ok());
  ASSERT_TRUE(merger.add_audit(audit_timeline_row(audit(9, "b", Stage::kResponseComplete), ""))
                  .is_ok());  // the rows of time 1 go out: the first
  const Status s = merger.add_audit(audit_timeline_row(audit(10, "c", Stage::kResponseComplete), ""));
  EXPECT_EQ(s.code(), ErrorCode::kIo);  // the Event at 5 was the second
  EXPECT_EQ(written, 2);
}

}  // namespace
}  // namespace ktrail::query
