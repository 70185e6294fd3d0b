// Trigger specifications, parsed and rendered the way InfluxDB 3 does
// (TriggerSpecificationDefinition::from_string_rep and its serde form).
#include <cstdio>
#include <string>

#include "schedule/schedule.h"
#include "schedule/text_util.h"

namespace riffle::schedule {
namespace {

constexpr int64_t kNanosPerSecond = 1'000'000'000;

constexpr std::string_view kExpectedForms =
    "expect one of the following forms: 'table:<TABLE_NAME>', 'all_tables', "
    "'cron:<CRON_EXPRESSION>', 'every:<DURATION>', or 'request:<PATH>'";

// InfluxDB strips prefixes with Rust's trim_start_matches, which removes every leading repeat
// ("table:table:cpu" names table "cpu"); mirror that so the same specs name the same things.
std::string_view StripRepeatedPrefix(std::string_view text, std::string_view prefix) {
  while (text.substr(0, prefix.size()) == prefix) text.remove_prefix(prefix.size());
  return text;
}

bool StartsWith(std::string_view text, std::string_view prefix) {
  return text.substr(0, prefix.size()) == prefix;
}

// A JSON string literal escaped as serde_json does: quote, backslash and control characters;
// everything else, including non-ASCII UTF-8, passes through.
std::string JsonString(std::string_view text) {
  std::string out = "\"";
  for (char c : text) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char escaped[7];
          std::snprintf(escaped, sizeof(escaped), "\\u%04x", static_cast<unsigned char>(c));
          out += escaped;
        } else {
          out += c;
        }
    }
  }
  out += '"';
  return out;
}

}  // namespace

Result<TriggerSpec> ParseTriggerSpec(std::string_view text) {
  const std::string_view spec = internal::TrimWhitespace(text);
  auto fail = [&](std::string_view context) {
    return Status::InvalidArgument("failed to parse trigger from " + std::string(spec) + ": " +
                                   std::string(context));
  };
  auto argument_after = [&](std::string_view prefix) {
    return internal::TrimWhitespace(StripRepeatedPrefix(spec, prefix));
  };

  TriggerSpec parsed;
  if (StartsWith(spec, "table:")) {
    parsed.kind = TriggerSpec::Kind::kTable;
    parsed.table_name = argument_after("table:");
    if (parsed.table_name.empty()) return fail("table name is empty");
    return parsed;
  }
  if (spec == "all_tables") {
    parsed.kind = TriggerSpec::Kind::kAllTables;
    return parsed;
  }
  if (StartsWith(spec, "cron:")) {
    parsed.kind = TriggerSpec::Kind::kCron;
    parsed.cron_expression = argument_after("cron:");
    if (parsed.cron_expression.empty()) return fail("cron expression is empty");
    auto schedule = ParseCron(parsed.cron_expression);
    if (!schedule.ok()) return fail(schedule.status().message());
    parsed.cron_schedule = std::move(schedule).value();
    return parsed;
  }
  if (StartsWith(spec, "every:")) {
    parsed.kind = TriggerSpec::Kind::kEvery;
    auto every = ParseEverySpec(argument_after("every:"));
    if (!every.ok()) return fail(every.status().message());
    parsed.every_interval = every->interval();
    return parsed;
  }
  for (std::string_view prefix : {"request:", "path:"}) {
    if (!StartsWith(spec, prefix)) continue;
    parsed.kind = TriggerSpec::Kind::kRequest;
    parsed.request_path = argument_after(prefix);
    if (parsed.request_path.empty()) return fail("request path is empty");
    return parsed;
  }
  return fail(kExpectedForms);
}

std::optional<int64_t> TriggerSpec::NextAfter(int64_t now_unix_ns) const {
  switch (kind) {
    case Kind::kCron:
      if (!cron_schedule) return std::nullopt;
      return cron_schedule->NextAfter(now_unix_ns);
    case Kind::kEvery:
      return EverySchedule(every_interval).NextAfter(now_unix_ns);
    default:
      return std::nullopt;
  }
}

std::string TriggerSpec::CanonicalString() const {
  switch (kind) {
    case Kind::kTable:
      return "table:" + table_name;
    case Kind::kAllTables:
      return "all_tables";
    case Kind::kCron:
      return "cron:" + cron_expression;
    case Kind::kEvery:
      return "every:" + FormatHumanDuration(every_interval);
    case Kind::kRequest:
      return "request:" + request_path;
  }
  return "";
}

std::string TriggerSpec::SystemTableJson() const {
  switch (kind) {
    case Kind::kTable:
      return "{\"single_table_wal_write\":{\"table_name\":" + JsonString(table_name) + "}}";
    case Kind::kAllTables:
      return "\"all_tables_wal_write\"";
    case Kind::kCron:
      return "{\"schedule\":{\"schedule\":" + JsonString(cron_expression) + "}}";
    case Kind::kEvery: {
      // serde's std::time::Duration: whole seconds plus the sub-second nanoseconds.
      const int64_t nanos = every_interval.count();
      return "{\"every\":{\"duration\":{\"secs\":" + std::to_string(nanos / kNanosPerSecond) +
             ",\"nanos\":" + std::to_string(nanos % kNanosPerSecond) + "}}}";
    }
    case Kind::kRequest:
      return "{\"request_path\":{\"path\":" + JsonString(request_path) + "}}";
  }
  return "";
}

}  // namespace riffle::schedule
