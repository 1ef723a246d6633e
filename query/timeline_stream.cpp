#include "query/timeline_stream.h"

#include <algorithm>

namespace ktrail::query {

TimelineMerger::TimelineMerger(std::vector<TimelineRow> others, Emit emit)
    : others_(std::move(others)), emit_(std::move(emit)) {}

Status TimelineMerger::add_audit(TimelineRow row) {
  if (!audit_.empty() && row.time != audit_.front().time) {
    KTRAIL_RETURN_IF_ERROR(flush_audit());
  }
  audit_.push_back(std::move(row));
  return Status::ok();
}

Status TimelineMerger::flush_audit() {
  if (audit_.empty()) {
    return Status::ok();
  }
  // Audit rows come first among the rows of their time.
  const Micros time = audit_.front().time;
  for (; next_other_ < others_.size() && others_[next_other_].time < time; ++next_other_) {
    KTRAIL_RETURN_IF_ERROR(emit_(others_[next_other_]));
  }
  std::stable_sort(audit_.begin(), audit_.end(), timeline_before);
  for (const TimelineRow& r : audit_) {
    KTRAIL_RETURN_IF_ERROR(emit_(r));
  }
  audit_.clear();
  return Status::ok();
}

Status TimelineMerger::finish() {
  KTRAIL_RETURN_IF_ERROR(flush_audit());
  for (; next_other_ < others_.size(); ++next_other_) {
    KTRAIL_RETURN_IF_ERROR(emit_(others_[next_other_]));
  }
  others_.clear();
  return Status::ok();
}

}  // namespace ktrail::query
