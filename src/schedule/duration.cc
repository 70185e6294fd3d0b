// humantime-compatible durations and `every:` schedules.
#include <algorithm>
#include <cstdint>
#include <limits>
#include <string>

#include "schedule/civil_date.h"
#include "schedule/schedule.h"
#include "schedule/text_util.h"

namespace riffle::schedule {
namespace {

using internal::IsAsciiDigit;
using internal::IsAsciiSpace;

constexpr int64_t kNanosPerMicro = 1000;
constexpr int64_t kNanosPerMilli = 1000 * kNanosPerMicro;
constexpr int64_t kNanosPerSecond = 1000 * kNanosPerMilli;
// humantime's calendar-free approximations: a month is 30.44 days, a year 365.25 days.
constexpr int64_t kSecondsPerMonth = 2'630'016;
constexpr int64_t kSecondsPerYear = 31'557'600;
constexpr int64_t kSecondsPerDay = 86'400;

// U+00B5 MICRO SIGN, the only non-ASCII character humantime accepts (in "µs").
constexpr std::string_view kMicroSign = "\xC2\xB5";

struct DurationUnit {
  std::string_view name;
  int64_t nanos;
};

// humantime 2.x's unit spellings; matching is exact and case-sensitive.
constexpr DurationUnit kDurationUnits[] = {
    {"nanos", 1},
    {"nsec", 1},
    {"ns", 1},
    {"usec", kNanosPerMicro},
    {"us", kNanosPerMicro},
    {"\xC2\xB5s", kNanosPerMicro},
    {"millis", kNanosPerMilli},
    {"msec", kNanosPerMilli},
    {"ms", kNanosPerMilli},
    {"seconds", kNanosPerSecond},
    {"second", kNanosPerSecond},
    {"secs", kNanosPerSecond},
    {"sec", kNanosPerSecond},
    {"s", kNanosPerSecond},
    {"minutes", 60 * kNanosPerSecond},
    {"minute", 60 * kNanosPerSecond},
    {"min", 60 * kNanosPerSecond},
    {"mins", 60 * kNanosPerSecond},
    {"m", 60 * kNanosPerSecond},
    {"hours", 3600 * kNanosPerSecond},
    {"hour", 3600 * kNanosPerSecond},
    {"hr", 3600 * kNanosPerSecond},
    {"hrs", 3600 * kNanosPerSecond},
    {"h", 3600 * kNanosPerSecond},
    {"days", kSecondsPerDay* kNanosPerSecond},
    {"day", kSecondsPerDay* kNanosPerSecond},
    {"d", kSecondsPerDay* kNanosPerSecond},
    {"weeks", 7 * kSecondsPerDay* kNanosPerSecond},
    {"week", 7 * kSecondsPerDay* kNanosPerSecond},
    {"wk", 7 * kSecondsPerDay* kNanosPerSecond},
    {"wks", 7 * kSecondsPerDay* kNanosPerSecond},
    {"w", 7 * kSecondsPerDay* kNanosPerSecond},
    {"months", kSecondsPerMonth* kNanosPerSecond},
    {"month", kSecondsPerMonth* kNanosPerSecond},
    {"M", kSecondsPerMonth* kNanosPerSecond},
    {"years", kSecondsPerYear* kNanosPerSecond},
    {"year", kSecondsPerYear* kNanosPerSecond},
    {"yr", kSecondsPerYear* kNanosPerSecond},
    {"yrs", kSecondsPerYear* kNanosPerSecond},
    {"y", kSecondsPerYear* kNanosPerSecond},
};

const DurationUnit* FindDurationUnit(std::string_view name) {
  for (const DurationUnit& unit : kDurationUnits) {
    if (unit.name == name) return &unit;
  }
  return nullptr;
}

bool IsAsciiLetter(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

// Length of the unit character starting at `text[pos]`: 1 for an ASCII letter, 2 for the micro
// sign, 0 when `text[pos]` cannot be part of a unit.
size_t UnitCharLength(std::string_view text, size_t pos) {
  if (IsAsciiLetter(text[pos])) return 1;
  if (text.substr(pos, kMicroSign.size()) == kMicroSign) return kMicroSign.size();
  return 0;
}

constexpr std::string_view kExpectedDurationForm =
    " (expected <number><unit> components such as 10s, 500ms, 1h30m, 1.5h or 2days; units: "
    "ns, us/\xC2\xB5s, ms, s, m, h, d, w, M, y)";

}  // namespace

Result<std::chrono::nanoseconds> ParseHumanDuration(std::string_view text) {
  auto fail = [&](const std::string& problem) {
    return Status::InvalidArgument("invalid duration '" + std::string(text) + "': " + problem +
                                   std::string(kExpectedDurationForm));
  };
  std::string_view spec = internal::TrimWhitespace(text);
  // Offsets in messages refer to `text` as given, like humantime's byte offsets.
  const size_t leading_space = static_cast<size_t>(spec.data() - text.data());
  auto at = [&](size_t pos) { return " at offset " + std::to_string(leading_space + pos); };

  if (spec.empty()) return fail("value was empty");
  // humantime allows a unitless zero ("0", and any run of zeros) and nothing else unitless.
  if (spec.find_first_not_of('0') == std::string_view::npos) return std::chrono::nanoseconds(0);

  using Wide = __int128;  // unit * value products can exceed int64 before the range check
  constexpr Wide kMaxNanos = std::numeric_limits<int64_t>::max();
  Wide total_nanos = 0;
  size_t pos = 0;
  while (pos < spec.size()) {
    if (IsAsciiSpace(spec[pos])) {
      ++pos;
      continue;
    }
    if (!IsAsciiDigit(spec[pos])) return fail("expected number" + at(pos));

    const size_t number_begin = pos;
    Wide whole = 0;
    for (; pos < spec.size() && IsAsciiDigit(spec[pos]); ++pos) {
      whole = whole * 10 + (spec[pos] - '0');
      if (whole > kMaxNanos) return fail("number is too large");
    }
    // Fraction digits beyond nanosecond precision of the largest unit cannot matter.
    constexpr int kMaxFractionDigits = 18;
    Wide fraction = 0, fraction_scale = 1;
    if (pos < spec.size() && spec[pos] == '.') {
      const size_t dot = pos++;
      for (; pos < spec.size() && IsAsciiDigit(spec[pos]); ++pos) {
        if (pos - dot > kMaxFractionDigits) continue;
        fraction = fraction * 10 + (spec[pos] - '0');
        fraction_scale *= 10;
      }
      if (pos == dot + 1) return fail("expected digits after the decimal point" + at(dot));
    }
    const std::string_view number = spec.substr(number_begin, pos - number_begin);

    while (pos < spec.size() && IsAsciiSpace(spec[pos])) ++pos;
    const size_t unit_begin = pos;
    while (pos < spec.size()) {
      const size_t length = UnitCharLength(spec, pos);
      if (length == 0) break;
      pos += length;
    }
    const std::string_view unit_name = spec.substr(unit_begin, pos - unit_begin);
    if (unit_name.empty()) {
      if (unit_begin == spec.size() || IsAsciiDigit(spec[unit_begin])) {
        return fail("time unit needed, for example " + std::string(number) + "sec or " +
                    std::string(number) + "ms");
      }
      return fail("invalid character '" + std::string(1, spec[unit_begin]) + "'" + at(unit_begin));
    }
    const DurationUnit* unit = FindDurationUnit(unit_name);
    if (unit == nullptr) return fail("unknown time unit \"" + std::string(unit_name) + "\"");
    // A unit ends at whitespace, the next component's number, or the end.
    if (pos < spec.size() && !IsAsciiSpace(spec[pos]) && !IsAsciiDigit(spec[pos])) {
      return fail("invalid character '" + std::string(1, spec[pos]) + "'" + at(pos));
    }

    total_nanos += whole * unit->nanos + fraction * unit->nanos / fraction_scale;
    if (total_nanos > kMaxNanos) return fail("number is too large");
  }
  return std::chrono::nanoseconds(static_cast<int64_t>(total_nanos));
}

std::string FormatHumanDuration(std::chrono::nanoseconds duration) {
  if (duration.count() == 0) return "0s";
  std::string out;
  // Work in unsigned so that the most negative duration still has a magnitude.
  uint64_t magnitude = static_cast<uint64_t>(duration.count());
  if (duration.count() < 0) {
    out = "-";
    magnitude = 0 - magnitude;
  }
  const uint64_t total_seconds = magnitude / kNanosPerSecond;
  const uint64_t subsec_nanos = magnitude % kNanosPerSecond;

  const uint64_t years = total_seconds / kSecondsPerYear;
  const uint64_t seconds_in_year = total_seconds % kSecondsPerYear;
  const uint64_t months = seconds_in_year / kSecondsPerMonth;
  const uint64_t seconds_in_month = seconds_in_year % kSecondsPerMonth;
  const uint64_t days = seconds_in_month / kSecondsPerDay;
  const uint64_t seconds_in_day = seconds_in_month % kSecondsPerDay;

  bool started = false;
  // Calendar words (year, month, day) take a plural 's'; the short units never do.
  auto append = [&](uint64_t value, std::string_view unit, bool pluralize) {
    if (value == 0) return;
    if (started) out += ' ';
    out += std::to_string(value);
    out += unit;
    if (pluralize && value > 1) out += 's';
    started = true;
  };
  append(years, "year", true);
  append(months, "month", true);
  append(days, "day", true);
  append(seconds_in_day / 3600, "h", false);
  append(seconds_in_day % 3600 / 60, "m", false);
  append(seconds_in_day % 60, "s", false);
  append(subsec_nanos / kNanosPerMilli, "ms", false);
  append(subsec_nanos / kNanosPerMicro % 1000, "us", false);
  append(subsec_nanos % kNanosPerMicro, "ns", false);
  return out;
}

int64_t EverySchedule::NextAfter(int64_t now_unix_ns) const {
  const int64_t interval_ms = std::max<int64_t>(1, interval_.count() / kNanosPerMilli);
  // Floor division keeps "strictly after" true for instants before the epoch too.
  const int64_t now_ms = internal::FloorDiv(now_unix_ns, kNanosPerMilli);
  const __int128 next_ns = static_cast<__int128>(internal::FloorDiv(now_ms, interval_ms) + 1) *
                           interval_ms * kNanosPerMilli;
  // Past year 2262 there is no int64 answer; saturate rather than wrap.
  if (next_ns > std::numeric_limits<int64_t>::max()) return std::numeric_limits<int64_t>::max();
  return static_cast<int64_t>(next_ns);
}

Result<EverySchedule> ParseEverySpec(std::string_view text) {
  auto interval = ParseHumanDuration(internal::TrimWhitespace(text));
  if (!interval.ok()) {
    return Status::InvalidArgument("couldn't parse to duration: " + interval.status().message());
  }
  if (interval.value() > std::chrono::seconds(kSecondsPerYear)) {
    return Status::InvalidArgument("don't support every schedules of over 1 year");
  }
  if (interval.value() < std::chrono::milliseconds(1)) {
    return Status::InvalidArgument("every schedules must be at least 1ms");
  }
  return EverySchedule(interval.value());
}

}  // namespace riffle::schedule
