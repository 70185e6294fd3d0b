// Wall-clock access in one place so tests and time formatting agree.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace riffle {

inline int64_t NowNanos() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// "YYYY-MM-DDTHH:MM:SS[.fff|.ffffff|.fffffffff]" (UTC, no zone), as InfluxDB 3 renders
// timestamps in JSON/CSV: the fraction is omitted when zero, else 3, 6 or 9 digits.
std::string FormatTimestampNanos(int64_t ns);

// RFC 3339 with a 'Z' suffix, whole seconds ("2025-01-01T00:00:05Z").
std::string FormatRfc3339Seconds(int64_t unix_seconds);

// Civil date of a unix day number (Howard Hinnant's algorithm).
void CivilFromDays(int64_t days, int& year, unsigned& month, unsigned& day);

}  // namespace riffle
