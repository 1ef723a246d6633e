#include "core/time.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <random>

namespace ktrail {
namespace {

TEST(Time, ParsesMicroTime) {
  auto t = parse_rfc3339("2026-03-01T12:00:00.123456Z");
  ASSERT_TRUE(t.is_ok()) << t.status().to_string();
  EXPECT_EQ(*t, 1772366400LL * kMicrosPerSecond + 123456);
  EXPECT_EQ(format_rfc3339(*t), "2026-03-01T12:00:00.123456Z");
}

// The hand-written formatting gives what printf gives, at the edges of every field and at
// random times from before 1970 to past 9999, and parses back.
TEST(Time, FormatsAsPrintfWould) {
  // The reference: the C++ calendar's date and time of day, through printf.
  auto reference = [](Micros t) {
    using namespace std::chrono;
    const sys_time<microseconds> at{microseconds{t}};
    const auto day = floor<days>(at);
    const year_month_day date{day};
    const hh_mm_ss time{at - day};
    char buf[64];
    std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02lld:%02lld:%02lld.%06lldZ",
                  static_cast<int>(date.year()), static_cast<unsigned>(date.month()),
                  static_cast<unsigned>(date.day()), static_cast<long long>(time.hours().count()),
                  static_cast<long long>(time.minutes().count()),
                  static_cast<long long>(time.seconds().count()),
                  static_cast<long long>(time.subseconds().count()));
    return std::string(buf);
  };
  std::vector<Micros> times = {0, -1, 1, 999999, kMicrosPerSecond - 1, 86400 * kMicrosPerSecond - 1,
                               951782400LL * kMicrosPerSecond,    // 2000-02-29
                               253402300799LL * kMicrosPerSecond + 999999,  // 9999-12-31T23:59:59
                               253402300800LL * kMicrosPerSecond,  // 10000-01-01
                               -62167219200LL * kMicrosPerSecond,  // 0000-01-01
                               -62167219200LL * kMicrosPerSecond - 1};
  std::mt19937_64 random(7);
  for (int i = 0; i < 20000; ++i) {
    times.push_back(static_cast<Micros>(random() % (600000000000LL * kMicrosPerSecond)) -
                    100000000000LL * kMicrosPerSecond);
  }
  for (Micros t : times) {
    const std::string text = format_rfc3339(t);
    ASSERT_EQ(text, reference(t)) << t;
    if (t >= 0 && t < 253402300800LL * kMicrosPerSecond) {
      auto back = parse_rfc3339(text);
      ASSERT_TRUE(back.is_ok()) << text;
      EXPECT_EQ(*back, t) << text;
    }
  }
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
