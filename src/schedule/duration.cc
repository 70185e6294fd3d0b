#include <cctype>
#include <charconv>
#include <cmath>
#include <string>

#include "schedule/schedule.h"

namespace riffle::schedule {
namespace {

struct Unit {
  const char* name;
  double seconds;
};
constexpr Unit kUnits[] = {
    {"nanos", 1e-9},   {"nsec", 1e-9},     {"ns", 1e-9},        {"usec", 1e-6},    {"us", 1e-6},
    {"µs", 1e-6},      {"millis", 1e-3},   {"msec", 1e-3},      {"ms", 1e-3},      {"seconds", 1},
    {"second", 1},     {"secs", 1},        {"sec", 1},          {"s", 1},          {"minutes", 60},
    {"minute", 60},    {"mins", 60},       {"min", 60},         {"m", 60},         {"hours", 3600},
    {"hour", 3600},    {"hrs", 3600},      {"hr", 3600},        {"h", 3600},       {"days", 86400},
    {"day", 86400},    {"d", 86400},       {"weeks", 604800},   {"week", 604800},  {"wks", 604800},
    {"wk", 604800},    {"w", 604800},      {"months", 2630016}, {"month", 2630016}, {"M", 2630016},
    {"years", 31557600}, {"year", 31557600}, {"yrs", 31557600}, {"yr", 31557600},  {"y", 31557600},
};

}  // namespace

Result<std::chrono::nanoseconds> ParseHumanDuration(std::string_view text) {
  auto bad = [&](const std::string& why) {
    return Status::InvalidArgument("invalid duration '" + std::string(text) + "': " + why +
                                   " (expected e.g. 10s, 5m, 1h30m, 1.5h, 7d)");
  };
  std::string_view s = text;
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  if (s.empty()) return bad("empty");
  if (s == "0") return std::chrono::nanoseconds(0);
  long double total_ns = 0;
  while (!s.empty()) {
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
    if (s.empty()) break;
    size_t i = 0;
    while (i < s.size() && (std::isdigit(static_cast<unsigned char>(s[i])) || s[i] == '.')) ++i;
    if (i == 0) return bad("expected a number");
    double number;
    auto [p, ec] = std::from_chars(s.data(), s.data() + i, number);
    if (ec != std::errc() || p != s.data() + i) return bad("invalid number");
    s.remove_prefix(i);
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
    size_t j = 0;
    while (j < s.size() && !std::isdigit(static_cast<unsigned char>(s[j])) && !std::isspace(static_cast<unsigned char>(s[j])))
      ++j;
    std::string_view unit = s.substr(0, j);
    if (unit.empty()) return bad("missing unit");
    const Unit* found = nullptr;
    for (const auto& u : kUnits)
      if (unit == u.name) found = &u;
    if (!found) return bad("unknown unit '" + std::string(unit) + "'");
    total_ns += static_cast<long double>(number) * found->seconds * 1e9L;
    s.remove_prefix(j);
  }
  if (total_ns > 9.2e18L) return bad("too large");
  return std::chrono::nanoseconds(static_cast<int64_t>(std::llround(static_cast<double>(total_ns))));
}

}  // namespace riffle::schedule

namespace riffle::schedule {

std::string FormatHumanDuration(std::chrono::nanoseconds d) {
  int64_t ns = d.count();
  if (ns == 0) return "0s";
  int64_t secs = ns / 1000000000, nanos = ns % 1000000000;
  std::string out;
  auto item = [&](int64_t v, const std::string& unit, bool plural_word) {
    if (v == 0) return;
    if (!out.empty()) out += " ";
    out += std::to_string(v) + unit + (plural_word && v > 1 ? "s" : "");
  };
  int64_t years = secs / 31557600;
  int64_t rem = secs % 31557600;
  int64_t months = rem / 2630016;
  rem %= 2630016;
  int64_t days = rem / 86400;
  rem %= 86400;
  item(years, "year", true);
  item(months, "month", true);
  item(days, "day", true);
  item(rem / 3600, "h", false);
  item(rem / 60 % 60, "m", false);
  item(rem % 60, "s", false);
  item(nanos / 1000000, "ms", false);
  item(nanos / 1000 % 1000, "us", false);
  item(nanos % 1000, "ns", false);
  return out;
}

}  // namespace riffle::schedule
