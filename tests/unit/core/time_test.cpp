#include "core/time.h"

#include <gtest/gtest.h>

namespace ktrail {
namespace {

TEST(Time, ParsesMicroTime) {
  auto t = parse_rfc3339("2026-03-01T12:00:00.123456Z");
  ASSERT_TRUE(t.is_ok()) << t.status().to_string();
  EXPECT_EQ(*t, 1772366400LL * kMicrosPerSecond + 123456);
  EXPECT_EQ(format_rfc3339(*t), "2026-03-01T12:00:00.123456Z");
}

TEST(Time, ParsesSecondsAndOffsets) {
  EXPECT_EQ(*parse_rfc3339("1970-01-01T00:00:01Z"), kMicrosPerSecond);
  EXPECT_EQ(*parse_rfc3339("1970-01-01T02:00:01+02:00"), kMicrosPerSecond);
  EXPECT_EQ(*parse_rfc3339("1970-01-01T00:00:01.5Z"), kMicrosPerSecond + 500000);
  // Nanoseconds are cut to microseconds.
  EXPECT_EQ(*parse_rfc3339("1970-01-01T00:00:00.123456789Z"), 123456);
  EXPECT_EQ(*parse_rfc3339("2024-02-29T00:00:00Z"), 1709164800LL * kMicrosPerSecond);
}

TEST(Time, RefusesMalformed) {
  for (const char* bad : {"", "2026-03-01", "2026-13-01T00:00:00Z", "2026-02-30T00:00:00Z",
                          "2026-03-01T24:00:00Z", "2026-03-01T12:00:00", "2026-03-01T12:00:00.Z",
                          "2026-03-01T12:00:00Zjunk", "abcd-03-01T12:00:00Z", "1969-12-31T23:59:59Z",
                          "2026-03-01T12:00:00+2:00"}) {
    EXPECT_FALSE(parse_rfc3339(bad).is_ok()) << bad;
  }
}

TEST(Time, Durations) {
  EXPECT_EQ(*parse_duration("90m"), 90 * 60 * kMicrosPerSecond);
  EXPECT_EQ(*parse_duration("1h30m"), 90 * 60 * kMicrosPerSecond);
  EXPECT_EQ(*parse_duration("7d"), 7 * 86400 * kMicrosPerSecond);
  for (const char* bad : {"", "5", "m", "5x", "-5m", "99999999999999h"}) {
    EXPECT_FALSE(parse_duration(bad).is_ok()) << bad;
  }
}

TEST(Time, TimeArgumentIsRfc3339OrDurationBack) {
  const Micros now = *parse_rfc3339("2026-03-01T12:00:00Z");
  EXPECT_EQ(*parse_time_arg("2h", now), *parse_rfc3339("2026-03-01T10:00:00Z"));
  EXPECT_EQ(*parse_time_arg("2026-02-01T00:00:00Z", now), *parse_rfc3339("2026-02-01T00:00:00Z"));
  EXPECT_FALSE(parse_time_arg("yesterday", now).is_ok());
}

TEST(Time, TimeArgumentTakesWeeksAndDatesAndRefusesLocalTimes) {
  const Micros now = *parse_rfc3339("2026-03-01T12:00:00Z");
  EXPECT_EQ(*parse_time_arg("1w", now), *parse_rfc3339("2026-02-22T12:00:00Z"));
  EXPECT_EQ(*parse_time_arg("2026-01-27", now), *parse_rfc3339("2026-01-27T00:00:00Z"));
  EXPECT_FALSE(parse_time_arg("2026-02-30", now).is_ok());
  for (const char* local : {"2026-01-27T10:00:00", "2026-01-27 10:00", "2026-01-27T10:00"}) {
    auto t = parse_time_arg(local, now);
    ASSERT_FALSE(t.is_ok()) << local;
    EXPECT_NE(t.status().message().find("has no time zone"), std::string::npos) << local;
    EXPECT_NE(t.status().message().find("2026-01-27T10:00:00Z"), std::string::npos)
        << t.status().message();
  }
  EXPECT_EQ(*parse_time_arg("2026-01-27 10:00:00+01:00", now),
            *parse_rfc3339("2026-01-27T09:00:00Z"));
}

}  // namespace
}  // namespace ktrail
