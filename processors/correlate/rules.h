// Correlation rules: the thresholds and windows of each incident kind, with documented
// defaults (docs/incidents.md), optionally overridden by a YAML rules file (`--rules`).
//
// Durations in the file are strings ("90s", "5m", "1h") or integer seconds. Unknown keys are
// errors (a typo must not silently leave a default in force); errors name the file and line.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/status.h"
#include "core/time.h"

namespace ktrail::correlate {

struct NodeNotReadyRules {
  bool enabled = true;
  // A replacement pod of the same workload scheduled within this time after an eviction is
  // recorded as that eviction's replacement.
  Micros replacement_window = 15 * 60 * kMicrosPerSecond;
};

struct RestartStormRules {
  bool enabled = true;
  std::int64_t min_restarts = 3;               // restarts of one workload within `window`
  Micros window = 30 * 60 * kMicrosPerSecond;  // to open
  Micros quiet = 15 * 60 * kMicrosPerSecond;   // no restart for this long closes it
};

struct NodeDrainRules {
  bool enabled = true;
};

struct ImagePullRules {
  bool enabled = true;
  std::int64_t min_failures = 3;
  Micros window = 10 * 60 * kMicrosPerSecond;
  Micros quiet = 15 * 60 * kMicrosPerSecond;
};

struct SchedulingRules {
  bool enabled = true;
  std::int64_t min_failures = 3;
  Micros sustain = 60 * kMicrosPerSecond;  // failures must span at least this long
  // Workloads whose failures start within this of a group's latest start join it: one cause
  // (a cluster coming up, a node gone) makes many workloads unschedulable at once.
  Micros group_window = 60 * kMicrosPerSecond;
  Micros window = 10 * 60 * kMicrosPerSecond;
  Micros quiet = 15 * 60 * kMicrosPerSecond;
};

// Items in a row, all far from event time and close to each other, that make the stream's time
// jump (see Rules::max_time_jump).
constexpr std::size_t kClockJumpItems = 32;

struct Rules {
  // Signals are held this long (in event time) and released in time order, so arrival out of
  // order within the window does not change the result.
  Micros reorder_window = 2 * 60 * kMicrosPerSecond;
  // At most this many items wait in the reorder buffer; past it the oldest are read early. This
  // bounds memory on busy clusters and fast replays, where two minutes of event time can hold
  // hundreds of thousands of pod and node writes. Deterministic for a given input order.
  std::int64_t max_buffered = 20000;
  // And at most this many bytes of them (mostly their JSON): RequestResponse-level writes carry
  // whole objects, so 20,000 of them can hold hundreds of MB.
  std::int64_t max_buffered_bytes = 64 << 20;
  // An item whose time is further than this from event time (ahead or behind) is implausible: it
  // does not move the correlator's clock. It is quarantined (stored, not correlated) unless
  // kClockJumpItems of them in a row agree, which is the stream moving (another file, another
  // era): the correlator then starts over at their time.
  Micros max_time_jump = 24 * 3600 * kMicrosPerSecond;
  NodeNotReadyRules node_not_ready;
  RestartStormRules restart_storm;
  NodeDrainRules node_drain;
  ImagePullRules image_pull_failure;
  SchedulingRules scheduling_failure;
};

// Parses a rules document; `origin` names it in errors. An empty document gives the defaults.
Result<Rules> parse_rules(std::string_view yaml, std::string_view origin = "rules");
Result<Rules> load_rules_file(const std::string& path);

}  // namespace ktrail::correlate
