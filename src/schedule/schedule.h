// Trigger schedules: humantime durations (`every:`), cron expressions (`cron:`) and the
// trigger specification strings InfluxDB 3 stores for processing-engine triggers.
//
// Everything here is pure (no clock, no time zone): callers pass "now" as Unix nanoseconds and
// all calendar arithmetic is UTC.
//
// Cron dialects. ParseCron accepts three shapes, chosen by the number of fields:
//   * 6 or 7 fields, `sec min hour day-of-month month day-of-week [year]`, as the Rust `cron`
//     crate (0.15) that InfluxDB 3 uses reads them. Day-of-week runs 1-7 with SUNDAY = 1
//     (0 is rejected), names Sun..Sat map to 1..7, and day-of-month and day-of-week must BOTH
//     match. Years run 1970-2100.
//   * 5 fields, `min hour day-of-month month day-of-week`, the standard crontab form, which
//     InfluxDB 3 itself rejects. Seconds are 0; day-of-week follows crontab: 0-7 with 0 and 7 =
//     Sunday and 1 = Monday (so `* * * * 1` is Monday here but `0 * * * * 1` is Sunday), and when
//     neither day field starts with `*` or `?` a day matching EITHER field fires (Vixie cron).
//   * @yearly @annually @monthly @weekly @daily @midnight @hourly (@weekly = Sunday 00:00).
// Both forms accept `*`, numbers, `a-b`, `x/step` (x is `*`, a number or a range), comma lists,
// month and day names (case-insensitive, short or long, also in ranges like `Mon-Fri`), and `?`
// (= `*`) in the two day fields. No schedule fires after 2100, the crate's last year.
#pragma once

#include <bitset>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/status.h"

namespace riffle::schedule {

// humantime 2.x syntax: one or more `<number><unit>` components with optional whitespace
// ("10s", "1h30m", "1h 30m", "20 min 17 nsec"), decimals ("1.5h", truncated to whole
// nanoseconds), or a bare "0". Units are case-sensitive (`m` is minutes, `M` months); a month is
// 30.44 days and a year 365.25 days. Fails on durations beyond the int64 nanosecond range.
Result<std::chrono::nanoseconds> ParseHumanDuration(std::string_view text);

// humantime::format_duration: "0s", "10s", "1m 30s", "1day 2h", "2years 1month 3days",
// "1s 500ms 7us". Round-trips through ParseHumanDuration. Negative durations get a '-' prefix.
std::string FormatHumanDuration(std::chrono::nanoseconds duration);

// `every:` schedules fire on multiples of the interval counted from the Unix epoch, in whole
// milliseconds, so `every:1h` fires at the top of each UTC hour whatever the start time.
class EverySchedule {
 public:
  // Intervals below 1ms behave as 1ms; ParseEverySpec rejects them outright.
  explicit EverySchedule(std::chrono::nanoseconds interval) : interval_(interval) {}

  std::chrono::nanoseconds interval() const { return interval_; }

  // The first epoch-aligned firing strictly after `now_unix_ns`.
  int64_t NextAfter(int64_t now_unix_ns) const;

 private:
  std::chrono::nanoseconds interval_;
};

// Trims whitespace, then parses with ParseHumanDuration. Like InfluxDB 3, intervals must be at
// least 1ms and at most 1 year (31,557,600s).
Result<EverySchedule> ParseEverySpec(std::string_view text);

class CronSchedule {
 public:
  // The first matching whole second strictly after `unix_ns`, as Unix nanoseconds, or nullopt
  // when nothing matches before the end of 2100 (e.g. `0 0 0 31 2 *`, February 31st).
  std::optional<int64_t> NextAfter(int64_t unix_ns) const;

 private:
  friend Result<CronSchedule> ParseCron(std::string_view expression);

  std::bitset<60> seconds_;
  std::bitset<60> minutes_;
  std::bitset<24> hours_;
  std::bitset<32> days_of_month_;  // indexed 1..31
  std::bitset<13> months_;         // indexed 1..12
  std::bitset<7> days_of_week_;    // 0 = Sunday .. 6 = Saturday, whatever the dialect
  std::bitset<131> years_;         // index = year - 1970, 1970..2100
  // Crontab's rule: with both day fields restricted, either may match.
  bool match_either_day_field_ = false;
};

// Errors read "invalid cron expression '<expression>': <reason>".
Result<CronSchedule> ParseCron(std::string_view expression);

// A parsed trigger specification (`influxdb3 create trigger --trigger-spec`).
struct TriggerSpec {
  enum class Kind { kTable, kAllTables, kCron, kEvery, kRequest };

  Kind kind = Kind::kAllTables;
  std::string table_name;                      // kTable
  std::string cron_expression;                 // kCron, trimmed but otherwise as written
  std::optional<CronSchedule> cron_schedule;   // kCron, parsed from cron_expression
  std::chrono::nanoseconds every_interval{0};  // kEvery
  std::string request_path;                    // kRequest

  // For kCron and kEvery, the next firing strictly after `now_unix_ns`; nullopt otherwise or
  // when a cron schedule has no further match.
  std::optional<int64_t> NextAfter(int64_t now_unix_ns) const;

  // The form the catalog stores: "table:NAME", "all_tables", "cron:EXPR", "every:<humantime>",
  // "request:PATH" (a `path:` spec comes back as `request:`).
  std::string CanonicalString() const;

  // InfluxDB 3's serde JSON for system.processing_engine_triggers.trigger_specification, e.g.
  // {"single_table_wal_write":{"table_name":"cpu"}} or "all_tables_wal_write".
  std::string SystemTableJson() const;
};

// Accepts, after trimming: `table:NAME`, `all_tables`, `cron:EXPR`, `every:DURATION`,
// `request:PATH` and `path:PATH` (the spelling in InfluxDB's docs). Errors read
// "failed to parse trigger from <spec>: <why>".
Result<TriggerSpec> ParseTriggerSpec(std::string_view text);

}  // namespace riffle::schedule
