// Cron expressions: parsing (two dialects, see schedule.h) and next-firing search in UTC.
#include <algorithm>
#include <array>
#include <charconv>
#include <cstdint>
#include <string>
#include <vector>

#include "schedule/civil_date.h"
#include "schedule/schedule.h"
#include "schedule/text_util.h"

namespace riffle::schedule {
namespace {

using internal::CivilDate;
using internal::CivilFromDays;
using internal::DaysFromCivil;
using internal::DaysInMonth;
using internal::FloorDiv;
using internal::WeekdayFromDays;

constexpr int64_t kNanosPerSecond = 1'000'000'000;
constexpr int64_t kSecondsPerDay = 86'400;
// The `cron` crate's year range; schedules without a year field stop here too.
constexpr int kFirstYear = 1970;
constexpr int kLastYear = 2100;

// ---- Field parsing.

enum class FieldNames { kNone, kMonths, kWeekdays };

struct FieldRule {
  std::string_view name;  // as it appears in error messages
  int min_value;
  int max_value;
  FieldNames names;
  int first_name_value;  // value of "jan" / "sun"
  bool allows_question_mark;
};

constexpr FieldRule kSecondRule{"seconds", 0, 59, FieldNames::kNone, 0, false};
constexpr FieldRule kMinuteRule{"minutes", 0, 59, FieldNames::kNone, 0, false};
constexpr FieldRule kHourRule{"hours", 0, 23, FieldNames::kNone, 0, false};
constexpr FieldRule kDayOfMonthRule{"day-of-month", 1, 31, FieldNames::kNone, 0, true};
constexpr FieldRule kMonthRule{"month", 1, 12, FieldNames::kMonths, 1, false};
// The `cron` crate numbers days Sunday = 1 .. Saturday = 7; crontab uses 0-7, 0 and 7 Sunday.
constexpr FieldRule kCrateDayOfWeekRule{"day-of-week", 1, 7, FieldNames::kWeekdays, 1, true};
constexpr FieldRule kCrontabDayOfWeekRule{"day-of-week", 0, 7, FieldNames::kWeekdays, 0, true};
constexpr FieldRule kYearRule{"year", kFirstYear, kLastYear, FieldNames::kNone, 0, false};

// Bit (value - rule.min_value) is set for each selected value; the year field is the widest.
using ValueSet = std::bitset<kLastYear - kFirstYear + 1>;

// Position of `word` (lowercase already) in the month or weekday names, short or long.
std::optional<int> NameIndex(std::string_view word, FieldNames names) {
  static constexpr std::array<std::array<std::string_view, 3>, 12> kMonths = {{
      {"jan", "january", ""},
      {"feb", "february", ""},
      {"mar", "march", ""},
      {"apr", "april", ""},
      {"may", "may", ""},
      {"jun", "june", ""},
      {"jul", "july", ""},
      {"aug", "august", ""},
      {"sep", "september", "sept"},
      {"oct", "october", ""},
      {"nov", "november", ""},
      {"dec", "december", ""},
  }};
  static constexpr std::array<std::array<std::string_view, 3>, 7> kWeekdays = {{
      {"sun", "sunday", ""},
      {"mon", "monday", ""},
      {"tue", "tuesday", "tues"},
      {"wed", "wednesday", ""},
      {"thu", "thursday", "thurs"},
      {"fri", "friday", ""},
      {"sat", "saturday", ""},
  }};
  auto search = [&](const auto& table) -> std::optional<int> {
    for (size_t i = 0; i < table.size(); ++i) {
      for (std::string_view spelling : table[i]) {
        if (!spelling.empty() && spelling == word) return static_cast<int>(i);
      }
    }
    return std::nullopt;
  };
  if (names == FieldNames::kMonths) return search(kMonths);
  if (names == FieldNames::kWeekdays) return search(kWeekdays);
  return std::nullopt;
}

bool IsAllDigits(std::string_view text) {
  if (text.empty()) return false;
  for (char c : text) {
    if (!internal::IsAsciiDigit(c)) return false;
  }
  return true;
}

// Plain decimal digits only (no sign, no spaces); nullopt when not a number or too large.
std::optional<int> ParseNumber(std::string_view text) {
  if (!IsAllDigits(text)) return std::nullopt;
  int value = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

// A number or a month/weekday name. Range checks happen later so that messages can show the
// value as a number.
Result<int> ParseFieldValue(std::string_view token, const FieldRule& rule) {
  if (IsAllDigits(token)) {
    if (auto value = ParseNumber(token)) return *value;
    return Status::InvalidArgument("number '" + std::string(token) + "' is too large");
  }
  std::string lower(token);
  for (char& c : lower) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  if (auto index = NameIndex(lower, rule.names)) return *index + rule.first_name_value;
  return Status::InvalidArgument("'" + std::string(token) + "' is not a valid " +
                                 std::string(rule.name) + " value");
}

Result<ValueSet> ParseField(std::string_view field, const FieldRule& rule) {
  const std::string field_context =
      std::string(rule.name) + " field '" + std::string(field) + "': ";
  auto fail = [&](const std::string& why) { return Status::InvalidArgument(field_context + why); };
  const std::string allowed_range =
      std::to_string(rule.min_value) + "-" + std::to_string(rule.max_value);
  auto check_range = [&](int value) -> Status {
    if (value >= rule.min_value && value <= rule.max_value) return Status::Ok();
    return fail(std::to_string(value) + " is outside " + allowed_range);
  };

  ValueSet selected;
  size_t item_begin = 0;
  while (true) {
    const size_t comma = field.find(',', item_begin);
    const std::string_view item = field.substr(item_begin, comma - item_begin);
    if (item.empty()) return fail("empty list element");

    const size_t slash = item.find('/');
    const std::string_view base = item.substr(0, slash);
    int step = 1;
    if (slash != std::string_view::npos) {
      const std::string_view step_text = item.substr(slash + 1);
      // The crate caps steps at the field's maximum value.
      const std::optional<int> parsed_step = ParseNumber(step_text);
      if (!parsed_step || *parsed_step < 1 || *parsed_step > rule.max_value) {
        return fail("step '" + std::string(step_text) + "' must be a number from 1 to " +
                    std::to_string(rule.max_value));
      }
      step = *parsed_step;
    }

    int first = rule.min_value;
    int last = rule.max_value;
    const bool is_wildcard = base == "*" || (rule.allows_question_mark && base == "?");
    if (!is_wildcard) {
      const size_t dash = base.find('-');
      auto lo = ParseFieldValue(base.substr(0, dash), rule);
      if (!lo.ok()) return fail(lo.status().message());
      RIFFLE_RETURN_IF_ERROR(check_range(lo.value()));
      first = lo.value();
      if (dash != std::string_view::npos) {
        auto hi = ParseFieldValue(base.substr(dash + 1), rule);
        if (!hi.ok()) return fail(hi.status().message());
        RIFFLE_RETURN_IF_ERROR(check_range(hi.value()));
        last = hi.value();
        if (first > last) return fail("range " + std::string(base) + " runs backwards");
      } else if (slash == std::string_view::npos) {
        last = first;
      } else if (!IsAllDigits(base)) {
        // The crate rejects `Mon/2`: a step needs a number, a range or `*` to start from.
        return fail("a step must follow *, a number or a range");
      }
    }
    for (int value = first; value <= last; value += step) selected.set(value - rule.min_value);

    if (comma == std::string_view::npos) break;
    item_begin = comma + 1;
  }
  return selected;
}

// Copies values [rule.min_value, rule.max_value] to bits[value - index_offset].
template <size_t N>
void CopyValues(const ValueSet& values, const FieldRule& rule, int index_offset,
                std::bitset<N>* bits) {
  for (int value = rule.min_value; value <= rule.max_value; ++value) {
    if (values[value - rule.min_value]) bits->set(value - index_offset);
  }
}

bool IsWildcardField(std::string_view field) {
  return !field.empty() && (field.front() == '*' || field.front() == '?');
}

// Shorthands expand to the crate's 6-field form, so @weekly uses Sunday = 1.
std::optional<std::string_view> ExpandShorthand(std::string_view shorthand) {
  static constexpr std::array<std::array<std::string_view, 2>, 7> kShorthands = {{
      {"@yearly", "0 0 0 1 1 *"},
      {"@annually", "0 0 0 1 1 *"},
      {"@monthly", "0 0 0 1 * *"},
      {"@weekly", "0 0 0 * * 1"},
      {"@daily", "0 0 0 * * *"},
      {"@midnight", "0 0 0 * * *"},
      {"@hourly", "0 0 * * * *"},
  }};
  for (const auto& [name, expansion] : kShorthands) {
    if (shorthand == name) return expansion;
  }
  return std::nullopt;
}

template <size_t N>
int NextSetBit(const std::bitset<N>& bits, int from) {
  for (size_t i = static_cast<size_t>(from); i < N; ++i) {
    if (bits[i]) return static_cast<int>(i);
  }
  return -1;
}

}  // namespace

Result<CronSchedule> ParseCron(std::string_view expression) {
  const std::string_view trimmed = internal::TrimWhitespace(expression);
  auto fail = [&](const std::string& reason) {
    return Status::InvalidArgument("invalid cron expression '" + std::string(trimmed) +
                                   "': " + reason);
  };

  std::string_view fields_text = trimmed;
  if (!trimmed.empty() && trimmed.front() == '@') {
    auto expansion = ExpandShorthand(trimmed);
    if (!expansion) {
      return fail(
          "unknown shorthand; expected @yearly, @annually, @monthly, @weekly, @daily, "
          "@midnight or @hourly");
    }
    fields_text = *expansion;
  }

  std::vector<std::string_view> fields;
  for (size_t pos = 0; pos < fields_text.size();) {
    if (internal::IsAsciiSpace(fields_text[pos])) {
      ++pos;
      continue;
    }
    size_t end = pos;
    while (end < fields_text.size() && !internal::IsAsciiSpace(fields_text[end])) ++end;
    fields.push_back(fields_text.substr(pos, end - pos));
    pos = end;
  }
  if (fields.size() < 5 || fields.size() > 7) {
    return fail(
        "expected 6 or 7 fields (sec min hour day-of-month month day-of-week [year]) or "
        "5 crontab fields (min hour day-of-month month day-of-week), found " +
        std::to_string(fields.size()));
  }

  const bool is_crontab = fields.size() == 5;
  CronSchedule schedule;
  size_t next_field = 0;
  auto parse_into = [&](const FieldRule& rule, int index_offset, auto* bits) -> Status {
    auto values = ParseField(fields[next_field++], rule);
    if (!values.ok()) return values.status();
    CopyValues(values.value(), rule, index_offset, bits);
    return Status::Ok();
  };

  Status status;
  if (is_crontab) {
    schedule.seconds_.set(0);
  } else {
    status = parse_into(kSecondRule, 0, &schedule.seconds_);
  }
  if (status.ok()) status = parse_into(kMinuteRule, 0, &schedule.minutes_);
  if (status.ok()) status = parse_into(kHourRule, 0, &schedule.hours_);
  if (status.ok()) status = parse_into(kDayOfMonthRule, 0, &schedule.days_of_month_);
  if (status.ok()) status = parse_into(kMonthRule, 0, &schedule.months_);
  if (status.ok() && is_crontab) {
    std::bitset<8> crontab_days;  // 0..7
    status = parse_into(kCrontabDayOfWeekRule, 0, &crontab_days);
    for (int day = 0; day <= 7; ++day) {
      if (crontab_days[day]) schedule.days_of_week_.set(day % 7);  // 7 is Sunday again
    }
    schedule.match_either_day_field_ = !IsWildcardField(fields[2]) && !IsWildcardField(fields[4]);
  } else if (status.ok()) {
    status = parse_into(kCrateDayOfWeekRule, 1, &schedule.days_of_week_);  // Sunday=1 -> bit 0
  }
  if (status.ok()) {
    if (next_field < fields.size()) {
      status = parse_into(kYearRule, kFirstYear, &schedule.years_);
    } else {
      schedule.years_.set();
    }
  }
  if (!status.ok()) return fail(status.message());
  return schedule;
}

std::optional<int64_t> CronSchedule::NextAfter(int64_t unix_ns) const {
  // Whole seconds only, strictly after `unix_ns`; nothing matches before 1970.
  const int64_t first_candidate = std::max<int64_t>(0, FloorDiv(unix_ns, kNanosPerSecond) + 1);
  const int64_t first_day = FloorDiv(first_candidate, kSecondsPerDay);
  const int64_t second_of_day = first_candidate - first_day * kSecondsPerDay;
  const CivilDate date = CivilFromDays(first_day);
  if (date.year > kLastYear) return std::nullopt;

  int year = static_cast<int>(date.year), month = date.month, day = date.day;
  int hour = static_cast<int>(second_of_day / 3600);
  int minute = static_cast<int>(second_of_day / 60 % 60);
  int second = static_cast<int>(second_of_day % 60);

  // Search from the largest unit down. When a unit has no match left, bump the next larger unit
  // and restart the smaller ones; out-of-range values (month 13, day 32, hour 24, minute 60) are
  // normalized by the larger unit's search on the next pass. Every pass moves forward and each
  // unit is a bitmask lookup, so even impossible schedules (February 31st) finish after a few
  // passes per year up to 2100 rather than a scan over every second.
  auto start_of_day = [&] {
    hour = 0;
    minute = 0;
    second = 0;
  };
  auto start_of_month = [&] {
    day = 1;
    start_of_day();
  };
  auto start_of_year = [&] {
    month = 1;
    start_of_month();
  };
  while (true) {
    if (month > 12) {
      ++year;
      start_of_year();
    }
    if (year > kLastYear) return std::nullopt;
    const int matching_year_index = NextSetBit(years_, year - kFirstYear);
    if (matching_year_index < 0) return std::nullopt;
    if (matching_year_index + kFirstYear != year) {
      year = matching_year_index + kFirstYear;
      start_of_year();
    }

    const int matching_month = NextSetBit(months_, month);
    if (matching_month < 0) {
      ++year;
      start_of_year();
      continue;
    }
    if (matching_month != month) {
      month = matching_month;
      start_of_month();
    }

    const int days_in_month = DaysInMonth(year, month);
    const int64_t month_start = DaysFromCivil(year, month, 1);
    int matching_day = -1;
    for (int candidate = day; candidate <= days_in_month; ++candidate) {
      const bool dom_matches = days_of_month_[candidate];
      const bool dow_matches = days_of_week_[WeekdayFromDays(month_start + candidate - 1)];
      if (match_either_day_field_ ? (dom_matches || dow_matches) : (dom_matches && dow_matches)) {
        matching_day = candidate;
        break;
      }
    }
    if (matching_day < 0) {
      ++month;
      start_of_month();
      continue;
    }
    if (matching_day != day) {
      day = matching_day;
      start_of_day();
    }

    const int matching_hour = NextSetBit(hours_, hour);
    if (matching_hour < 0) {
      ++day;
      start_of_day();
      continue;
    }
    if (matching_hour != hour) {
      hour = matching_hour;
      minute = 0;
      second = 0;
    }

    const int matching_minute = NextSetBit(minutes_, minute);
    if (matching_minute < 0) {
      ++hour;
      minute = 0;
      second = 0;
      continue;
    }
    if (matching_minute != minute) {
      minute = matching_minute;
      second = 0;
    }

    const int matching_second = NextSetBit(seconds_, second);
    if (matching_second < 0) {
      ++minute;
      second = 0;
      continue;
    }
    const int64_t unix_seconds = (DaysFromCivil(year, month, day) * kSecondsPerDay) + hour * 3600 +
                                 minute * 60 + matching_second;
    return unix_seconds * kNanosPerSecond;
  }
}

}  // namespace riffle::schedule
