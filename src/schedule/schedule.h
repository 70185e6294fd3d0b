// Durations and schedules for triggers: humantime durations (`every:`) and cron expressions
// (`cron:`).
//
// Cron accepts InfluxDB 3's form, 6 or 7 fields `sec min hour day-of-month month day-of-week
// [year]` with day-of-week 1-7 and Sunday = 1, where day-of-month and day-of-week must both
// match; and, beyond InfluxDB 3, the standard 5-field crontab form `min hour dom month dow`
// (seconds = 0, day-of-week 0-7 with 0 and 7 = Sunday, and the usual OR when both day fields
// are restricted). Shorthands @yearly @annually @monthly @weekly @daily @midnight @hourly.
// All times are UTC.
#pragma once

#include <bitset>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/status.h"

namespace riffle::schedule {

// humantime 2.x: "10s", "1h30m", "1h 30m", "1.5h", "0"; units ns us ms s m h d w M y.
Result<std::chrono::nanoseconds> ParseHumanDuration(std::string_view text);
// humantime's rendering: "1h 30m", "10s", "1day 2h", "500ms".
std::string FormatHumanDuration(std::chrono::nanoseconds d);

class CronSchedule {
 public:
  // The first matching whole second strictly after `unix_ns`, or nullopt if none (≤ 2100).
  std::optional<int64_t> NextAfter(int64_t unix_ns) const;

 private:
  friend Result<CronSchedule> ParseCron(std::string_view expression);
  std::bitset<60> seconds_, minutes_;
  std::bitset<24> hours_;
  std::bitset<32> days_of_month_;  // 1..31
  std::bitset<13> months_;         // 1..12
  std::bitset<7> days_of_week_;    // 0 = Sunday .. 6 = Saturday
  std::bitset<131> years_;         // 1970..2100
  bool dom_restricted_ = false, dow_restricted_ = false;
  bool either_day_matches_ = false;  // 5-field crontab OR semantics
};

Result<CronSchedule> ParseCron(std::string_view expression);

}  // namespace riffle::schedule
