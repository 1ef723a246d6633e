// The rows of `ktrail query timeline` in their order (merge_timeline, query/incident_table.h,
// then the findings after the rows of their time) while the audit rows stream in, so that a
// timeline of any length is written in bounded memory.
//
// Contract: the rows of Events, incidents and findings are given whole, already in timeline
// order; audit rows are added one at a time in nondecreasing time. Memory holds those other
// rows and the audit rows of one microsecond (sorted by ref, as merge_timeline does, before
// they go out). emit() receives every row once, in the order a whole merge would give; an error
// from it stops the merge and is returned.
#pragma once

#include <functional>
#include <vector>

#include "core/status.h"
#include "query/incident_table.h"

namespace ktrail::query {

class TimelineMerger {
 public:
  using Emit = std::function<Status(const TimelineRow&)>;

  TimelineMerger(std::vector<TimelineRow> others, Emit emit);
  Status add_audit(TimelineRow row);
  // Writes what is held: the last audit rows and the other rows after them.
  Status finish();

 private:
  // Writes the other rows before `time`, then the audit rows held.
  Status flush_audit();

  std::vector<TimelineRow> others_;
  std::size_t next_other_ = 0;
  std::vector<TimelineRow> audit_;  // the audit rows of one time
  Emit emit_;
};

}  // namespace ktrail::query
