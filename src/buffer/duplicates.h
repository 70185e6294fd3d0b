// Duplicate points: InfluxDB 3 keeps one row per series (all tag values) and time, and when the
// same point is written again the newest non-null value of each field wins. Riffle appends
// every write as it comes (cheap) and merges at read time, but only where a repeat is possible:
// the ingest path notes the times at which a point arrived that is not newer than everything
// its series wrote before. Rows outside those ranges are unique and are read as they are; rows
// inside are merged by series and time, ordered by arrival (internal to the query component).
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "catalog/catalog.h"
#include "lineproto/line_protocol.h"
#include "buffer/persisted.h"

namespace riffle::buffer {

// A sorted set of disjoint closed ranges, merged into hulls past a small limit so that the
// SQL built from it stays short (wider ranges only cost merging work, never correctness).
class TimeRangeSet {
 public:
  static constexpr size_t kMaxRanges = 32;
  // Adds [lo, hi]; returns whether the set changed.
  bool Add(int64_t lo, int64_t hi);
  // Removes [lo, hi] (trimming or splitting ranges); returns whether the set changed.
  bool Remove(int64_t lo, int64_t hi);
  bool Overlaps(int64_t lo, int64_t hi) const;
  bool Contains(int64_t t) const;
  bool empty() const { return ranges_.empty(); }
  const std::vector<TimeRange>& ranges() const { return ranges_; }

 private:
  std::vector<TimeRange> ranges_;
};

// Per table: the times each series has covered, and the ranges where repeats may exist.
//
// Each series keeps a few spans that together contain every time it has written (a span's
// inner gaps count as written, which can only flag more). A point inside a span may repeat an
// earlier one, so its time joins the table's ranges; a point outside every span is new. A new
// point stretches the span below it when it continues that span's flow: the next point of the
// same write, or the next at the newest span's cadence (live data; O(1)). Otherwise it starts
// a span of its own, so batches of a backfill arriving in any order from concurrent clients
// leave the gaps between them open and flag nothing; the batch that fills a gap at the series'
// cadence joins the spans on both sides, so a series keeps only as many spans as it has gaps.
class DuplicateTracker {
 public:
  // Series tracked exactly per table; past it, new series are compared with the table's whole
  // time span (which can only flag more ranges, never fewer).
  static constexpr size_t kMaxTrackedSeries = size_t{1} << 20;
  // Spans per series; past it the two closest become one, and a point later written in the gap
  // between them is flagged. A loader whose clients write alternate batches (wrk's threads,
  // TSBS's workers) can leave one client hundreds of batches behind the other, a gap each:
  // with 64, 10M rows from bench/peers.sh flagged ranges over days, and every query over them
  // merged millions of rows (lastpoint 6.3 s, 5.3 GB).
  static constexpr size_t kMaxSpans = 1024;
  // Spans of all series together: past it (about 100 MB), a series keeps at most
  // kSpansOverBudget, so that memory stays bounded whatever the write pattern.
  static constexpr size_t kSpanBudget = size_t{1} << 22;
  static constexpr size_t kSpansOverBudget = 8;

  // Called for every appended row, `write` telling rows of one write apart from the next;
  // returns whether the ranges changed.
  bool Observe(uint64_t series, int64_t time, uint64_t write);
  // At start-up: the ranges the snapshot manifest recorded and the time spans of the persisted
  // files (their rows' series are not in memory, so a point within a span may be a repeat).
  void Restore(const std::vector<TimeRange>& ranges, const std::vector<TimeRange>& persisted);
  const TimeRangeSet& ranges() const { return ranges_; }
  // Once [lo, hi] is merged into a single place (compaction), its repeats are gone.
  bool Forget(int64_t lo, int64_t hi) { return ranges_.Remove(lo, hi); }
  // A check of the ranges against the rows themselves (Buffer::ForgetUnrepeatedRanges) runs
  // between these: a time flagged meanwhile stays flagged whatever the check found.
  void BeginCheck();
  // Forgets `unrepeated` (ranges in which the check found no point twice), but for the times
  // flagged since BeginCheck; returns whether the ranges changed.
  bool EndCheck(const std::vector<TimeRange>& unrepeated);

 private:
  struct Span {
    int64_t lo, hi;
    int64_t step;  // the gap it was last stretched by; 0 while it is one point
  };
  struct Series {
    std::vector<Span> spans;  // sorted, disjoint; back() is the newest
    int64_t last_time;        // the previous point, and the write it came in
    uint64_t last_write;
  };
  // Whether `time` may repeat a point of `series`; records it either way, keeping at most
  // `max_spans` spans and `*spans` (the spans of all series) up to date.
  static bool Cover(Series& series, int64_t time, uint64_t write, size_t max_spans, size_t* spans);

  std::unordered_map<uint64_t, Series> series_;
  size_t spans_ = 0;  // of all series
  TimeRange table_span_{INT64_MAX, INT64_MIN};
  TimeRangeSet persisted_;
  TimeRangeSet ranges_;
  bool checking_ = false;
  TimeRangeSet flagged_in_check_;  // while checking_
};

using lineproto::SeriesHash;

// Buffer::ForgetUnrepeatedRanges checks `r` in consecutive pieces of about `rows_per_piece`
// rows each, estimated from `buffered` (the rows the buffer holds, all of which may fall in
// `r`) and the share of each file's rows whose span overlaps `r`. Pieces never split a time.
std::vector<TimeRange> CheckPieces(const TimeRange& r, int64_t buffered,
                                   const std::vector<PersistedFile>& files, int64_t rows_per_piece);

// SQL: "time" within any of the ranges.
std::string InRangesSql(const std::vector<TimeRange>& ranges);
// SQL: the rows of `source` (a subquery with the table's columns plus a BIGINT column
// __riffle_order, larger = newer) with one row per series and time, each field taking its
// newest non-null value.
std::string MergeDuplicatesSql(const catalog::Table& table, const std::string& source);
// SQL: a subquery with the table's columns and no rows, so that a UNION ALL BY NAME always has
// every column (older Parquet files lack columns added later).
std::string EmptyRowsSql(const catalog::Table& table);
// SQL: a list of paths, for the two below.
std::string PathListSql(const std::vector<std::string>& paths);
// SQL: every row of the Parquet files `list` (a list expression; a column missing from older
// files reads as NULL).
std::string ReadParquetSql(const std::string& list);
// SQL: the rows of the Parquet files `list` (oldest first, none holding a repeat of its own)
// that satisfy `condition`, with __riffle_order from the file's position.
std::string OrderedParquetSql(const std::string& list, const std::string& condition);
constexpr const char* kOrderColumn = "__riffle_order";
constexpr const char* kFileColumn = "__riffle_file";
// SQL: the __riffle_order column of a merge source, from its rank among the sources (newer
// sources rank higher) and a row's position within it (below 2^40).
std::string OrderSql(const std::string& rank, const std::string& position);

}  // namespace riffle::buffer
