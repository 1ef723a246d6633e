// Time in ktrail: microseconds since the Unix epoch, UTC, as a plain integer.
//
// Kubernetes writes MicroTime (6 fractional digits) and Time (seconds); both parse here,
// as does any RFC 3339 form with a zone offset. Time-dependent logic takes a Clock so
// tests can drive it; event processing uses event time, never the wall clock.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/status.h"

namespace ktrail {

using Micros = std::int64_t;

constexpr Micros kMicrosPerSecond = 1'000'000;

// Parses RFC 3339 ("2026-03-01T12:00:00.123456Z", "2026-03-01T14:00:00+02:00").
// Fractions beyond microseconds are truncated. Years outside 1970..9999 are refused.
Result<Micros> parse_rfc3339(std::string_view text);

// Formats as "YYYY-MM-DDTHH:MM:SS.ffffffZ" (the MicroTime layout).
std::string format_rfc3339(Micros t);
// The same text appended to `out` (a caller formatting many times reuses one string).
void append_rfc3339(Micros t, std::string* out);

// Parses a duration such as "90m", "2h", "7d", "1w", "30s", "1h30m".
Result<Micros> parse_duration(std::string_view text);

// A kubectl-style time argument: RFC 3339 with a zone, a bare date (YYYY-MM-DD: midnight UTC),
// or a duration counted back from `now`. A date and time without a zone is refused with a
// message showing the accepted forms (a local time would mean something else on each machine).
Result<Micros> parse_time_arg(std::string_view text, Micros now);

class Clock {
 public:
  virtual ~Clock() = default;
  virtual Micros now() const = 0;
};

class SystemClock final : public Clock {
 public:
  Micros now() const override;
};

}  // namespace ktrail
