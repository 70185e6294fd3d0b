#include "plugin/trigger_spec.h"

#include <memory>
#include <nlohmann/json.hpp>

#include "schedule/schedule.h"

namespace riffle::plugin {
namespace {

std::string Trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return std::string(s);
}

Status SpecError(const std::string& spec, const std::string& context) {
  return Status::InvalidArgument("failed to parse trigger from " + spec + (context.empty() ? "" : ": " + context));
}

}  // namespace

Result<ParsedSpec> ParseCronOnly(const std::string& expression) {
  auto cron = schedule::ParseCron(expression);
  if (!cron.ok()) return cron.status();
  auto shared = std::make_shared<const schedule::CronSchedule>(std::move(cron).value());
  ParsedSpec spec;
  spec.kind = ParsedSpec::Kind::kSchedule;
  spec.canonical = "cron:" + Trim(expression);
  spec.system_json = nlohmann::json({{"schedule", {{"schedule", Trim(expression)}}}}).dump();
  spec.next_after = [shared](int64_t now) { return shared->NextAfter(now); };
  return spec;
}

Result<ParsedSpec> ParseSpec(const std::string& text) {
  std::string spec_text = Trim(text);
  ParsedSpec spec;
  auto rest = [&](size_t prefix) { return Trim(std::string_view(spec_text).substr(prefix)); };
  if (spec_text.rfind("table:", 0) == 0) {
    spec.kind = ParsedSpec::Kind::kTable;
    spec.table = rest(6);
    if (spec.table.empty()) return SpecError(spec_text, "table name is empty");
    spec.canonical = "table:" + spec.table;
    spec.system_json = nlohmann::json({{"single_table_wal_write", {{"table_name", spec.table}}}}).dump();
    return spec;
  }
  if (spec_text == "all_tables") {
    spec.kind = ParsedSpec::Kind::kAllTables;
    spec.canonical = "all_tables";
    spec.system_json = "\"all_tables_wal_write\"";
    return spec;
  }
  if (spec_text.rfind("cron:", 0) == 0) {
    std::string expr = rest(5);
    if (expr.empty()) return SpecError(spec_text, "cron expression is empty");
    auto parsed = ParseCronOnly(expr);
    if (!parsed.ok()) return SpecError(spec_text, parsed.status().message());
    return parsed;
  }
  if (spec_text.rfind("every:", 0) == 0) {
    auto d = schedule::ParseHumanDuration(rest(6));
    if (!d.ok()) return SpecError(spec_text, "couldn't parse to duration: " + d.status().message());
    int64_t ns = d->count();
    if (ns > 31557600LL * 1000000000LL) return SpecError(spec_text, "don't support every schedules of over 1 year");
    if (ns < 1000000) return SpecError(spec_text, "every schedules must be at least 1ms");
    int64_t ms = ns / 1000000;
    spec.kind = ParsedSpec::Kind::kSchedule;
    spec.canonical = "every:" + schedule::FormatHumanDuration(*d);
    spec.system_json =
        nlohmann::json({{"every", {{"duration", {{"secs", ns / 1000000000}, {"nanos", ns % 1000000000}}}}}}).dump();
    // Aligned to the Unix epoch in whole milliseconds; strictly after `now`.
    spec.next_after = [ms](int64_t now) -> std::optional<int64_t> {
      int64_t now_ms = now / 1000000;
      return ((now_ms / ms) + 1) * ms * 1000000;
    };
    return spec;
  }
  for (const char* prefix : {"request:", "path:"}) {
    size_t n = std::string_view(prefix).size();
    if (spec_text.rfind(prefix, 0) == 0) {
      spec.kind = ParsedSpec::Kind::kRequest;
      spec.path = rest(n);
      while (!spec.path.empty() && spec.path.front() == '/') spec.path.erase(0, 1);
      if (spec.path.empty()) return SpecError(spec_text, "request path is empty");
      spec.canonical = "request:" + spec.path;
      spec.system_json = nlohmann::json({{"request_path", {{"path", spec.path}}}}).dump();
      return spec;
    }
  }
  return SpecError(spec_text,
                   "expect one of the following forms: 'table:<TABLE_NAME>', 'all_tables', 'cron:<CRON_EXPRESSION>', "
                   "'every:<DURATION>', 'request:<PATH>' or 'path:<PATH>'");
}

}  // namespace riffle::plugin
