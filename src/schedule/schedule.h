// Durations and schedules for triggers: humantime durations (`every:`), cron expressions
// (`cron:`), and trigger specification parsing.
#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "common/status.h"

namespace riffle::schedule {

// humantime 2.x: "10s", "1h30m", "1h 30m", "1.5h", "0"; units ns us ms s m h d w M y.
Result<std::chrono::nanoseconds> ParseHumanDuration(std::string_view text);

}  // namespace riffle::schedule
