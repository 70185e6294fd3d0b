// What the buffer hands to persistence: the files a snapshot wrote, and the time ranges in
// which a table may hold the same point more than once.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace riffle::buffer {

// Closed range of times in nanoseconds.
struct TimeRange {
  int64_t lo, hi;
  bool operator==(const TimeRange&) const = default;
};
// By table id: the times at which a table may hold the same point more than once (see
// buffer/duplicates.h); recorded in snapshot manifests so that restarts keep merging them.
using DuplicateRanges = std::map<uint32_t, std::vector<TimeRange>>;

// One table's buffered rows written to Parquet by a snapshot.
struct PersistedFile {
  uint32_t db_id = 0, table_id = 0;
  std::string path;  // absolute
  int64_t rows = 0, min_time = 0, max_time = 0;
  std::string key;  // its object-store key (set once committed)
};

}  // namespace riffle::buffer
