// `ktrail report compliance`: what a compliance or security team asks of an audit record, built
// from the per-day rollups the writer keeps (storage/rollups.h), so a report over a month reads a
// few thousand rows, not millions of events.
//
// Contract:
// - The period is whole UTC days: `since` is taken back to the start of its day and `until` on
//   to the end of its day (rollups count per day); the report states the period it covers.
// - Sections have stable names (also the JSON keys), in this order: secret-access,
//   exec-attach-portforward, rbac-changes, privilege-escalation, privileged-pods,
//   anonymous-requests, denied-requests, impersonation, node-maintenance, findings; then
//   coverage. Each row names the acting identity (user, and impersonatedUser when present), the
//   count, the first and last time and the objects.
// - `warnings` says which parts of the period the report cannot vouch for (gaps in the record,
//   events stored before the rollups existed, no findings table); renderers print them first.
// - Several stores (Kafka shards) are read as one: their counts add up.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "core/status.h"
#include "core/time.h"
#include "storage/store.h"

namespace ktrail::report {

enum class Framework { kNone, kPciDss, kSoc2 };

// "pci-dss", "soc2" or "none".
Result<Framework> parse_framework(std::string_view text);
const char* to_string(Framework framework);

struct ReportOptions {
  Micros since = 0;
  Micros until = 0;
  Micros now = 0;  // the time the report is made (for the end of an open period)
  Framework framework = Framework::kNone;
  bool details = false;  // list the audit IDs behind each row
  // A source with no audit event for longer than this has a gap (kube-apiserver writes lease
  // updates every few seconds, so minutes of silence mean the pipeline was down).
  Micros gap_threshold = 5 * 60 * kMicrosPerSecond;
  std::size_t max_objects = 20;   // objects named per row (the count says how many in all)
  std::size_t max_audit_ids = 100;  // per row, with `details`
  // Only these clusters (core/cluster.h); empty: all. The sections, node maintenance and
  // findings are of these clusters; coverage (activity per source, counters) is of all.
  std::vector<std::string> clusters = {};
};

struct ReportRow {
  std::string user;
  std::string impersonated_user;
  std::string verb;
  std::string resource;  // with "/subresource" when there is one
  int code = 0;
  std::string source_ips;  // JSON array text
  std::string detail;
  std::int64_t count = 0;
  Micros first = 0;
  Micros last = 0;
  std::vector<std::string> objects;
  std::int64_t objects_total = 0;
  std::vector<std::string> audit_ids;
};

struct Section {
  std::string key;    // stable name
  std::string title;  // for people
  std::string about;  // one sentence: what is in it
  std::vector<std::string> controls;  // with --framework
  std::vector<std::string> columns;   // which optional row fields the section uses
  std::vector<ReportRow> rows;        // most events first
  std::int64_t total = 0;             // events (or incidents, findings)
  std::map<std::int64_t, std::int64_t> per_day;  // day since epoch -> events
};

struct Gap {
  std::string source;
  Micros from = 0;  // the last event before the gap (or the start of the period)
  Micros to = 0;    // the first event after it (or the end of the period)
};

struct Coverage {
  std::vector<std::string> controls;
  struct SourceActivity {
    std::string source;
    std::int64_t events = 0;
    Micros first = 0;  // first and last minute with events
    Micros last = 0;
  };
  std::vector<SourceActivity> sources;
  std::vector<Gap> gaps;
  struct Count {
    std::string counter;
    std::string source;
    std::int64_t count = 0;
  };
  std::vector<Count> counters;  // summed over the period
  std::vector<CoverageData::DeadLetterReason> dead_letters;
  std::vector<CoverageData::Policy> policies;  // in force during the period
  std::optional<Micros> rollups_since;
};

struct ComplianceReport {
  Micros since = 0;  // start of the first day
  Micros until = 0;  // end of the last day (inclusive)
  Micros generated = 0;
  Framework framework = Framework::kNone;
  bool details = false;
  std::vector<std::string> warnings;
  std::vector<Section> sections;
  Coverage coverage;
  std::vector<std::pair<std::string, std::int64_t>> top_actors;  // acting identity, events
};

Result<ComplianceReport> build_compliance_report(const std::vector<Store*>& stores,
                                                 const ReportOptions& options);

// "alice (as bob)" or "alice".
std::string acting_identity(const std::string& user, const std::string& impersonated);

}  // namespace ktrail::report
