// Per-day rollups for compliance reports, kept by the writer in the batch's transaction
// (schema.cpp, version 8): report-section rows (storage/report_sections.h), stored audit events
// per source and minute, and coverage counters per day and source.
//
// Contract: the writer calls add_*() while it writes a group of batches and flush() before
// COMMIT; the counts then commit (or roll back, after discard()) with the events they count.
// Only newly stored events are added, so replays and retries count nothing twice. Nothing here
// reads the events' values beyond what classify() reads; no secret value is kept.
// Single thread (the writer's).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "core/audit_event.h"
#include "core/status.h"
#include "storage/report_sections.h"
#include "storage/sqlite_util.h"

namespace ktrail::storage {

constexpr Micros kMicrosPerDay = 86'400'000'000;
constexpr Micros kMicrosPerMinute = 60'000'000;

inline std::int64_t day_of(Micros t) {
  return t >= 0 ? t / kMicrosPerDay : -((-t + kMicrosPerDay - 1) / kMicrosPerDay);
}

// The source a batch origin stands for in coverage: the origin without the peer's port
// ("webhook 10.0.0.1:53122" -> "webhook 10.0.0.1"), since every connection has its own port;
// Kafka mode's "kafka partitions 0,3" is "kafka".
std::string coverage_source(std::string_view origin);

// The dictionary ids of one stored audit event, as the writer interned them.
struct EventIds {
  std::int64_t verb, user, imp_user, resource, subresource, ns, name, ips;
};

class Rollups {
 public:
  // A stored (new) audit event from `source_id`, of cluster `cluster` (clusters.id).
  void add_event(const AuditEvent& event, const EventIds& ids, std::int64_t source_id,
                 std::int64_t cluster);
  // A coverage counter ("dropped by policy: level None", "dead letters", ...) for a day.
  void add_count(std::int64_t day, std::int64_t source_id, std::string_view counter,
                 std::int64_t n = 1);
  // Writes what was added since the last flush (inside the writer's transaction).
  Status flush(const sqlite::Db& db);
  void discard();
  // The audit policy the writer runs with ("" when unknown): stored events are counted under
  // "audit policy <digest>" per day and source, so a report names the policy events were
  // stored under, by the events' own time.
  void set_policy(std::string digest) { policy_ = std::move(digest); }

 private:
  struct SectionKey {
    std::int64_t day;
    int section;
    std::int64_t cluster;
    std::int64_t user, imp_user, verb, resource, subresource, ns, name, code, ips;
    std::string detail;
    auto tie() const {
      return std::tie(day, section, cluster, user, imp_user, verb, resource, subresource, ns,
                      name, code, ips, detail);
    }
    bool operator<(const SectionKey& o) const { return tie() < o.tie(); }
  };
  struct Span {
    std::int64_t count = 0;
    Micros first = 0;
    Micros last = 0;
  };
  Status prepare(const sqlite::Db& db);

  std::map<SectionKey, Span> sections_;
  std::map<std::pair<std::int64_t, std::int64_t>, std::int64_t> minutes_;  // (source, minute)
  std::map<std::tuple<std::int64_t, std::int64_t, std::string>, std::int64_t> counters_;
  // The last minute counted, to skip the map lookup for a run of events in one minute.
  std::int64_t last_source_ = -1;
  std::int64_t last_minute_ = 0;
  std::int64_t run_ = 0;
  std::vector<SectionHit> hits_;  // scratch
  std::string policy_;
  sqlite::Stmt upsert_section_;
  sqlite::Stmt upsert_minute_;
  sqlite::Stmt upsert_counter_;
  void end_run();
};

}  // namespace ktrail::storage
