// What the store keeps for compliance reports (schema.cpp, version 8), as Store returns it
// (storage/store_report.cpp): per-day section rows, per-minute activity, coverage counters,
// the audit policies in force, dead letters and findings, their ids resolved to strings.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/time.h"

namespace ktrail {

// One row of report_days: a section's events of one UTC day with the same identity and object.
struct ReportDayRow {
  std::int64_t day = 0;  // days since 1970-01-01 (UTC)
  int section = 0;       // storage::ReportSection
  std::string cluster = "default";
  std::string user;
  std::string impersonated_user;
  std::string verb;
  std::string resource;
  std::string subresource;
  std::string namespace_;
  std::string name;
  int code = 0;
  std::string source_ips;  // JSON array text
  std::string detail;
  std::int64_t count = 0;
  Micros first = 0;
  Micros last = 0;
};

struct CoverageData {
  // Rollups are complete from this stageTimestamp on; absent when complete from the start
  // (events stored before schema version 8 are not in them).
  std::optional<Micros> rollups_since;
  struct SourceMinutes {
    std::string source;
    std::vector<std::pair<std::int64_t, std::int64_t>> minutes;  // (minute since epoch, events)
  };
  std::vector<SourceMinutes> activity;
  struct Counter {
    std::int64_t day = 0;
    std::string source;
    std::string counter;  // "dropped by policy: level None", "truncated", "dead letters", ...
    std::int64_t count = 0;
  };
  std::vector<Counter> counters;
  struct Policy {
    Micros since = 0;
    std::string source;
    std::string digest;
    std::string text;
  };
  std::vector<Policy> policies;  // oldest first
  struct DeadLetterReason {
    std::string reason;
    std::int64_t count = 0;
  };
  std::vector<DeadLetterReason> dead_letters;  // received in the period, by reason
};

// Findings of one rule, priority and acting identity in a period (the findings table).
struct FindingGroup {
  std::string rule;
  std::string priority;
  std::string user;
  std::string impersonated_user;
  std::int64_t count = 0;
  Micros first = 0;
  Micros last = 0;
  std::vector<std::string> objects;    // "namespace/resource/name", distinct, at most 20
  std::vector<std::string> audit_ids;  // when asked for
};

}  // namespace ktrail
