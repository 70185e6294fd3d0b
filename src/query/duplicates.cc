#include "query/duplicates.h"

#include <algorithm>
#include <functional>

#include "query/buffer.h"
#include "query/sql_compat.h"

namespace riffle::query {

namespace {

// Whether a range ending at `hi` lies wholly before one starting at `lo`, not even touching.
bool Separate(int64_t hi, int64_t lo) { return hi < lo && static_cast<uint64_t>(lo) - static_cast<uint64_t>(hi) > 1; }

}  // namespace

bool TimeRangeSet::Add(int64_t lo, int64_t hi) {
  auto it = std::lower_bound(ranges_.begin(), ranges_.end(), lo,
                             [](const TimeRange& r, int64_t v) { return Separate(r.hi, v); });
  if (it != ranges_.end() && it->lo <= lo && hi <= it->hi) return false;
  if (it == ranges_.end() || Separate(hi, it->lo)) {
    ranges_.insert(it, TimeRange{lo, hi});
  } else {
    it->lo = std::min(it->lo, lo);
    it->hi = std::max(it->hi, hi);
    size_t at = static_cast<size_t>(it - ranges_.begin());
    while (at + 1 < ranges_.size() && !Separate(ranges_[at].hi, ranges_[at + 1].lo)) {
      ranges_[at].hi = std::max(ranges_[at].hi, ranges_[at + 1].hi);
      ranges_.erase(ranges_.begin() + static_cast<std::ptrdiff_t>(at) + 1);
    }
  }
  while (ranges_.size() > kMaxRanges) {
    // Merge the two neighbours with the smallest gap between them.
    size_t best = 0;
    uint64_t best_gap = UINT64_MAX;
    for (size_t i = 0; i + 1 < ranges_.size(); ++i) {
      uint64_t gap = static_cast<uint64_t>(ranges_[i + 1].lo) - static_cast<uint64_t>(ranges_[i].hi);
      if (gap < best_gap) best_gap = gap, best = i;
    }
    ranges_[best].hi = ranges_[best + 1].hi;
    ranges_.erase(ranges_.begin() + static_cast<std::ptrdiff_t>(best) + 1);
  }
  return true;
}

bool TimeRangeSet::Overlaps(int64_t lo, int64_t hi) const {
  for (const auto& r : ranges_)
    if (r.lo <= hi && lo <= r.hi) return true;
  return false;
}

bool TimeRangeSet::Contains(int64_t t) const {
  auto it = std::lower_bound(ranges_.begin(), ranges_.end(), t, [](const TimeRange& r, int64_t v) { return r.hi < v; });
  return it != ranges_.end() && it->lo <= t;
}

bool DuplicateTracker::Observe(uint64_t series, int64_t time) {
  bool repeat;
  auto it = newest_.find(series);
  if (it != newest_.end()) {
    repeat = time <= it->second;
    if (!repeat) it->second = time;
  } else {
    repeat = newest_.size() >= kMaxTrackedSeries && time <= table_newest_;
    if (newest_.size() < kMaxTrackedSeries) newest_.emplace(series, time);
  }
  table_newest_ = std::max(table_newest_, time);
  if (!persisted_.empty() && persisted_.Contains(time)) repeat = true;
  return repeat && ranges_.Add(time, time);
}

void DuplicateTracker::Restore(const std::vector<TimeRange>& ranges, const std::vector<TimeRange>& persisted) {
  for (const auto& r : ranges) ranges_.Add(r.lo, r.hi);
  for (const auto& r : persisted) persisted_.Add(r.lo, r.hi);
}

uint64_t SeriesHash(const lineproto::Tag* tags, uint32_t count) {
  // Sum of mixed per-tag hashes: the same tag set in any order gives the same value.
  uint64_t h = 0x9e3779b97f4a7c15ULL;
  std::hash<std::string_view> hasher;
  for (uint32_t i = 0; i < count; ++i) {
    uint64_t x = hasher(tags[i].key) * 0xff51afd7ed558ccdULL ^ hasher(tags[i].value);
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    x ^= x >> 33;
    h += x;
  }
  return h;
}

std::string InRangesSql(const std::vector<TimeRange>& ranges) {
  std::string sql;
  for (const auto& r : ranges)
    sql += (sql.empty() ? "(" : " OR ") + std::string("\"time\" BETWEEN make_timestamp_ns(") + std::to_string(r.lo) +
           ") AND make_timestamp_ns(" + std::to_string(r.hi) + ")";
  return sql.empty() ? "false" : sql + ")";
}

std::string MergeDuplicatesSql(const catalog::Table& table, const std::string& source) {
  std::string keys, values;
  for (const auto& c : table.columns) {
    std::string name = QuoteIdent(c.name);
    if (c.type == catalog::ColumnType::kTag || c.type == catalog::ColumnType::kTime)
      keys += (keys.empty() ? "" : ", ") + name;
    else  // arg_max skips NULL values: a point that omits a field keeps the earlier value
      values += ", arg_max(" + name + ", " + kOrderColumn + ") AS " + name;
  }
  return "SELECT " + keys + values + " FROM (" + source + ") GROUP BY " + keys;
}

std::string EmptyRowsSql(const catalog::Table& table) {
  std::string cols;
  for (const auto& c : table.columns)
    cols += (cols.empty() ? "" : ", ") + std::string("NULL::") + DuckTypeName(c.type) + " AS " + QuoteIdent(c.name);
  return "SELECT " + cols + " WHERE false";
}

std::string OrderSql(const std::string& rank, const std::string& position) {
  return "(((" + rank + ")::BIGINT << 40) | (" + position + ")) AS " + kOrderColumn;
}

}  // namespace riffle::query
