#include "plugin/trigger_spec.h"

#include <memory>

#include "schedule/schedule.h"

namespace riffle::plugin {

Result<ParsedSpec> ParseSpec(const std::string& text) {
  auto parsed = schedule::ParseTriggerSpec(text);
  if (!parsed.ok()) return parsed.status();
  auto shared = std::make_shared<const schedule::TriggerSpec>(std::move(parsed).value());
  ParsedSpec spec;
  switch (shared->kind) {
    case schedule::TriggerSpec::Kind::kTable: spec.kind = ParsedSpec::Kind::kTable; break;
    case schedule::TriggerSpec::Kind::kAllTables: spec.kind = ParsedSpec::Kind::kAllTables; break;
    case schedule::TriggerSpec::Kind::kCron:
    case schedule::TriggerSpec::Kind::kEvery: spec.kind = ParsedSpec::Kind::kSchedule; break;
    case schedule::TriggerSpec::Kind::kRequest: spec.kind = ParsedSpec::Kind::kRequest; break;
  }
  spec.table = shared->table_name;
  spec.path = shared->request_path;
  spec.canonical = shared->CanonicalString();
  spec.system_json = shared->SystemTableJson();
  spec.next_after = [shared](int64_t now) { return shared->NextAfter(now); };
  return spec;
}

Result<ParsedSpec> ParseCronOnly(const std::string& expression) {
  auto cron = schedule::ParseCron(expression);
  if (!cron.ok()) return cron.status();
  return ParseSpec("cron:" + expression);
}

}  // namespace riffle::plugin
