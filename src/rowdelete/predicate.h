// What a row delete selects, as the delete APIs write it: tag-equality predicates and times.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.h"

namespace riffle::rowdelete {

using TagEquals = std::vector<std::pair<std::string, std::string>>;

// A delete predicate: tag = "value" (or 'value') comparisons joined by AND, as InfluxDB 3
// Enterprise and InfluxDB 2 take them. InfluxDB 2's `_measurement = "m"` names the table: it is
// returned in `*measurement` when that is given, refused otherwise. Anything else (OR, !=, a
// number, an empty tag name) is an error naming what was found and what is expected.
Result<TagEquals> ParsePredicate(std::string_view text, std::string* measurement = nullptr);

// A time as RFC 3339 ("2024-01-02T03:04:05.5Z", "+01:00" offsets, or a bare date) or integer
// nanoseconds since the epoch.
Result<int64_t> ParseTime(std::string_view text);

}  // namespace riffle::rowdelete
