// UTC civil-calendar arithmetic for the schedule parsers (not part of the public API).
#pragma once

#include <array>
#include <cstdint>

namespace riffle::schedule::internal {

// Division rounding toward negative infinity, so instants before 1970 land in the right
// second, day or interval.
inline int64_t FloorDiv(int64_t numerator, int64_t denominator) {
  int64_t quotient = numerator / denominator;
  if ((numerator % denominator != 0) && ((numerator < 0) != (denominator < 0))) --quotient;
  return quotient;
}

// Proleptic Gregorian calendar, after Howard Hinnant's days_from_civil and civil_from_days
// (http://howardhinnant.github.io/date_algorithms.html). Eras are 400-year cycles starting on
// March 1st so that the leap day falls at the end of each year.

// Days since 1970-01-01 of the given date.
inline int64_t DaysFromCivil(int64_t year, int month, int day) {
  if (month <= 2) --year;  // January and February belong to the previous March-based year
  const int64_t era = FloorDiv(year, 400);
  const int64_t year_of_era = year - era * 400;  // [0, 399]
  const int64_t day_of_year = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1;
  const int64_t day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
  return era * 146'097 + day_of_era - 719'468;  // 719468 = days from 0000-03-01 to 1970-01-01
}

struct CivilDate {
  int64_t year;
  int month;  // 1..12
  int day;    // 1..31
};

inline CivilDate CivilFromDays(int64_t days_since_epoch) {
  const int64_t days = days_since_epoch + 719'468;
  const int64_t era = FloorDiv(days, 146'097);
  const int64_t day_of_era = days - era * 146'097;  // [0, 146096]
  const int64_t year_of_era =
      (day_of_era - day_of_era / 1460 + day_of_era / 36'524 - day_of_era / 146'096) / 365;
  const int64_t day_of_year =
      day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
  const int64_t month_from_march = (5 * day_of_year + 2) / 153;  // [0, 11], 0 = March
  const int day = static_cast<int>(day_of_year - (153 * month_from_march + 2) / 5 + 1);
  const int month =
      static_cast<int>(month_from_march < 10 ? month_from_march + 3 : month_from_march - 9);
  return {year_of_era + era * 400 + (month <= 2 ? 1 : 0), month, day};
}

inline bool IsLeapYear(int64_t year) {
  return year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
}

inline int DaysInMonth(int64_t year, int month) {
  static constexpr std::array<int, 12> kDays = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return month == 2 && IsLeapYear(year) ? 29 : kDays[month - 1];
}

// 0 = Sunday; 1970-01-01 was a Thursday.
inline int WeekdayFromDays(int64_t days_since_epoch) {
  return static_cast<int>(days_since_epoch - FloorDiv(days_since_epoch + 4, 7) * 7 + 4);
}

}  // namespace riffle::schedule::internal
