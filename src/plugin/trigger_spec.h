// A trigger specification as the engine uses it (parsing itself lives in `schedule`).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "common/status.h"

namespace riffle::plugin {

struct ParsedSpec {
  enum class Kind { kTable, kAllTables, kSchedule, kRequest };
  Kind kind = Kind::kAllTables;
  std::string table;        // kTable
  std::string path;         // kRequest
  std::string canonical;    // stored in the catalog, e.g. "every:10s", "request:hook"
  std::string system_json;  // system.processing_engine_triggers.trigger_specification
  // kSchedule: the first firing time strictly after `unix_ns`; nullopt when there is none.
  std::function<std::optional<int64_t>(int64_t unix_ns)> next_after;
};

Result<ParsedSpec> ParseSpec(const std::string& text);
// For the schedule dry run: a bare cron expression.
Result<ParsedSpec> ParseCronOnly(const std::string& expression);

}  // namespace riffle::plugin
