#include "schedule/schedule.h"

#include <gtest/gtest.h>

namespace riffle::schedule {
namespace {

constexpr int64_t kSec = 1000000000;
// 2024-01-01T00:00:00Z was a Monday.
constexpr int64_t k2024 = 1704067200LL * kSec;

TEST(Duration, UnitsAndForms) {
  EXPECT_EQ(ParseHumanDuration("10s")->count(), 10 * kSec);
  EXPECT_EQ(ParseHumanDuration("5m")->count(), 300 * kSec);
  EXPECT_EQ(ParseHumanDuration("1h30m")->count(), 5400 * kSec);
  EXPECT_EQ(ParseHumanDuration("1h 30m")->count(), 5400 * kSec);
  EXPECT_EQ(ParseHumanDuration("1.5h")->count(), 5400 * kSec);
  EXPECT_EQ(ParseHumanDuration("100ms")->count(), 100000000);
  EXPECT_EQ(ParseHumanDuration("2d")->count(), 2 * 86400 * kSec);
  EXPECT_EQ(ParseHumanDuration("1w")->count(), 7 * 86400 * kSec);
  EXPECT_EQ(ParseHumanDuration("1M")->count(), 2630016 * kSec);
  EXPECT_EQ(ParseHumanDuration("1y")->count(), 31557600 * kSec);
  EXPECT_EQ(ParseHumanDuration("0")->count(), 0);
  EXPECT_EQ(ParseHumanDuration("3 seconds")->count(), 3 * kSec);
  for (const char* bad : {"", "10", "abc", "10 parsecs", "h"}) EXPECT_FALSE(ParseHumanDuration(bad).ok()) << bad;
}

TEST(Duration, Formatting) {
  EXPECT_EQ(FormatHumanDuration(std::chrono::seconds(10)), "10s");
  EXPECT_EQ(FormatHumanDuration(std::chrono::seconds(90)), "1m 30s");
  EXPECT_EQ(FormatHumanDuration(std::chrono::hours(1)), "1h");
  EXPECT_EQ(FormatHumanDuration(std::chrono::hours(50)), "2days 2h");
  EXPECT_EQ(FormatHumanDuration(std::chrono::milliseconds(1500)), "1s 500ms");
}

int64_t Next(const char* expr, int64_t after) {
  auto c = ParseCron(expr);
  EXPECT_TRUE(c.ok()) << expr << ": " << c.status().message();
  if (!c.ok()) return -1;
  return c->NextAfter(after).value_or(-1);
}

TEST(Cron, SixFieldWithSeconds) {
  EXPECT_EQ(Next("* * * * * *", k2024), k2024 + kSec);
  EXPECT_EQ(Next("*/15 * * * * *", k2024 + 1), k2024 + 15 * kSec);
  EXPECT_EQ(Next("0 0 8 * * *", k2024), k2024 + 8 * 3600 * kSec);
  EXPECT_EQ(Next("30 5 * * * *", k2024), k2024 + 330 * kSec);
}

TEST(Cron, DayOfWeekSundayIsOneInSixFieldForm) {
  // The first Sunday after Monday 2024-01-01 is 2024-01-07.
  EXPECT_EQ(Next("0 0 0 * * 1", k2024), k2024 + 6 * 86400 * kSec);
  EXPECT_EQ(Next("0 0 0 * * Sun", k2024), k2024 + 6 * 86400 * kSec);
  EXPECT_EQ(Next("0 0 12 * * Mon-Fri", k2024), k2024 + 12 * 3600 * kSec);
  EXPECT_FALSE(ParseCron("0 0 0 * * 0").ok());
}

TEST(Cron, FiveFieldCrontab) {
  EXPECT_EQ(Next("0 8 * * *", k2024), k2024 + 8 * 3600 * kSec);
  EXPECT_EQ(Next("0 0 * * 0", k2024), k2024 + 6 * 86400 * kSec);
  EXPECT_EQ(Next("0 0 * * 7", k2024), k2024 + 6 * 86400 * kSec);
  // Standard cron: day-of-month OR day-of-week when both are restricted.
  EXPECT_EQ(Next("0 0 15 * 0", k2024), k2024 + 6 * 86400 * kSec);
}

TEST(Cron, YearsLeapDaysAndShorthands) {
  EXPECT_EQ(Next("0 0 0 1 1 * 2030", k2024), 1893456000LL * kSec);
  EXPECT_EQ(Next("0 0 0 29 2 *", k2024), 1709164800LL * kSec);  // 2024-02-29
  EXPECT_EQ(Next("@daily", k2024), k2024 + 86400 * kSec);
  EXPECT_EQ(Next("@hourly", k2024), k2024 + 3600 * kSec);
  auto impossible = ParseCron("0 0 0 31 2 *");
  ASSERT_TRUE(impossible.ok());
  EXPECT_FALSE(impossible->NextAfter(k2024).has_value());
}

TEST(Cron, RejectsBadExpressions) {
  for (const char* bad : {"", "* * *", "60 * * * * *", "* 60 * * * *", "* * 24 * * *", "* * * 0 * *",
                          "* * * * 13 *", "a b c d e f", "*/0 * * * * *", "5-1 * * * * *"})
    EXPECT_FALSE(ParseCron(bad).ok()) << bad;
}

}  // namespace
}  // namespace riffle::schedule
