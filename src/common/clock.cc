#include "common/clock.h"

#include <cstdio>

namespace riffle {

void CivilFromDays(int64_t z, int& year, unsigned& month, unsigned& day) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t y = static_cast<int64_t>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  day = doy - (153 * mp + 2) / 5 + 1;
  month = mp < 10 ? mp + 3 : mp - 9;
  year = static_cast<int>(y + (month <= 2));
}

namespace {
int64_t FloorDiv(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }
}  // namespace

std::string FormatTimestampNanos(int64_t ns) {
  const int64_t kNsPerDay = 86400LL * 1000000000LL;
  int64_t days = FloorDiv(ns, kNsPerDay);
  int64_t rem = ns - days * kNsPerDay;
  int year;
  unsigned month, day;
  CivilFromDays(days, year, month, day);
  int64_t secs = rem / 1000000000LL;
  int64_t frac = rem % 1000000000LL;
  char buf[64];
  int n = std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02d:%02d:%02d", year, month, day,
                        static_cast<int>(secs / 3600), static_cast<int>(secs / 60 % 60),
                        static_cast<int>(secs % 60));
  if (frac != 0) {
    if (frac % 1000000 == 0) {
      std::snprintf(buf + n, sizeof buf - n, ".%03d", static_cast<int>(frac / 1000000));
    } else if (frac % 1000 == 0) {
      std::snprintf(buf + n, sizeof buf - n, ".%06d", static_cast<int>(frac / 1000));
    } else {
      std::snprintf(buf + n, sizeof buf - n, ".%09d", static_cast<int>(frac));
    }
  }
  return buf;
}

std::string FormatRfc3339Seconds(int64_t unix_seconds) {
  std::string s = FormatTimestampNanos(unix_seconds * 1000000000LL);
  return s + "Z";
}

}  // namespace riffle
