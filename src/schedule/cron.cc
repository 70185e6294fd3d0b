#include <cctype>
#include <charconv>
#include <vector>

#include "common/clock.h"
#include "schedule/schedule.h"

namespace riffle::schedule {
namespace {

struct FieldSpec {
  const char* name;
  int min, max;
  const char* const* names;  // optional names for values min.. (months, days)
};

const char* const kMonthNames[] = {"jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec", nullptr};
const char* const kDayNames[] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat", nullptr};
const char* const kLongMonthNames[] = {"january", "february", "march", "april", "may", "june", "july",
                                       "august", "september", "october", "november", "december", nullptr};
const char* const kLongDayNames[] = {"sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", nullptr};

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// Parses one value: a number or, for months/days, a name. `name_base` is the value of the
// first name (1 for months; for days 1 in the 6-field form where Sunday = 1, else 0).
bool ParseValue(std::string_view text, bool months, bool days, int name_base, int* out) {
  int v;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec == std::errc() && p == text.data() + text.size()) {
    *out = v;
    return true;
  }
  std::string lower = Lower(text);
  if (months || days) {
    const char* const* shorts = months ? kMonthNames : kDayNames;
    const char* const* longs = months ? kLongMonthNames : kLongDayNames;
    for (int i = 0; shorts[i]; ++i)
      if (lower == shorts[i] || lower == longs[i]) {
        *out = i + name_base;
        return true;
      }
  }
  return false;
}

// Fills `bits` (indexed by value - offset) from one field; returns false on bad syntax.
template <size_t N>
Status ParseField(std::string_view field, int min, int max, int offset, bool months, bool days, int name_base,
                  bool question_ok, std::bitset<N>& bits, bool* restricted, const char* what) {
  auto bad = [&](const std::string& why) {
    return Status::InvalidArgument(std::string(what) + " field '" + std::string(field) + "': " + why);
  };
  *restricted = !(field == "*" || (question_ok && field == "?"));
  size_t start = 0;
  while (start <= field.size()) {
    size_t comma = field.find(',', start);
    std::string_view item = field.substr(start, comma == std::string_view::npos ? std::string_view::npos : comma - start);
    if (item.empty()) return bad("empty list item");
    int step = 1;
    size_t slash = item.find('/');
    std::string_view range = item.substr(0, slash);
    if (slash != std::string_view::npos) {
      std::string_view s = item.substr(slash + 1);
      auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), step);
      if (ec != std::errc() || p != s.data() + s.size() || step <= 0) return bad("invalid step");
    }
    int lo, hi;
    if (range == "*" || (question_ok && range == "?")) {
      lo = min;
      hi = max;
    } else {
      size_t dash = range.find('-');
      if (dash == std::string_view::npos) {
        if (!ParseValue(range, months, days, name_base, &lo)) return bad("invalid value '" + std::string(range) + "'");
        hi = slash == std::string_view::npos ? lo : max;
      } else {
        if (!ParseValue(range.substr(0, dash), months, days, name_base, &lo) ||
            !ParseValue(range.substr(dash + 1), months, days, name_base, &hi))
          return bad("invalid range '" + std::string(range) + "'");
      }
    }
    if (lo < min || hi > max || lo > hi)
      return bad("values must be within " + std::to_string(min) + "-" + std::to_string(max));
    for (int v = lo; v <= hi; v += step) bits.set(static_cast<size_t>(v - offset));
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return Status::Ok();
}

int64_t DaysFromCivil(int y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

unsigned DaysInMonth(int y, unsigned m) {
  static const unsigned kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  return m == 2 && leap ? 29 : kDays[m - 1];
}

}  // namespace

Result<CronSchedule> ParseCron(std::string_view expression) {
  std::string expr(expression);
  while (!expr.empty() && std::isspace(static_cast<unsigned char>(expr.back()))) expr.pop_back();
  while (!expr.empty() && std::isspace(static_cast<unsigned char>(expr.front()))) expr.erase(0, 1);
  static const std::pair<const char*, const char*> kShorthands[] = {
      {"@yearly", "0 0 0 1 1 *"},  {"@annually", "0 0 0 1 1 *"}, {"@monthly", "0 0 0 1 * *"},
      {"@weekly", "0 0 0 * * 1"},  {"@daily", "0 0 0 * * *"},    {"@midnight", "0 0 0 * * *"},
      {"@hourly", "0 0 * * * *"}};
  for (const auto& [name, full] : kShorthands)
    if (Lower(expr) == name) expr = full;
  std::vector<std::string_view> fields;
  std::string_view rest(expr);
  while (!rest.empty()) {
    size_t sp = rest.find_first_of(" \t");
    if (sp != 0) fields.push_back(rest.substr(0, sp));
    if (sp == std::string_view::npos) break;
    rest.remove_prefix(sp + 1);
  }
  auto err = [&](const std::string& why) {
    return Status::InvalidArgument("invalid cron expression '" + std::string(expression) + "': " + why);
  };
  if (fields.size() < 5 || fields.size() > 7)
    return err("expected 6 or 7 fields (sec min hour day-of-month month day-of-week [year]) or a 5-field crontab, got " +
               std::to_string(fields.size()));
  CronSchedule s;
  bool restricted = false;
  const bool crontab = fields.size() == 5;
  size_t i = 0;
  Status st;
  if (crontab) {
    s.seconds_.set(0);
  } else {
    st = ParseField(fields[i++], 0, 59, 0, false, false, 0, false, s.seconds_, &restricted, "seconds");
    if (!st.ok()) return err(st.message());
  }
  if (!(st = ParseField(fields[i++], 0, 59, 0, false, false, 0, false, s.minutes_, &restricted, "minutes")).ok())
    return err(st.message());
  if (!(st = ParseField(fields[i++], 0, 23, 0, false, false, 0, false, s.hours_, &restricted, "hours")).ok())
    return err(st.message());
  if (!(st = ParseField(fields[i++], 1, 31, 0, false, false, 0, true, s.days_of_month_, &s.dom_restricted_,
                        "day-of-month")).ok())
    return err(st.message());
  if (!(st = ParseField(fields[i++], 1, 12, 0, true, false, 1, false, s.months_, &restricted, "month")).ok())
    return err(st.message());
  if (crontab) {
    std::bitset<8> dow;  // 0..7, both 0 and 7 are Sunday
    if (!(st = ParseField(fields[i++], 0, 7, 0, false, true, 0, true, dow, &s.dow_restricted_, "day-of-week")).ok())
      return err(st.message());
    for (int d = 0; d < 7; ++d) s.days_of_week_[d] = dow[d];
    if (dow[7]) s.days_of_week_.set(0);
    s.either_day_matches_ = s.dom_restricted_ && s.dow_restricted_;
  } else {
    std::bitset<8> dow;  // 1..7, Sunday = 1
    if (!(st = ParseField(fields[i++], 1, 7, 0, false, true, 1, true, dow, &s.dow_restricted_, "day-of-week")).ok())
      return err(st.message());
    for (int d = 1; d <= 7; ++d) s.days_of_week_[d - 1] = dow[d];
  }
  if (i < fields.size()) {
    if (!(st = ParseField(fields[i++], 1970, 2100, 1970, false, false, 0, false, s.years_, &restricted, "year")).ok())
      return err(st.message());
  } else {
    s.years_.set();
  }
  return s;
}

std::optional<int64_t> CronSchedule::NextAfter(int64_t unix_ns) const {
  int64_t t = (unix_ns >= 0 ? unix_ns / 1000000000 : (unix_ns - 999999999) / 1000000000) + 1;
  int64_t days = t >= 0 ? t / 86400 : (t - 86399) / 86400;
  int64_t sec_of_day = t - days * 86400;
  int y;
  unsigned mo, d;
  CivilFromDays(days, y, mo, d);
  int h = static_cast<int>(sec_of_day / 3600), mi = static_cast<int>(sec_of_day / 60 % 60),
      s = static_cast<int>(sec_of_day % 60);
  // Advance field by field, resetting the smaller ones whenever a larger one moves.
  for (int guard = 0; guard < 100000; ++guard) {
    if (y > 2100) return std::nullopt;
    if (y < 1970 || !years_[static_cast<size_t>(y - 1970)]) {
      ++y, mo = 1, d = 1, h = 0, mi = 0, s = 0;
      continue;
    }
    if (!months_[mo]) {
      if (++mo > 12) mo = 1, ++y;
      d = 1, h = 0, mi = 0, s = 0;
      continue;
    }
    int64_t day_number = DaysFromCivil(y, mo, d);
    int weekday = static_cast<int>(((day_number % 7) + 11) % 7);  // 1970-01-01 was a Thursday (4)
    bool dom_ok = days_of_month_[d];
    bool dow_ok = days_of_week_[static_cast<size_t>(weekday)];
    bool day_ok = either_day_matches_ ? (dom_ok || dow_ok) : (dom_ok && dow_ok);
    if (!day_ok) {
      if (++d > DaysInMonth(y, mo)) {
        d = 1;
        if (++mo > 12) mo = 1, ++y;
      }
      h = 0, mi = 0, s = 0;
      continue;
    }
    if (!hours_[static_cast<size_t>(h)]) {
      if (++h > 23) {
        h = 0;
        if (++d > DaysInMonth(y, mo)) {
          d = 1;
          if (++mo > 12) mo = 1, ++y;
        }
      }
      mi = 0, s = 0;
      continue;
    }
    if (!minutes_[static_cast<size_t>(mi)]) {
      if (++mi > 59) {
        mi = 0, s = 0;
        if (++h > 23) {
          h = 0;
          if (++d > DaysInMonth(y, mo)) {
            d = 1;
            if (++mo > 12) mo = 1, ++y;
          }
        }
        continue;
      }
      s = 0;
      continue;
    }
    if (!seconds_[static_cast<size_t>(s)]) {
      if (++s > 59) {
        s = 0;
        if (++mi > 59) {
          mi = 0;
          if (++h > 23) {
            h = 0;
            if (++d > DaysInMonth(y, mo)) {
              d = 1;
              if (++mo > 12) mo = 1, ++y;
            }
          }
        }
      }
      continue;
    }
    int64_t secs = DaysFromCivil(y, mo, d) * 86400 + h * 3600 + mi * 60 + s;
    return secs * 1000000000;
  }
  return std::nullopt;
}

}  // namespace riffle::schedule
