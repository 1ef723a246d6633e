#include "core/time.h"

#include <chrono>
#include <cstdio>

namespace ktrail {
namespace {

bool read_digits(std::string_view text, std::size_t pos, std::size_t count, int* out) {
  if (pos + count > text.size()) {
    return false;
  }
  int value = 0;
  for (std::size_t i = 0; i < count; ++i) {
    char c = text[pos + i];
    if (c < '0' || c > '9') {
      return false;
    }
    value = value * 10 + (c - '0');
  }
  *out = value;
  return true;
}

// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's civil algorithm).
std::int64_t days_from_civil(int y, int m, int d) {
  y -= m <= 2 ? 1 : 0;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy =
      (153 * static_cast<unsigned>(m + (m > 2 ? -3 : 9)) + 2) / 5 + static_cast<unsigned>(d) - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

void civil_from_days(std::int64_t z, int* y, int* m, int* d) {
  z += 719468;
  const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const auto doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const std::int64_t year = static_cast<std::int64_t>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  *d = static_cast<int>(doy - (153 * mp + 2) / 5 + 1);
  *m = static_cast<int>(mp < 10 ? mp + 3 : mp - 9);
  *y = static_cast<int>(year + (*m <= 2 ? 1 : 0));
}

int days_in_month(int y, int m) {
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  const bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  return m == 2 && leap ? 29 : kDays[m - 1];
}

}  // namespace

Result<Micros> parse_rfc3339(std::string_view text) {
  auto bad = [&]() { return parse_error("not an RFC 3339 time: '" + std::string(text) + "'"); };
  int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
  if (!read_digits(text, 0, 4, &year) || text.size() < 20 || text[4] != '-' ||
      !read_digits(text, 5, 2, &month) || text[7] != '-' || !read_digits(text, 8, 2, &day) ||
      (text[10] != 'T' && text[10] != 't' && text[10] != ' ') || !read_digits(text, 11, 2, &hour) ||
      text[13] != ':' || !read_digits(text, 14, 2, &minute) || text[16] != ':' ||
      !read_digits(text, 17, 2, &second)) {
    return bad();
  }
  if (year < 1970 || month < 1 || month > 12 || day < 1 || day > days_in_month(year, month) ||
      hour > 23 || minute > 59 || second > 60) {
    return bad();
  }
  std::size_t pos = 19;
  Micros fraction = 0;
  if (pos < text.size() && text[pos] == '.') {
    ++pos;
    std::size_t digits = 0;
    while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
      if (digits < 6) {
        fraction = fraction * 10 + (text[pos] - '0');
      }
      ++digits;
      ++pos;
    }
    if (digits == 0) {
      return bad();
    }
    for (std::size_t i = digits; i < 6; ++i) {
      fraction *= 10;
    }
  }
  Micros offset_seconds = 0;
  if (pos < text.size() && (text[pos] == 'Z' || text[pos] == 'z')) {
    ++pos;
  } else if (pos < text.size() && (text[pos] == '+' || text[pos] == '-')) {
    const int sign = text[pos] == '+' ? 1 : -1;
    int oh = 0, om = 0;
    if (!read_digits(text, pos + 1, 2, &oh) || pos + 3 >= text.size() || text[pos + 3] != ':' ||
        !read_digits(text, pos + 4, 2, &om) || oh > 23 || om > 59) {
      return bad();
    }
    offset_seconds = sign * (oh * 3600 + om * 60);
    pos += 6;
  } else {
    return bad();
  }
  if (pos != text.size()) {
    return bad();
  }
  const Micros seconds = days_from_civil(year, month, day) * 86400 + hour * 3600 + minute * 60 +
                         second - offset_seconds;
  return seconds * kMicrosPerSecond + fraction;
}

std::string format_rfc3339(Micros t) {
  std::string out;
  append_rfc3339(t, &out);
  return out;
}

void append_rfc3339(Micros t, std::string* out) {
  Micros seconds = t / kMicrosPerSecond;
  Micros fraction = t % kMicrosPerSecond;
  if (fraction < 0) {
    fraction += kMicrosPerSecond;
    seconds -= 1;
  }
  Micros days = seconds / 86400;
  Micros rem = seconds % 86400;
  if (rem < 0) {
    rem += 86400;
    days -= 1;
  }
  int y = 0, m = 0, d = 0;
  civil_from_days(days, &y, &m, &d);
  if (y < 0 || y > 9999) {
    char buf[40];
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%06lldZ", y, m, d,
                  static_cast<int>(rem / 3600), static_cast<int>(rem % 3600 / 60),
                  static_cast<int>(rem % 60), static_cast<long long>(fraction));
    out->append(buf);
    return;
  }
  // The common case by hand: formatting times is a large part of exporting rows.
  char buf[27];
  auto digits = [&](std::size_t at, std::size_t n, long long v) {
    for (std::size_t i = n; i-- > 0;) {
      buf[at + i] = static_cast<char>('0' + v % 10);
      v /= 10;
    }
  };
  digits(0, 4, y);
  buf[4] = '-';
  digits(5, 2, m);
  buf[7] = '-';
  digits(8, 2, d);
  buf[10] = 'T';
  digits(11, 2, rem / 3600);
  buf[13] = ':';
  digits(14, 2, rem % 3600 / 60);
  buf[16] = ':';
  digits(17, 2, rem % 60);
  buf[19] = '.';
  digits(20, 6, fraction);
  buf[26] = 'Z';
  out->append(buf, sizeof buf);
}

Result<Micros> parse_duration(std::string_view text) {
  auto bad = [&]() {
    return invalid_argument("not a duration (e.g. 90m, 2h, 7d): '" + std::string(text) + "'");
  };
  if (text.empty()) {
    return bad();
  }
  Micros total = 0;
  std::size_t pos = 0;
  while (pos < text.size()) {
    Micros number = 0;
    std::size_t start = pos;
    while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
      number = number * 10 + (text[pos] - '0');
      if (number > 100'000'000) {
        return bad();
      }
      ++pos;
    }
    if (pos == start || pos == text.size()) {
      return bad();
    }
    Micros unit = 0;
    switch (text[pos]) {
      case 's':
        unit = kMicrosPerSecond;
        break;
      case 'm':
        unit = 60 * kMicrosPerSecond;
        break;
      case 'h':
        unit = 3600 * kMicrosPerSecond;
        break;
      case 'd':
        unit = 86400 * kMicrosPerSecond;
        break;
      case 'w':
        unit = 7 * 86400 * kMicrosPerSecond;
        break;
      default:
        return bad();
    }
    total += number * unit;
    ++pos;
  }
  return total;
}

Result<Micros> parse_time_arg(std::string_view text, Micros now) {
  const bool dated = text.size() >= 10 && text[4] == '-' && text[7] == '-';
  if (dated && text.size() == 10) {
    // A bare date: its midnight, UTC.
    auto t = parse_rfc3339(std::string(text) + "T00:00:00Z");
    if (!t) {
      return invalid_argument("not a date: '" + std::string(text) + "' (use YYYY-MM-DD)");
    }
    return t;
  }
  if (dated) {
    auto t = parse_rfc3339(text);
    if (t) {
      return t;
    }
    // A local time without a zone would be read differently on every machine: refuse it.
    const std::size_t zone = text.find_first_of("Zz+", 10);
    const bool has_offset =
        zone != std::string_view::npos || text.find('-', 10) != std::string_view::npos;
    if (!has_offset && text.size() >= 16) {
      std::string utc(text);
      if (utc[10] == ' ' || utc[10] == 't') {
        utc[10] = 'T';
      }
      if (utc.size() == 16) {
        utc += ":00";
      }
      return invalid_argument("'" + std::string(text) +
                              "' has no time zone: add Z for UTC or an offset, e.g. " + utc +
                              "Z or " + utc + "+01:00");
    }
    return invalid_argument("not a time: '" + std::string(text) +
                            "' (use RFC 3339 such as 2026-01-27T10:00:00Z, a date such as "
                            "2026-01-27, or a duration back from now such as 90m, 2h, 7d, 1w)");
  }
  auto duration = parse_duration(text);
  if (!duration) {
    return invalid_argument("not a time: '" + std::string(text) +
                            "' (use RFC 3339 such as 2026-01-27T10:00:00Z, a date such as "
                            "2026-01-27, or a duration back from now such as 90m, 2h, 7d, 1w)");
  }
  return now - *duration;
}

Micros SystemClock::now() const {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace ktrail
