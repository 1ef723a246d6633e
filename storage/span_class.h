// How long a stored Kubernetes Event (last_time - first_time) or incident (end_time -
// start_time) lasted, in the classes of the columns kube_events.span_class and
// incidents.span_class (schema version 6, storage/schema.cpp). Private to storage/.
//
// Contract: an item of class c < kSpanClasses - 1 lasted less than kSpanClassBounds[c]; class
// kSpanClasses - 1 holds everything longer, and for incidents class kSpanClasses the open ones.
// So an Event of class c that began at or before `until` was last seen at or before
// span_class_last_bound(c, until), and a closed incident of class c that ended at or after
// `since` started at or after span_class_first_bound(c, since). The bounds here and the columns'
// definitions must agree; tests/unit/storage/timeline_store_test.cpp checks that they do.
#pragma once

#include <array>
#include <limits>

#include "core/time.h"

namespace ktrail::storage {

inline constexpr int kSpanClasses = 5;
inline constexpr std::array<Micros, kSpanClasses - 1> kSpanClassBounds = {
    60 * kMicrosPerSecond, 3600 * kMicrosPerSecond, 86400 * kMicrosPerSecond,
    7 * 86400 * kMicrosPerSecond};

// The class of an Event that lasted `span` (negative spans, from odd timestamps, are class 0).
constexpr int span_class_of(Micros span) {
  int c = 0;
  for (Micros bound : kSpanClassBounds) {
    c += span >= bound ? 1 : 0;
  }
  return c;
}

// The latest last_time an Event of class `c` that began at or before `until` can have
// (saturating: the last class, or an `until` near the end of time, has no bound).
constexpr Micros span_class_last_bound(int c, Micros until) {
  constexpr Micros kMax = std::numeric_limits<Micros>::max();
  if (c >= kSpanClasses - 1) {
    return kMax;
  }
  const Micros bound = kSpanClassBounds[static_cast<std::size_t>(c)];
  return until > kMax - bound ? kMax : until + bound - 1;
}

// The earliest start an incident of class `c` that ended at or after `since` can have (the
// mirror image for incidents, ordered by start; saturating). Incidents add one class after the
// last, kSpanClasses, for the open ones, which has no bound either.
constexpr Micros span_class_first_bound(int c, Micros since) {
  constexpr Micros kMin = std::numeric_limits<Micros>::min();
  if (c >= kSpanClasses - 1) {
    return kMin;
  }
  const Micros bound = kSpanClassBounds[static_cast<std::size_t>(c)];
  return since < kMin + bound ? kMin : since - bound + 1;
}

}  // namespace ktrail::storage
