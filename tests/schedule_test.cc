#include "schedule/schedule.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <limits>
#include <random>
#include <string>
#include <vector>

namespace riffle::schedule {
namespace {

using std::chrono::hours;
using std::chrono::microseconds;
using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::nanoseconds;
using std::chrono::seconds;

constexpr int64_t kNanosPerSecond = 1'000'000'000;

// Unix nanoseconds of a UTC civil time, via the standard library's calendar so that the
// expectations do not share code with the implementation under test.
int64_t UnixNs(int y, unsigned mo, unsigned d, int h = 0, int mi = 0, int s = 0,
               int64_t extra_ns = 0) {
  using namespace std::chrono;
  const auto time = sys_days{year{y} / month{mo} / day{d}} + hours{h} + minutes{mi} + seconds{s};
  return duration_cast<nanoseconds>(time.time_since_epoch()).count() + extra_ns;
}

// "2024-05-06T08:00:00" (+ ".nnnnnnnnn" when not whole), for readable failure messages.
std::string Iso(int64_t unix_ns) {
  using namespace std::chrono;
  const sys_time<nanoseconds> time{nanoseconds{unix_ns}};
  const sys_days day = floor<days>(time);
  const year_month_day ymd{day};
  const hh_mm_ss<nanoseconds> clock{time - day};
  char text[64];
  std::snprintf(text, sizeof(text), "%04d-%02u-%02uT%02ld:%02ld:%02ld",
                static_cast<int>(ymd.year()), static_cast<unsigned>(ymd.month()),
                static_cast<unsigned>(ymd.day()), static_cast<long>(clock.hours().count()),
                static_cast<long>(clock.minutes().count()),
                static_cast<long>(clock.seconds().count()));
  std::string out = text;
  if (clock.subseconds().count() != 0) out += "." + std::to_string(clock.subseconds().count());
  return out;
}

std::string Iso(std::optional<int64_t> unix_ns) { return unix_ns ? Iso(*unix_ns) : "nullopt"; }

int64_t ParseNanos(std::string_view text) {
  auto parsed = ParseHumanDuration(text);
  EXPECT_TRUE(parsed.ok()) << text << ": " << parsed.status().message();
  return parsed.ok() ? parsed->count() : -1;
}

std::string DurationError(std::string_view text) {
  auto parsed = ParseHumanDuration(text);
  EXPECT_FALSE(parsed.ok()) << text << " parsed as " << (parsed.ok() ? parsed->count() : 0);
  return parsed.ok() ? "" : parsed.status().message();
}

CronSchedule Cron(std::string_view expression) {
  auto parsed = ParseCron(expression);
  EXPECT_TRUE(parsed.ok()) << expression << ": " << parsed.status().message();
  return parsed.ok() ? parsed.value() : CronSchedule();
}

// The next firing as ISO text; makes failures show the calendar time, not a nanosecond count.
std::string NextCron(std::string_view expression, int64_t after_ns) {
  return Iso(Cron(expression).NextAfter(after_ns));
}

std::string CronError(std::string_view expression) {
  auto parsed = ParseCron(expression);
  EXPECT_FALSE(parsed.ok()) << "'" << expression << "' unexpectedly parsed";
  return parsed.ok() ? "" : parsed.status().message();
}

// ---- ParseHumanDuration

TEST(ParseHumanDuration, AcceptsEveryUnitSpelling) {
  const struct {
    const char* text;
    int64_t nanos;
  } kCases[] = {
      {"17nanos", 17},
      {"17nsec", 17},
      {"33ns", 33},
      {"3usec", 3'000},
      {"78us", 78'000},
      {"163\xC2\xB5s", 163'000},
      {"31millis", 31'000'000},
      {"31msec", 31'000'000},
      {"6ms", 6'000'000},
      {"50seconds", 50 * kNanosPerSecond},
      {"1second", kNanosPerSecond},
      {"300secs", 300 * kNanosPerSecond},
      {"300sec", 300 * kNanosPerSecond},
      {"3000s", 3000 * kNanosPerSecond},
      {"7minutes", 420 * kNanosPerSecond},
      {"1minute", 60 * kNanosPerSecond},
      {"12min", 720 * kNanosPerSecond},
      {"12mins", 720 * kNanosPerSecond},
      {"100m", 6000 * kNanosPerSecond},
      {"24hours", 86'400 * kNanosPerSecond},
      {"1hour", 3600 * kNanosPerSecond},
      {"7hr", 25'200 * kNanosPerSecond},
      {"7hrs", 25'200 * kNanosPerSecond},
      {"2h", 7200 * kNanosPerSecond},
      {"2days", 172'800 * kNanosPerSecond},
      {"1day", 86'400 * kNanosPerSecond},
      {"365d", 31'536'000 * kNanosPerSecond},
      {"7weeks", 4'233'600 * kNanosPerSecond},
      {"1week", 604'800 * kNanosPerSecond},
      {"100wk", 60'480'000 * kNanosPerSecond},
      {"104wks", 2 * 31'449'600 * kNanosPerSecond},
      {"52w", 31'449'600 * kNanosPerSecond},
      {"3months", 3 * 2'630'016 * kNanosPerSecond},
      {"1month", 2'630'016 * kNanosPerSecond},
      {"12M", 31'560'192 * kNanosPerSecond},
      {"7years", 7 * 31'557'600 * kNanosPerSecond},
      {"1year", 31'557'600 * kNanosPerSecond},
      {"10yr", 10 * 31'557'600 * kNanosPerSecond},
      {"15yrs", 15 * 31'557'600 * kNanosPerSecond},
      {"17y", 536'479'200 * kNanosPerSecond},
  };
  for (const auto& c : kCases) EXPECT_EQ(ParseNanos(c.text), c.nanos) << c.text;
}

TEST(ParseHumanDuration, UnitsAreCaseSensitive) {
  EXPECT_EQ(ParseNanos("1m"), 60 * kNanosPerSecond);
  EXPECT_EQ(ParseNanos("1M"), 2'630'016 * kNanosPerSecond);
  EXPECT_NE(DurationError("1H").find("unknown time unit \"H\""), std::string::npos);
  EXPECT_NE(DurationError("10Sec").find("unknown time unit \"Sec\""), std::string::npos);
  EXPECT_NE(DurationError("5MS").find("unknown time unit"), std::string::npos);
}

TEST(ParseHumanDuration, ConcatenatesComponentsWithOrWithoutWhitespace) {
  EXPECT_EQ(ParseNanos("1h30m"), 5400 * kNanosPerSecond);
  EXPECT_EQ(ParseNanos("1h 30m"), 5400 * kNanosPerSecond);
  EXPECT_EQ(ParseNanos("2h 37min"), 9420 * kNanosPerSecond);
  EXPECT_EQ(ParseNanos("20 min 17 nsec "), 1200 * kNanosPerSecond + 17);
  EXPECT_EQ(ParseNanos("1d2h3m4s5ms6us7ns"),
            (86'400 + 7200 + 180 + 4) * kNanosPerSecond + 5'006'007);
  EXPECT_EQ(ParseNanos("  10s  "), 10 * kNanosPerSecond);
  EXPECT_EQ(ParseNanos("1s 1s 1s"), 3 * kNanosPerSecond);  // repeats add up, as in humantime
  EXPECT_EQ(ParseNanos("1year 2months 3days"),
            (31'557'600 + 2 * 2'630'016 + 3 * 86'400) * kNanosPerSecond);
}

TEST(ParseHumanDuration, AcceptsDecimals) {
  EXPECT_EQ(ParseNanos("1.5h"), 5400 * kNanosPerSecond);
  EXPECT_EQ(ParseNanos("0.5s"), 500'000'000);
  EXPECT_EQ(ParseNanos("1.25m"), 75 * kNanosPerSecond);
  EXPECT_EQ(ParseNanos("2.5ms"), 2'500'000);
  EXPECT_EQ(ParseNanos("1.5d 0.5h"), (36 * 3600 + 1800) * kNanosPerSecond);
  EXPECT_EQ(ParseNanos("0.001s"), 1'000'000);
  EXPECT_EQ(ParseNanos("1.5ns"), 1);  // truncated to whole nanoseconds
  EXPECT_EQ(ParseNanos("0.1234567891234s"), 123'456'789);
}

TEST(ParseHumanDuration, BareZeroIsZero) {
  EXPECT_EQ(ParseNanos("0"), 0);
  EXPECT_EQ(ParseNanos(" 0 "), 0);
  EXPECT_EQ(ParseNanos("0s"), 0);
  EXPECT_EQ(ParseNanos("0ms 0h"), 0);
}

TEST(ParseHumanDuration, ErrorsNameTheProblemAndTheExpectedForm) {
  const std::string missing_unit = DurationError("10");
  EXPECT_NE(missing_unit.find("invalid duration '10'"), std::string::npos) << missing_unit;
  EXPECT_NE(missing_unit.find("time unit needed, for example 10sec or 10ms"), std::string::npos);
  EXPECT_NE(missing_unit.find("expected <number><unit>"), std::string::npos) << missing_unit;

  EXPECT_NE(DurationError("").find("value was empty"), std::string::npos);
  EXPECT_NE(DurationError("   ").find("value was empty"), std::string::npos);
  EXPECT_NE(DurationError("10x").find("unknown time unit \"x\""), std::string::npos);
  EXPECT_NE(DurationError("5 parsecs").find("unknown time unit \"parsecs\""), std::string::npos);
  EXPECT_NE(DurationError("h").find("expected number at offset 0"), std::string::npos);
  EXPECT_NE(DurationError("-5s").find("expected number"), std::string::npos);
  EXPECT_NE(DurationError("10m s").find("expected number at offset 4"), std::string::npos);
  EXPECT_NE(DurationError("1h 30").find("time unit needed"), std::string::npos);
  EXPECT_NE(DurationError("5s!").find("invalid character '!'"), std::string::npos);
  EXPECT_NE(DurationError("5,s").find("invalid character ','"), std::string::npos);
  EXPECT_NE(DurationError("1.h").find("expected digits after the decimal point"),
            std::string::npos);
  EXPECT_NE(DurationError(".5h").find("expected number"), std::string::npos);
  EXPECT_NE(DurationError("99999999999999999999s").find("number is too large"), std::string::npos);
  EXPECT_NE(DurationError("300y").find("number is too large"), std::string::npos);
  EXPECT_EQ(ParseNanos("292y"), 292LL * 31'557'600 * kNanosPerSecond);  // still fits in int64
}

// ---- FormatHumanDuration

TEST(FormatHumanDuration, MatchesHumantime) {
  EXPECT_EQ(FormatHumanDuration(nanoseconds(0)), "0s");
  EXPECT_EQ(FormatHumanDuration(seconds(10)), "10s");
  EXPECT_EQ(FormatHumanDuration(seconds(90)), "1m 30s");
  EXPECT_EQ(FormatHumanDuration(hours(1)), "1h");
  EXPECT_EQ(FormatHumanDuration(seconds(9420)), "2h 37m");
  EXPECT_EQ(FormatHumanDuration(milliseconds(32)), "32ms");
  EXPECT_EQ(FormatHumanDuration(milliseconds(1500)), "1s 500ms");
  EXPECT_EQ(FormatHumanDuration(microseconds(7)), "7us");
  EXPECT_EQ(FormatHumanDuration(nanoseconds(1)), "1ns");
  EXPECT_EQ(FormatHumanDuration(hours(24)), "1day");
  EXPECT_EQ(FormatHumanDuration(hours(48)), "2days");
  EXPECT_EQ(FormatHumanDuration(hours(26)), "1day 2h");
  EXPECT_EQ(FormatHumanDuration(hours(24 * 30)), "30days");
  // A humantime month is 30.44 days, so 31 days is a month and a bit.
  EXPECT_EQ(FormatHumanDuration(hours(24 * 31)), "1month 13h 26m 24s");
  EXPECT_EQ(FormatHumanDuration(seconds(2'630'016)), "1month");
  EXPECT_EQ(FormatHumanDuration(seconds(31'557'600)), "1year");
  EXPECT_EQ(FormatHumanDuration(seconds(2 * 31'557'600 + 2 * 2'630'016)), "2years 2months");
  const nanoseconds everything =
      seconds(2 * 31'557'600 + 2'630'016 + 3 * 86'400 + 4 * 3600 + 5 * 60 + 6) + milliseconds(7) +
      microseconds(8) + nanoseconds(9);
  EXPECT_EQ(FormatHumanDuration(everything), "2years 1month 3days 4h 5m 6s 7ms 8us 9ns");
  EXPECT_EQ(FormatHumanDuration(seconds(-10)), "-10s");
  EXPECT_EQ(FormatHumanDuration(nanoseconds(std::numeric_limits<int64_t>::min())).front(), '-');
}

TEST(FormatHumanDuration, RoundTripsThroughParse) {
  std::mt19937_64 random(42);
  std::vector<int64_t> samples = {1,
                                  999,
                                  1'000'000,
                                  kNanosPerSecond,
                                  86'399 * kNanosPerSecond,
                                  std::numeric_limits<int64_t>::max()};
  for (int i = 0; i < 2000; ++i) {
    samples.push_back(static_cast<int64_t>(random() >> 1));  // any
    samples.push_back(static_cast<int64_t>(random() % (400LL * 86'400)) * kNanosPerSecond);
  }
  for (int64_t nanos : samples) {
    const std::string text = FormatHumanDuration(nanoseconds(nanos));
    EXPECT_EQ(ParseNanos(text), nanos) << text;
  }
}

// ---- every: schedules

TEST(EverySchedule, ParsesAndChecksLimits) {
  auto hourly = ParseEverySpec("1h");
  ASSERT_TRUE(hourly.ok()) << hourly.status().message();
  EXPECT_EQ(hourly->interval(), hours(1));
  auto trimmed = ParseEverySpec("  10s \n");
  ASSERT_TRUE(trimmed.ok());
  EXPECT_EQ(trimmed->interval(), seconds(10));
  EXPECT_TRUE(ParseEverySpec("1y").ok());  // exactly one year is allowed
  EXPECT_TRUE(ParseEverySpec("1ms").ok());

  EXPECT_EQ(ParseEverySpec("1y 1s").status().message(),
            "don't support every schedules of over 1 year");
  EXPECT_EQ(ParseEverySpec("12M").status().message(),
            "don't support every schedules of over 1 year");
  EXPECT_EQ(ParseEverySpec("500us").status().message(), "every schedules must be at least 1ms");
  EXPECT_EQ(ParseEverySpec("0").status().message(), "every schedules must be at least 1ms");
  const std::string bad = ParseEverySpec("soon").status().message();
  EXPECT_EQ(bad.rfind("couldn't parse to duration: invalid duration 'soon'", 0), 0u) << bad;
  EXPECT_EQ(ParseEverySpec("soon").status().code(), Code::kInvalidArgument);
}

TEST(EverySchedule, AlignsToTheEpochInMilliseconds) {
  const EverySchedule hourly(hours(1));
  // Fires at the top of each UTC hour whatever the current time.
  EXPECT_EQ(Iso(hourly.NextAfter(UnixNs(2024, 5, 6, 13, 22, 10, 500'000'000))),
            "2024-05-06T14:00:00");
  EXPECT_EQ(Iso(hourly.NextAfter(UnixNs(2024, 5, 6, 23, 59, 59, 999'999'999))),
            "2024-05-07T00:00:00");
  // Strictly after: an instant on the boundary moves to the next one.
  EXPECT_EQ(Iso(hourly.NextAfter(UnixNs(2024, 5, 6, 14))), "2024-05-06T15:00:00");
  // Less than a millisecond past the boundary still counts as the boundary's millisecond.
  EXPECT_EQ(Iso(hourly.NextAfter(UnixNs(2024, 5, 6, 14, 0, 0, 999))), "2024-05-06T15:00:00");

  const EverySchedule ten_seconds(seconds(10));
  EXPECT_EQ(Iso(ten_seconds.NextAfter(UnixNs(2024, 5, 6, 12, 0, 5))), "2024-05-06T12:00:10");
  EXPECT_EQ(Iso(ten_seconds.NextAfter(UnixNs(2024, 5, 6, 12, 0, 59, 1))), "2024-05-06T12:01:00");

  const EverySchedule daily(hours(24));
  EXPECT_EQ(Iso(daily.NextAfter(UnixNs(2024, 2, 28, 18))), "2024-02-29T00:00:00");

  // Intervals that do not divide an hour are still counted from the epoch.
  const EverySchedule seven_minutes(minutes(7));
  const int64_t now = UnixNs(2024, 5, 6, 13, 22, 10);
  const int64_t interval_ms = 7 * 60 * 1000;
  EXPECT_EQ(seven_minutes.NextAfter(now),
            ((now / 1'000'000 / interval_ms) + 1) * interval_ms * 1'000'000);

  // Only whole milliseconds of the interval count.
  const EverySchedule one_and_a_half_ms(microseconds(1500));
  EXPECT_EQ(one_and_a_half_ms.NextAfter(UnixNs(2024, 1, 1, 0, 0, 0, 300'000)),
            UnixNs(2024, 1, 1, 0, 0, 0, 1'000'000));

  // Before the epoch the next firing is still strictly later.
  EXPECT_EQ(EverySchedule(seconds(1)).NextAfter(-1), 0);
  EXPECT_EQ(EverySchedule(seconds(1)).NextAfter(-kNanosPerSecond), 0);
  EXPECT_EQ(EverySchedule(seconds(1)).NextAfter(-kNanosPerSecond - 1), -kNanosPerSecond);
  // Saturates instead of overflowing.
  EXPECT_EQ(hourly.NextAfter(std::numeric_limits<int64_t>::max()),
            std::numeric_limits<int64_t>::max());
}

// ---- Cron: InfluxDB's 6/7-field form

TEST(Cron, FiresAtTheNextMatchingSecond) {
  EXPECT_EQ(NextCron("0 0 8 * * *", UnixNs(2024, 5, 6, 9)), "2024-05-07T08:00:00");
  EXPECT_EQ(NextCron("0 0 8 * * *", UnixNs(2024, 5, 6, 7, 59, 59, 999'999'999)),
            "2024-05-06T08:00:00");
  EXPECT_EQ(NextCron("0 0 8 * * *", UnixNs(2024, 5, 6, 8)), "2024-05-07T08:00:00");
  EXPECT_EQ(NextCron("0 0 8 * * *", UnixNs(2024, 12, 31, 9)), "2025-01-01T08:00:00");
  EXPECT_EQ(NextCron("* * * * * *", UnixNs(2024, 5, 6, 12, 0, 0, 500'000'000)),
            "2024-05-06T12:00:01");
  EXPECT_EQ(NextCron("* * * * * *", UnixNs(2024, 5, 6, 23, 59, 59)), "2024-05-07T00:00:00");
}

TEST(Cron, StepsRangesAndLists) {
  EXPECT_EQ(NextCron("*/15 * * * * *", UnixNs(2024, 5, 6, 12, 0, 7)), "2024-05-06T12:00:15");
  EXPECT_EQ(NextCron("*/15 * * * * *", UnixNs(2024, 5, 6, 12, 0, 45)), "2024-05-06T12:01:00");
  EXPECT_EQ(NextCron("0 5/20 * * * *", UnixNs(2024, 5, 6, 12, 26)), "2024-05-06T12:45:00");
  EXPECT_EQ(NextCron("0 5/20 * * * *", UnixNs(2024, 5, 6, 12, 46)), "2024-05-06T13:05:00");
  EXPECT_EQ(NextCron("0 10-30/10 * * * *", UnixNs(2024, 5, 6, 12, 21)), "2024-05-06T12:30:00");
  EXPECT_EQ(NextCron("0 10-30/10 * * * *", UnixNs(2024, 5, 6, 12, 31)), "2024-05-06T13:10:00");
  EXPECT_EQ(NextCron("0,30 * * * * *", UnixNs(2024, 5, 6, 12, 0, 1)), "2024-05-06T12:00:30");
  EXPECT_EQ(NextCron("0 0 9-17 * * *", UnixNs(2024, 5, 6, 17, 0, 1)), "2024-05-07T09:00:00");
  EXPECT_EQ(NextCron("0 0 0 31 * *", UnixNs(2024, 4, 1)), "2024-05-31T00:00:00");
  EXPECT_EQ(NextCron("  0  0\t0 1 * *  ", UnixNs(2024, 4, 2)), "2024-05-01T00:00:00");
}

TEST(Cron, YearField) {
  EXPECT_EQ(NextCron("0 0 0 1 1 * 2030", UnixNs(2024, 5, 6)), "2030-01-01T00:00:00");
  EXPECT_EQ(NextCron("0 0 0 1 1 * 2030", UnixNs(2030, 1, 1)), "nullopt");
  EXPECT_EQ(NextCron("0 0 0 1 1 * 2025-2026", UnixNs(2025, 6, 1)), "2026-01-01T00:00:00");
  EXPECT_EQ(NextCron("0 0 0 1 1 * 2030/10", UnixNs(2031, 1, 1)), "2040-01-01T00:00:00");
  EXPECT_EQ(NextCron("0 0 0 1 1 * 2024", UnixNs(2024, 5, 6)), "nullopt");
  EXPECT_EQ(NextCron("* * * * * * 1970", UnixNs(1969, 12, 31, 23, 59, 59)), "1970-01-01T00:00:00");
}

TEST(Cron, DaysOfWeekCountFromSundayAsOne) {
  // 2024-05-04 is a Saturday, 2024-05-06 a Monday.
  EXPECT_EQ(NextCron("0 0 12 * * Mon-Fri", UnixNs(2024, 5, 4, 13)), "2024-05-06T12:00:00");
  EXPECT_EQ(NextCron("0 0 12 * * Mon-Fri", UnixNs(2024, 5, 6, 12)), "2024-05-07T12:00:00");
  EXPECT_EQ(NextCron("0 0 12 * * Mon-Fri", UnixNs(2024, 5, 10, 12)), "2024-05-13T12:00:00");
  EXPECT_EQ(NextCron("0 0 12 * * 2-6", UnixNs(2024, 5, 4, 13)), "2024-05-06T12:00:00");
  EXPECT_EQ(NextCron("0 0 0 * * 1", UnixNs(2024, 5, 6)), "2024-05-12T00:00:00");  // Sunday
  EXPECT_EQ(NextCron("0 0 0 * * Sun", UnixNs(2024, 5, 6)), "2024-05-12T00:00:00");
  EXPECT_EQ(NextCron("0 0 0 * * sunday", UnixNs(2024, 5, 6)), "2024-05-12T00:00:00");
  EXPECT_EQ(NextCron("0 0 0 * * 7", UnixNs(2024, 5, 6)), "2024-05-11T00:00:00");  // Saturday
  EXPECT_EQ(NextCron("0 0 0 * * 2", UnixNs(2024, 5, 6)), "2024-05-13T00:00:00");  // Monday
  EXPECT_EQ(NextCron("0 0 0 * * MON,wed,FRIDAY", UnixNs(2024, 5, 6)), "2024-05-08T00:00:00");
  EXPECT_EQ(NextCron("0 0 0 * * tues", UnixNs(2024, 5, 6)), "2024-05-07T00:00:00");
  EXPECT_EQ(NextCron("0 0 0 * * Thurs", UnixNs(2024, 5, 6)), "2024-05-09T00:00:00");
  EXPECT_EQ(NextCron("0 0 0 ? * Mon", UnixNs(2024, 5, 6)), "2024-05-13T00:00:00");
  EXPECT_EQ(NextCron("0 0 0 1 * ?", UnixNs(2024, 5, 6)), "2024-06-01T00:00:00");
  EXPECT_NE(CronError("0 0 0 * * 0").find("day-of-week field '0': 0 is outside 1-7"),
            std::string::npos);
}

TEST(Cron, DayOfMonthAndDayOfWeekMustBothMatch) {
  // Friday the 13th: 2024-09-13, then 2024-12-13.
  EXPECT_EQ(NextCron("0 0 0 13 * Fri", UnixNs(2024, 5, 6)), "2024-09-13T00:00:00");
  EXPECT_EQ(NextCron("0 0 0 13 * 6", UnixNs(2024, 9, 13)), "2024-12-13T00:00:00");
}

TEST(Cron, MonthNames) {
  EXPECT_EQ(NextCron("0 0 0 1 Jan-Mar *", UnixNs(2024, 5, 6)), "2025-01-01T00:00:00");
  EXPECT_EQ(NextCron("0 0 0 1 september *", UnixNs(2024, 5, 6)), "2024-09-01T00:00:00");
  EXPECT_EQ(NextCron("0 0 0 1 JUN,dec *", UnixNs(2024, 6, 2)), "2024-12-01T00:00:00");
  EXPECT_EQ(NextCron("0 0 0 1 Feb-Nov/3 *", UnixNs(2024, 3, 1)), "2024-05-01T00:00:00");
}

TEST(Cron, LeapDaysAndImpossibleDates) {
  EXPECT_EQ(NextCron("0 0 0 29 2 *", UnixNs(2024, 3, 1)), "2028-02-29T00:00:00");
  EXPECT_EQ(NextCron("0 0 0 29 2 *", UnixNs(2023, 6, 1)), "2024-02-29T00:00:00");
  // 2100 is not a leap year and is the last year a schedule can fire.
  EXPECT_EQ(NextCron("0 0 0 29 2 *", UnixNs(2096, 3, 1)), "nullopt");
  EXPECT_EQ(NextCron("0 0 0 28 2 *", UnixNs(2099, 3, 1)), "2100-02-28T00:00:00");
  EXPECT_EQ(NextCron("0 0 0 31 2 *", UnixNs(2024, 1, 1)), "nullopt");
  EXPECT_EQ(NextCron("0 0 0 30 2 *", UnixNs(1970, 1, 1)), "nullopt");
  EXPECT_EQ(NextCron("0 0 0 31 4,6,9,11 *", UnixNs(2024, 1, 1)), "nullopt");
  EXPECT_EQ(NextCron("* * * * * *", UnixNs(2100, 12, 31, 23, 59, 59)), "nullopt");
  EXPECT_EQ(Cron("* * * * * *").NextAfter(std::numeric_limits<int64_t>::max()), std::nullopt);
}

TEST(Cron, InstantsBeforeTheEpochStartIn1970) {
  EXPECT_EQ(Cron("0 0 0 1 1 *").NextAfter(-1'000'000'000'000'000'000), 0);
  EXPECT_EQ(Cron("0 0 0 1 1 *").NextAfter(std::numeric_limits<int64_t>::min()), 0);
  EXPECT_EQ(NextCron("30 * * * * *", -1), "1970-01-01T00:00:30");
}

TEST(Cron, Shorthands) {
  const int64_t monday_noon = UnixNs(2024, 5, 6, 12);
  EXPECT_EQ(NextCron("@daily", monday_noon), "2024-05-07T00:00:00");
  EXPECT_EQ(NextCron("@midnight", monday_noon), "2024-05-07T00:00:00");
  EXPECT_EQ(NextCron("@hourly", monday_noon), "2024-05-06T13:00:00");
  EXPECT_EQ(NextCron("@weekly", monday_noon), "2024-05-12T00:00:00");  // Sunday
  EXPECT_EQ(NextCron("@monthly", monday_noon), "2024-06-01T00:00:00");
  EXPECT_EQ(NextCron("@yearly", monday_noon), "2025-01-01T00:00:00");
  EXPECT_EQ(NextCron("@annually", monday_noon), "2025-01-01T00:00:00");
  EXPECT_EQ(NextCron("  @daily \n", monday_noon), "2024-05-07T00:00:00");
  EXPECT_NE(CronError("@every").find("unknown shorthand"), std::string::npos);
  EXPECT_NE(CronError("@daily 5").find("unknown shorthand"), std::string::npos);
}

// ---- Cron: standard 5-field crontab form

TEST(CrontabCron, FiveFieldsMeanMinuteHourDayMonthWeekday) {
  EXPECT_EQ(NextCron("0 8 * * *", UnixNs(2024, 5, 6, 9)), "2024-05-07T08:00:00");
  EXPECT_EQ(NextCron("0 8 * * *", UnixNs(2024, 5, 6, 7, 30)), "2024-05-06T08:00:00");
  EXPECT_EQ(NextCron("*/5 * * * *", UnixNs(2024, 5, 6, 7, 31, 10)), "2024-05-06T07:35:00");
  EXPECT_EQ(NextCron("* * * * *", UnixNs(2024, 5, 6, 7, 31, 10)), "2024-05-06T07:32:00");
}

TEST(CrontabCron, WeekdaysCountFromSundayAsZeroOrSeven) {
  const int64_t monday = UnixNs(2024, 5, 6, 1);
  EXPECT_EQ(NextCron("0 0 * * 0", monday), "2024-05-12T00:00:00");  // Sunday
  EXPECT_EQ(NextCron("0 0 * * 7", monday), "2024-05-12T00:00:00");  // Sunday again
  EXPECT_EQ(NextCron("0 0 * * Sun", monday), "2024-05-12T00:00:00");
  EXPECT_EQ(NextCron("0 0 * * 1", monday), "2024-05-13T00:00:00");  // Monday
  EXPECT_EQ(NextCron("0 0 * * 6", monday), "2024-05-11T00:00:00");  // Saturday
  EXPECT_EQ(NextCron("0 0 * * Mon-Fri", UnixNs(2024, 5, 10, 1)), "2024-05-13T00:00:00");
  EXPECT_EQ(NextCron("0 0 * * 5-7", monday), "2024-05-10T00:00:00");  // Fri, Sat, Sun
  EXPECT_NE(CronError("0 0 * * 8").find("day-of-week field '8': 8 is outside 0-7"),
            std::string::npos);
}

TEST(CrontabCron, EitherDayFieldMatchesWhenBothAreRestricted) {
  // The 13th or any Friday: Friday 2024-05-10 comes first, then Monday the 13th.
  EXPECT_EQ(NextCron("0 0 13 * 5", UnixNs(2024, 5, 6)), "2024-05-10T00:00:00");
  EXPECT_EQ(NextCron("0 0 13 * 5", UnixNs(2024, 5, 11)), "2024-05-13T00:00:00");
  // A field starting with '*' counts as unrestricted (Vixie cron), so both must match:
  // Mondays on odd days only. 2024-05-06 is an even-numbered Monday.
  EXPECT_EQ(NextCron("0 0 */2 * 1", UnixNs(2024, 5, 6)), "2024-05-13T00:00:00");
  EXPECT_EQ(NextCron("0 0 1 * *", UnixNs(2024, 5, 6)), "2024-06-01T00:00:00");
  EXPECT_EQ(NextCron("0 0 * * 3", UnixNs(2024, 5, 6)), "2024-05-08T00:00:00");
}

// ---- Cron: rejected expressions

TEST(Cron, RejectsInvalidExpressions) {
  const std::string wrong_count = CronError("* * * *");
  EXPECT_EQ(wrong_count.rfind("invalid cron expression '* * * *': expected 6 or 7 fields", 0), 0u)
      << wrong_count;
  EXPECT_NE(wrong_count.find("found 4"), std::string::npos);
  EXPECT_NE(CronError("* * * * * * * *").find("found 8"), std::string::npos);
  EXPECT_NE(CronError("").find("found 0"), std::string::npos);
  EXPECT_NE(CronError("60 * * * * *").find("seconds field '60': 60 is outside 0-59"),
            std::string::npos);
  EXPECT_NE(CronError("* 60 * * * *").find("minutes field"), std::string::npos);
  EXPECT_NE(CronError("* * 24 * * *").find("hours field '24': 24 is outside 0-23"),
            std::string::npos);
  EXPECT_NE(CronError("* * * 0 * *").find("day-of-month field '0': 0 is outside 1-31"),
            std::string::npos);
  EXPECT_NE(CronError("* * * 32 * *").find("day-of-month"), std::string::npos);
  EXPECT_NE(CronError("* * * * 13 *").find("month field '13': 13 is outside 1-12"),
            std::string::npos);
  EXPECT_NE(CronError("* * * * 0 *").find("month field"), std::string::npos);
  EXPECT_NE(CronError("* * * * * 8").find("day-of-week"), std::string::npos);
  EXPECT_NE(CronError("* * * * * * 1969").find("year field '1969': 1969 is outside 1970-2100"),
            std::string::npos);
  EXPECT_NE(CronError("* * * * * * 2101").find("year field"), std::string::npos);
  EXPECT_NE(CronError("? * * * * *").find("seconds field '?'"), std::string::npos);
  EXPECT_NE(CronError("* * * * ? *").find("month field '?'"), std::string::npos);
  EXPECT_NE(CronError("5-1 * * * * *").find("range 5-1 runs backwards"), std::string::npos);
  EXPECT_NE(CronError("0 0 0 * * Fri-Mon").find("runs backwards"), std::string::npos);
  EXPECT_NE(CronError("*/0 * * * * *").find("step '0' must be a number from 1 to 59"),
            std::string::npos);
  EXPECT_NE(CronError("*/60 * * * * *").find("step '60'"), std::string::npos);
  EXPECT_NE(CronError("*/x * * * * *").find("step 'x'"), std::string::npos);
  EXPECT_NE(CronError("1,,2 * * * * *").find("empty list element"), std::string::npos);
  EXPECT_NE(CronError("1, * * * * *").find("empty list element"), std::string::npos);
  EXPECT_NE(CronError("abc * * * * *").find("'abc' is not a valid seconds value"),
            std::string::npos);
  EXPECT_NE(CronError("* * * * Foo *").find("'Foo' is not a valid month value"), std::string::npos);
  EXPECT_NE(CronError("* * * * * Jan").find("'Jan' is not a valid day-of-week value"),
            std::string::npos);
  EXPECT_NE(CronError("0 0 0 * * Mon/2").find("a step must follow"), std::string::npos);
  EXPECT_NE(CronError("-5 * * * * *").find("seconds field"), std::string::npos);
  EXPECT_NE(CronError("+5 * * * * *").find("seconds field"), std::string::npos);
  EXPECT_NE(CronError("99999999999 * * * * *").find("too large"), std::string::npos);
  EXPECT_NE(CronError("* 24 * * *").find("hours field"), std::string::npos);
  EXPECT_EQ(ParseCron("bogus").status().code(), Code::kInvalidArgument);
}

// ---- Cron: brute-force cross-check

struct CivilSecond {
  int year;
  unsigned month, day, weekday;  // weekday 0 = Sunday
  int hour, minute, second;
};

CivilSecond ToCivil(int64_t unix_seconds) {
  using namespace std::chrono;
  const sys_seconds time{seconds{unix_seconds}};
  const sys_days day = floor<days>(time);
  const year_month_day ymd{day};
  const hh_mm_ss<seconds> clock{time - day};
  return {static_cast<int>(ymd.year()),
          static_cast<unsigned>(ymd.month()),
          static_cast<unsigned>(ymd.day()),
          weekday{day}.c_encoding(),
          static_cast<int>(clock.hours().count()),
          static_cast<int>(clock.minutes().count()),
          static_cast<int>(clock.seconds().count())};
}

// Compares NextAfter with a second-by-second scan against an independent predicate, from
// random instants and from the previous firing (checking "strictly after").
void CrossCheck(std::string_view expression, const std::function<bool(const CivilSecond&)>& fires,
                int64_t max_gap_seconds) {
  const CronSchedule schedule = Cron(expression);
  std::mt19937_64 random(std::hash<std::string_view>()(expression));
  const int64_t range_begin = UnixNs(2020, 1, 1), range_end = UnixNs(2032, 1, 1);
  for (int sample = 0; sample < 12; ++sample) {
    int64_t after = range_begin + static_cast<int64_t>(random() % (range_end - range_begin));
    for (int chained = 0; chained < 3; ++chained) {
      int64_t expected = -1;
      const int64_t first = after >= 0 ? after / kNanosPerSecond + 1 : 0;
      for (int64_t t = first; t < first + max_gap_seconds; ++t) {
        if (fires(ToCivil(t))) {
          expected = t * kNanosPerSecond;
          break;
        }
      }
      ASSERT_NE(expected, -1) << expression << " after " << Iso(after);
      const std::optional<int64_t> actual = schedule.NextAfter(after);
      ASSERT_EQ(Iso(actual), Iso(expected)) << expression << " after " << Iso(after);
      after = expected;
    }
  }
}

TEST(CronCrossCheck, AgreesWithBruteForce) {
  CrossCheck(
      "0 */15 9-17 * * Mon-Fri",
      [](const CivilSecond& c) {
        return c.second == 0 && c.minute % 15 == 0 && c.hour >= 9 && c.hour <= 17 &&
               c.weekday >= 1 && c.weekday <= 5;
      },
      4 * 86'400);
  CrossCheck(
      "30 5,35 */6 1-10 * *",
      [](const CivilSecond& c) {
        return c.second == 30 && (c.minute == 5 || c.minute == 35) && c.hour % 6 == 0 &&
               c.day <= 10;
      },
      23 * 86'400);
  CrossCheck(
      "*/7 * * * * *", [](const CivilSecond& c) { return c.second % 7 == 0; }, 60);
  CrossCheck(
      "*/20 3 * * 2,4",
      [](const CivilSecond& c) {
        return c.second == 0 && c.minute % 20 == 0 && c.hour == 3 &&
               (c.weekday == 2 || c.weekday == 4);
      },
      8 * 86'400);
  CrossCheck(
      "0 12 1,15 * Sun",
      [](const CivilSecond& c) {
        return c.second == 0 && c.minute == 0 && c.hour == 12 &&
               (c.day == 1 || c.day == 15 || c.weekday == 0);
      },
      8 * 86'400);
  CrossCheck(
      "59 59 23 28-31 * *",
      [](const CivilSecond& c) {
        return c.second == 59 && c.minute == 59 && c.hour == 23 && c.day >= 28;
      },
      33 * 86'400);
}

// ---- Trigger specifications

TriggerSpec Spec(std::string_view text) {
  auto parsed = ParseTriggerSpec(text);
  EXPECT_TRUE(parsed.ok()) << text << ": " << parsed.status().message();
  return parsed.ok() ? parsed.value() : TriggerSpec();
}

std::string SpecError(std::string_view text) {
  auto parsed = ParseTriggerSpec(text);
  EXPECT_FALSE(parsed.ok()) << "'" << text << "' unexpectedly parsed";
  return parsed.ok() ? "" : parsed.status().message();
}

constexpr char kExpectedForms[] =
    "expect one of the following forms: 'table:<TABLE_NAME>', 'all_tables', "
    "'cron:<CRON_EXPRESSION>', 'every:<DURATION>', or 'request:<PATH>'";

TEST(TriggerSpec, Table) {
  const TriggerSpec spec = Spec("table:cpu");
  EXPECT_EQ(spec.kind, TriggerSpec::Kind::kTable);
  EXPECT_EQ(spec.table_name, "cpu");
  EXPECT_EQ(spec.CanonicalString(), "table:cpu");
  EXPECT_EQ(spec.SystemTableJson(), R"({"single_table_wal_write":{"table_name":"cpu"}})");
  EXPECT_EQ(spec.NextAfter(0), std::nullopt);
  EXPECT_EQ(Spec("  table:  my table \n").table_name, "my table");
  EXPECT_EQ(Spec("table:table:cpu").table_name, "cpu");  // InfluxDB strips repeated prefixes
  EXPECT_EQ(SpecError("table:"), "failed to parse trigger from table:: table name is empty");
  EXPECT_EQ(SpecError(" table:   "), "failed to parse trigger from table:: table name is empty");
}

TEST(TriggerSpec, AllTables) {
  const TriggerSpec spec = Spec(" all_tables ");
  EXPECT_EQ(spec.kind, TriggerSpec::Kind::kAllTables);
  EXPECT_EQ(spec.CanonicalString(), "all_tables");
  EXPECT_EQ(spec.SystemTableJson(), "\"all_tables_wal_write\"");
  EXPECT_EQ(SpecError("all_tables:"),
            std::string("failed to parse trigger from all_tables:: ") + kExpectedForms);
  EXPECT_EQ(SpecError("ALL_TABLES"),
            std::string("failed to parse trigger from ALL_TABLES: ") + kExpectedForms);
}

TEST(TriggerSpec, Cron) {
  const TriggerSpec spec = Spec("cron: 0 0 8 * * * ");
  EXPECT_EQ(spec.kind, TriggerSpec::Kind::kCron);
  EXPECT_EQ(spec.cron_expression, "0 0 8 * * *");
  EXPECT_EQ(spec.CanonicalString(), "cron:0 0 8 * * *");
  EXPECT_EQ(spec.SystemTableJson(), R"({"schedule":{"schedule":"0 0 8 * * *"}})");
  EXPECT_EQ(Iso(spec.NextAfter(UnixNs(2024, 5, 6, 9))), "2024-05-07T08:00:00");
  EXPECT_EQ(Spec("cron:@daily").CanonicalString(), "cron:@daily");
  EXPECT_EQ(Spec("cron:0 8 * * *").CanonicalString(), "cron:0 8 * * *");

  EXPECT_EQ(SpecError("cron:"), "failed to parse trigger from cron:: cron expression is empty");
  const std::string bad = SpecError("cron:0 0 25 * * *");
  EXPECT_EQ(bad.rfind("failed to parse trigger from cron:0 0 25 * * *: invalid cron expression "
                      "'0 0 25 * * *': hours field '25'",
                      0),
            0u)
      << bad;
}

TEST(TriggerSpec, Every) {
  const TriggerSpec spec = Spec("every:10s");
  EXPECT_EQ(spec.kind, TriggerSpec::Kind::kEvery);
  EXPECT_EQ(spec.every_interval, seconds(10));
  EXPECT_EQ(spec.CanonicalString(), "every:10s");
  EXPECT_EQ(spec.SystemTableJson(), R"({"every":{"duration":{"secs":10,"nanos":0}}})");
  EXPECT_EQ(Iso(spec.NextAfter(UnixNs(2024, 5, 6, 12, 0, 5))), "2024-05-06T12:00:10");

  EXPECT_EQ(Spec("every:90s").CanonicalString(), "every:1m 30s");
  EXPECT_EQ(Spec("every: 1.5h ").CanonicalString(), "every:1h 30m");
  EXPECT_EQ(Spec("every:1h 30m").CanonicalString(), "every:1h 30m");
  EXPECT_EQ(Spec("every:1500ms").SystemTableJson(),
            R"({"every":{"duration":{"secs":1,"nanos":500000000}}})");
  EXPECT_EQ(Spec("every:1y").SystemTableJson(),
            R"({"every":{"duration":{"secs":31557600,"nanos":0}}})");
  EXPECT_EQ(Spec("every:1h").NextAfter(UnixNs(2024, 5, 6, 13, 22)), UnixNs(2024, 5, 6, 14));

  EXPECT_EQ(SpecError("every:2y"),
            "failed to parse trigger from every:2y: don't support every schedules of over 1 year");
  EXPECT_EQ(SpecError("every:0"),
            "failed to parse trigger from every:0: every schedules must be at least 1ms");
  const std::string bad = SpecError("every:often");
  EXPECT_EQ(bad.rfind("failed to parse trigger from every:often: couldn't parse to duration: ", 0),
            0u)
      << bad;
  EXPECT_NE(SpecError("every:").find("couldn't parse to duration"), std::string::npos);
}

TEST(TriggerSpec, RequestAndPathAreTheSame) {
  const TriggerSpec request = Spec("request:hook");
  EXPECT_EQ(request.kind, TriggerSpec::Kind::kRequest);
  EXPECT_EQ(request.request_path, "hook");
  EXPECT_EQ(request.CanonicalString(), "request:hook");
  EXPECT_EQ(request.SystemTableJson(), R"({"request_path":{"path":"hook"}})");
  EXPECT_EQ(request.NextAfter(0), std::nullopt);

  const TriggerSpec path = Spec(" path: my/hook ");
  EXPECT_EQ(path.kind, TriggerSpec::Kind::kRequest);
  EXPECT_EQ(path.request_path, "my/hook");
  EXPECT_EQ(path.CanonicalString(), "request:my/hook");
  EXPECT_EQ(path.SystemTableJson(), R"({"request_path":{"path":"my/hook"}})");

  EXPECT_EQ(SpecError("request:"), "failed to parse trigger from request:: request path is empty");
  EXPECT_EQ(SpecError("path:  "), "failed to parse trigger from path:: request path is empty");
}

TEST(TriggerSpec, JsonStringsAreEscaped) {
  EXPECT_EQ(Spec("table:we\"ird\\name").SystemTableJson(),
            R"({"single_table_wal_write":{"table_name":"we\"ird\\name"}})");
  EXPECT_EQ(Spec("request:a\x01z").SystemTableJson(), R"({"request_path":{"path":"a\u0001z"}})");
  EXPECT_EQ(Spec("table:a\tb").SystemTableJson(),
            R"({"single_table_wal_write":{"table_name":"a\tb"}})");
  EXPECT_EQ(Spec("table:caf\xC3\xA9").SystemTableJson(),
            "{\"single_table_wal_write\":{\"table_name\":\"caf\xC3\xA9\"}}");
}

TEST(TriggerSpec, UnknownFormsListTheExpectedOnes) {
  EXPECT_EQ(SpecError("  foo  "),
            std::string("failed to parse trigger from foo: ") + kExpectedForms);
  EXPECT_EQ(SpecError(""), std::string("failed to parse trigger from : ") + kExpectedForms);
  EXPECT_EQ(SpecError("tables:cpu"),
            std::string("failed to parse trigger from tables:cpu: ") + kExpectedForms);
  EXPECT_EQ(SpecError("Table:cpu"),
            std::string("failed to parse trigger from Table:cpu: ") + kExpectedForms);
  EXPECT_EQ(ParseTriggerSpec("foo").status().code(), Code::kInvalidArgument);
}

}  // namespace
}  // namespace riffle::schedule
