#include "buffer/duplicates.h"

#include <algorithm>
#include <functional>

#include "buffer/buffer.h"
#include "duck/duck.h"

namespace riffle::buffer {

using duck::QuoteIdent;
using duck::QuoteLiteral;

namespace {

// Whether a range ending at `hi` lies wholly before one starting at `lo`, not even touching.
bool Separate(int64_t hi, int64_t lo) {
  return hi<lo&& static_cast<uint64_t>(lo) - static_cast<uint64_t>(hi)> 1;
}

// Joins the two neighbouring spans with the smallest gap (the newest such pair on ties, so that
// live data soon has a cadence to follow).
template <typename Span>
void JoinClosest(std::vector<Span>& spans) {
  size_t best = 0;
  uint64_t best_gap = UINT64_MAX;
  for (size_t i = 0; i + 1 < spans.size(); ++i) {
    uint64_t gap = static_cast<uint64_t>(spans[i + 1].lo) - static_cast<uint64_t>(spans[i].hi);
    if (gap <= best_gap) best_gap = gap, best = i;
  }
  Span& left = spans[best];
  const Span& right = spans[best + 1];
  left.hi = right.hi;
  left.step =
      right.step > 0 ? right.step : static_cast<int64_t>(std::min<uint64_t>(best_gap, INT64_MAX));
  spans.erase(spans.begin() + static_cast<std::ptrdiff_t>(best) + 1);
}

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
      uint64_t gap =
          static_cast<uint64_t>(ranges_[i + 1].lo) - static_cast<uint64_t>(ranges_[i].hi);
      if (gap < best_gap) best_gap = gap, best = i;
    }
    ranges_[best].hi = ranges_[best + 1].hi;
    ranges_.erase(ranges_.begin() + static_cast<std::ptrdiff_t>(best) + 1);
  }
  return true;
}

bool TimeRangeSet::Remove(int64_t lo, int64_t hi) {
  std::vector<TimeRange> kept;
  bool changed = false;
  for (const auto& r : ranges_) {
    if (r.hi < lo || hi < r.lo) {
      kept.push_back(r);
      continue;
    }
    changed = true;
    if (r.lo < lo) kept.push_back({r.lo, lo - 1});
    if (hi < r.hi) kept.push_back({hi + 1, r.hi});
  }
  ranges_ = std::move(kept);
  return changed;
}

bool TimeRangeSet::Overlaps(int64_t lo, int64_t hi) const {
  for (const auto& r : ranges_)
    if (r.lo <= hi && lo <= r.hi) return true;
  return false;
}

bool TimeRangeSet::Contains(int64_t t) const {
  auto it = std::lower_bound(ranges_.begin(), ranges_.end(), t,
                             [](const TimeRange& r, int64_t v) { return r.hi < v; });
  return it != ranges_.end() && it->lo <= t;
}

bool DuplicateTracker::Cover(Series& series, int64_t time, uint64_t write, size_t max_spans,
                             size_t* total) {
  auto& spans = series.spans;
  const size_t had = spans.size();
  auto bound = [&] {
    while (spans.size() > max_spans) JoinClosest(spans);
    *total = *total + spans.size() - had;
  };
  bool same_write = write == series.last_write;
  int64_t previous = series.last_time;
  series.last_time = time;
  series.last_write = write;
  // The span starting at or before `time`.
  size_t at;
  if (time >= spans.back().lo) {
    at = spans.size() - 1;
  } else {
    auto after = std::upper_bound(spans.begin(), spans.end(), time,
                                  [](int64_t v, const Span& s) { return v < s.lo; });
    if (after == spans.begin()) {
      spans.insert(after, Span{time, time, 0});
      bound();
      return false;
    }
    at = static_cast<size_t>(after - spans.begin()) - 1;
  }
  Span& below = spans[at];
  if (time <= below.hi) return true;
  uint64_t gap = static_cast<uint64_t>(time) - static_cast<uint64_t>(below.hi);
  bool newest = at + 1 == spans.size();
  bool continues =
      (same_write && below.lo <= previous && previous <= below.hi) ||
      (newest && below.step > 0 && gap / 4 <= static_cast<uint64_t>(below.step)) ||
      (below.step > 0 && gap <= static_cast<uint64_t>(below.step)) ||  // its next point
      (spans.size() == 1 && below.step == 0);                          // a series' first two points
  if (continues) {
    below.hi = time;
    below.step = static_cast<int64_t>(std::min<uint64_t>(gap, INT64_MAX));
    // Filled up to the next span at this cadence: nothing lies between the two, they are one.
    if (at + 1 < spans.size()) {
      const Span& next = spans[at + 1];
      if (static_cast<uint64_t>(next.lo) - static_cast<uint64_t>(below.hi) <=
          static_cast<uint64_t>(below.step)) {
        below.hi = next.hi;
        if (next.step > 0) below.step = next.step;
        spans.erase(spans.begin() + static_cast<std::ptrdiff_t>(at) + 1);
        *total -= 1;
      }
    }
    return false;
  }
  spans.insert(spans.begin() + static_cast<std::ptrdiff_t>(at) + 1, Span{time, time, 0});
  bound();
  return false;
}

bool DuplicateTracker::Observe(uint64_t series, int64_t time, uint64_t write) {
  bool repeat;
  auto it = series_.find(series);
  if (it != series_.end()) {
    repeat = Cover(it->second, time, write, spans_ < kSpanBudget ? kMaxSpans : kSpansOverBudget,
                   &spans_);
  } else if (series_.size() < kMaxTrackedSeries) {
    series_.emplace(series, Series{{Span{time, time, 0}}, time, write});
    ++spans_;
    repeat = false;
  } else {
    repeat = table_span_.lo <= time && time <= table_span_.hi;
  }
  table_span_.lo = std::min(table_span_.lo, time);
  table_span_.hi = std::max(table_span_.hi, time);
  if (!persisted_.empty() && persisted_.Contains(time)) repeat = true;
  if (repeat && checking_) flagged_in_check_.Add(time, time);
  return repeat && ranges_.Add(time, time);
}

void DuplicateTracker::BeginCheck() {
  checking_ = true;
  flagged_in_check_ = TimeRangeSet();
}

bool DuplicateTracker::EndCheck(const std::vector<TimeRange>& unrepeated) {
  std::vector<TimeRange> before = ranges_.ranges();
  for (const auto& r : unrepeated) ranges_.Remove(r.lo, r.hi);
  for (const auto& r : flagged_in_check_.ranges()) ranges_.Add(r.lo, r.hi);
  checking_ = false;
  flagged_in_check_ = TimeRangeSet();
  return ranges_.ranges() != before;
}

void DuplicateTracker::Restore(const std::vector<TimeRange>& ranges,
                               const std::vector<TimeRange>& persisted) {
  for (const auto& r : ranges) ranges_.Add(r.lo, r.hi);
  for (const auto& r : persisted) persisted_.Add(r.lo, r.hi);
}

std::string InRangesSql(const std::vector<TimeRange>& ranges) {
  std::string sql;
  for (const auto& r : ranges)
    sql += (sql.empty() ? "(" : " OR ") + std::string("\"time\" BETWEEN make_timestamp_ns(") +
           std::to_string(r.lo) + ") AND make_timestamp_ns(" + std::to_string(r.hi) + ")";
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
    cols += (cols.empty() ? "" : ", ") + std::string("NULL::") + DuckTypeName(c.type) + " AS " +
            QuoteIdent(c.name);
  return "SELECT " + cols + " WHERE false";
}

std::string OrderSql(const std::string& rank, const std::string& position) {
  return "(((" + rank + ")::BIGINT << 40) | (" + position + ")) AS " + kOrderColumn;
}

std::string PathListSql(const std::vector<std::string>& paths) {
  std::string list;
  for (const auto& p : paths) list += (list.empty() ? "" : ", ") + QuoteLiteral(p);
  return "[" + list + "]";
}

std::string ReadParquetSql(const std::string& list) {
  return "SELECT * FROM read_parquet(" + list + ", union_by_name = true)";
}

std::string OrderedParquetSql(const std::string& list, const std::string& condition) {
  return "SELECT * EXCLUDE (" + std::string(kFileColumn) + "), " +
         OrderSql("list_position(" + list + ", " + kFileColumn + ")", "0") + " FROM read_parquet(" + list +
         ", union_by_name = true, filename = '" + kFileColumn + "') WHERE " + condition;
}

}  // namespace riffle::buffer
