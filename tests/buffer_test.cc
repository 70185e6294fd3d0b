#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>
#include <random>

#include "buffer/duplicates.h"
#include "buffer/newest_times.h"

namespace riffle::buffer {
namespace {

TEST(TimeRangeSet, MergesOverlappingAndTouchingRangesAndKeepsOrder) {
  TimeRangeSet set;
  EXPECT_TRUE(set.Add(10, 10));
  EXPECT_FALSE(set.Add(10, 10));  // already covered
  EXPECT_TRUE(set.Add(30, 40));
  EXPECT_TRUE(set.Add(11, 12));  // touches [10, 10]
  EXPECT_EQ(set.ranges(), (std::vector<TimeRange>{{10, 12}, {30, 40}}));
  EXPECT_TRUE(set.Add(5, 35));  // swallows both
  EXPECT_EQ(set.ranges(), (std::vector<TimeRange>{{5, 40}}));
  EXPECT_TRUE(set.Add(INT64_MIN, INT64_MIN));
  EXPECT_TRUE(set.Add(INT64_MAX, INT64_MAX));
  EXPECT_EQ(set.ranges().size(), 3u);
  EXPECT_TRUE(set.Overlaps(0, 5));
  EXPECT_FALSE(set.Overlaps(41, 100));
}

TEST(TimeRangeSet, PastTheLimitTheClosestRangesBecomeOne) {
  TimeRangeSet set;
  for (int64_t i = 0; i < 100; ++i) set.Add(i * 1000, i * 1000);
  set.Add(50'500, 50'500);
  ASSERT_LE(set.ranges().size(), TimeRangeSet::kMaxRanges);
  for (int64_t i = 0; i < 100; ++i) EXPECT_TRUE(set.Overlaps(i * 1000, i * 1000)) << i;
  EXPECT_TRUE(set.Overlaps(50'500, 50'500));
  for (size_t i = 1; i < set.ranges().size(); ++i)
    EXPECT_LT(set.ranges()[i - 1].hi, set.ranges()[i].lo);
}

TEST(DuplicateTracker, OnlyPointsASeriesMayHaveWrittenBeforeAreFlagged) {
  DuplicateTracker t;
  EXPECT_FALSE(t.Observe(1, 100, 1));
  EXPECT_FALSE(t.Observe(1, 200, 2));
  EXPECT_FALSE(t.Observe(2, 100, 2));  // another series at the same time is another point
  EXPECT_TRUE(t.ranges().empty());
  EXPECT_TRUE(t.Observe(1, 100, 3));   // a repeat
  EXPECT_TRUE(t.Observe(1, 150, 3));   // inside what the series covered: may repeat a point
  EXPECT_FALSE(t.Observe(1, 100, 4));  // range already known
  EXPECT_EQ(t.ranges().ranges(), (std::vector<TimeRange>{{100, 100}, {150, 150}}));
}

// Writes `batches` (each a run of ascending points of series 7) in `order`, one write each.
void WriteBatches(DuplicateTracker& t, const std::vector<int>& order, uint64_t& write,
                  int points = 50) {
  for (int b : order) {
    ++write;
    for (int i = 0; i < points; ++i)
      EXPECT_FALSE(t.Observe(7, (b * points + i) * 10, write)) << b << " " << i;
  }
}

TEST(DuplicateTracker, BackfillBatchesInAnyOrderFlagNothingButTheirRepeatsDo) {
  std::mt19937 rng(42);
  for (int round = 0; round < 20; ++round) {
    DuplicateTracker t;
    uint64_t write = 0;
    std::vector<int> order(12);
    std::iota(order.begin(), order.end(), 0);
    if (round == 0)
      std::reverse(order.begin(), order.end());
    else
      std::shuffle(order.begin(), order.end(), rng);
    WriteBatches(t, order, write);
    EXPECT_TRUE(t.ranges().empty()) << "round " << round;
    // Every written time is still known as written.
    for (int b = 0; b < 12; ++b) EXPECT_TRUE(t.Observe(7, (b * 50 + 25) * 10, ++write)) << b;
  }
}

// A loader's two clients writing alternate batches (wrk's threads in bench/peers.py), one of
// them up to 900 batches ahead of the other (10M rows in 5,000-line batches): every gap stays
// open until its batch comes, and the batch that fills it joins the spans on both sides.
TEST(DuplicateTracker, AlternateBatchesOfALaggingClientFlagNothing) {
  for (int lag : {2, 16, 40, 60, 300, 900}) {
    const int batches = 2 * lag + 400;
    DuplicateTracker t;
    uint64_t write = 0;
    std::vector<int> order;
    for (int b = 0; b < batches; b += 2) {
      order.push_back(b);  // the client ahead
      if (b - 2 * lag >= 0) order.push_back(b - 2 * lag + 1);
    }
    for (int b = std::max(1, batches - 2 * lag + 1); b < batches; b += 2) order.push_back(b);
    WriteBatches(t, order, write);
    EXPECT_TRUE(t.ranges().empty()) << "lag " << lag << ": " << t.ranges().ranges().size();
    for (int b = 0; b < batches; b += 37)
      EXPECT_TRUE(t.Observe(7, (b * 50 + 3) * 10, ++write)) << b;
  }
}

TEST(DuplicateTracker, LiveDataAndInterleavedSlicesFlagNothing) {
  DuplicateTracker t;
  uint64_t write = 0;
  // Live: one point per series per write, 1000 series, steady cadence with jitter.
  for (int64_t step = 0; step < 2000; ++step)
    for (uint64_t s = 0; s < 1000; ++s)
      ASSERT_FALSE(t.Observe(s, step * 10'000 + static_cast<int64_t>(s % 7) * 100, ++write));
  // Four clients each backfilling their own slice in order, their writes interleaved.
  for (int b = 0; b < 10; ++b)
    for (int client = 0; client < 4; ++client) {
      ++write;
      for (int i = 0; i < 20; ++i)
        ASSERT_FALSE(t.Observe(5000, -1'000'000 * (client + 1) + (b * 20 + i) * 10, write));
    }
  EXPECT_TRUE(t.ranges().empty());
}

TEST(DuplicateTracker, EveryWrittenPointIsFlaggedWhenWrittenAgain) {
  // Whatever the order, no repeat goes unnoticed (the merging at read time relies on it).
  std::mt19937 rng(7);
  for (int round = 0; round < 50; ++round) {
    DuplicateTracker t;
    std::vector<int64_t> times;
    uint64_t write = 0;
    for (int i = 0; i < 300; ++i) {
      if (rng() % 5 == 0) ++write;
      int64_t time = static_cast<int64_t>(rng() % 100'000) * (rng() % 3 == 0 ? 1000 : 1);
      if (std::find(times.begin(), times.end(), time) != times.end()) continue;
      t.Observe(3, time, write);
      times.push_back(time);
    }
    for (int64_t time : times) {
      t.Observe(3, time, ++write);  // true only when the ranges grew
      EXPECT_TRUE(t.ranges().Overlaps(time, time)) << round << " " << time;
    }
  }
}

TEST(DuplicateTracker, AfterARestartPersistedTimesMayRepeat) {
  DuplicateTracker t;
  t.Restore({{5, 6}}, {{900, 1000}, {5000, 5000}});
  EXPECT_TRUE(t.Observe(7, 1000, 1));
  EXPECT_FALSE(t.Observe(7, 1001, 1));  // outside the persisted files' spans
  EXPECT_FALSE(t.Observe(8, 899, 1));
  EXPECT_TRUE(t.Observe(8, 5000, 1));
  EXPECT_EQ(t.ranges().ranges(), (std::vector<TimeRange>{{5, 6}, {1000, 1000}, {5000, 5000}}));
}

TEST(DuplicateTracker, ACheckForgetsTheRangesItClearedButNotWhatWasFlaggedMeanwhile) {
  DuplicateTracker t;
  t.Restore({{10, 20}, {100, 200}, {500, 600}}, {{0, 1000}});
  t.BeginCheck();
  // Flagged while the check reads the rows (within ranges already: nothing changes yet).
  EXPECT_FALSE(t.Observe(1, 150, 1));
  EXPECT_FALSE(t.Observe(1, 550, 1));
  EXPECT_TRUE(t.EndCheck({{10, 20}, {100, 200}, {500, 600}}));
  EXPECT_EQ(t.ranges().ranges(), (std::vector<TimeRange>{{150, 150}, {550, 550}}));
  // A check that cleared nothing changes nothing; a flag between checks is not kept aside.
  t.BeginCheck();
  EXPECT_FALSE(t.EndCheck({}));
  EXPECT_TRUE(t.Observe(2, 700, 2));  // still within a persisted file's span
  t.BeginCheck();
  EXPECT_TRUE(t.EndCheck({{150, 150}, {700, 700}}));
  EXPECT_EQ(t.ranges().ranges(), (std::vector<TimeRange>{{550, 550}}));
}

TEST(CheckPieces, CutARangeIntoConsecutivePiecesOfAboutTheGivenRows) {
  // 100 buffered rows and half of a 1,000-row file: 600 rows, pieces of 250 rows: 3 pieces.
  std::vector<PersistedFile> files = {{1, 1, "a", 1000, 0, 999, ""},
                                      {1, 1, "b", 5000, 5000, 5999, ""}};
  auto pieces = CheckPieces({500, 1499}, 100, files, 250);
  EXPECT_EQ(pieces, (std::vector<TimeRange>{{500, 832}, {833, 1165}, {1166, 1499}}));
  EXPECT_EQ(CheckPieces({7, 7}, 1'000'000, files, 10), (std::vector<TimeRange>{{7, 7}}));
  EXPECT_EQ(CheckPieces({0, 9}, 5, {}, 1000), (std::vector<TimeRange>{{0, 9}}));
}

TEST(SeriesHash, TagOrderDoesNotMatterButKeysAndValuesDo) {
  using lineproto::Tag;
  std::vector<Tag> ab{{"a", "1"}, {"b", "2"}}, ba{{"b", "2"}, {"a", "1"}},
      swapped{{"a", "2"}, {"b", "1"}};
  std::vector<Tag> one{{"a", "1"}};
  EXPECT_EQ(SeriesHash(ab.data(), 2), SeriesHash(ba.data(), 2));
  EXPECT_NE(SeriesHash(ab.data(), 2), SeriesHash(swapped.data(), 2));
  EXPECT_NE(SeriesHash(ab.data(), 2), SeriesHash(one.data(), 1));
  EXPECT_NE(SeriesHash(one.data(), 1), SeriesHash(nullptr, 0));
}

// NewestTimes: a bound found while rows are appended or removed is kept only as low as those
// appends, or not at all; Lower and Forget move the generation a query checks.
TEST(NewestTimes, FindingKeepsTheAppendsMadeMeanwhile) {
  NewestTimes times;
  EXPECT_FALSE(times.Get(1, "host"));
  auto finding = times.Begin(1, "host");
  EXPECT_FALSE(finding.narrowed_by);
  times.Lower(1, 500);  // a row at 500 became readable while the rows were read
  times.Lower(2, 100);  // another table's
  times.Finish(finding, 1000, /*publish=*/7);
  auto bound = times.Get(1, "host");
  ASSERT_TRUE(bound);
  EXPECT_EQ(bound->time, 500);
  EXPECT_EQ(bound->publish, 7u);
  EXPECT_FALSE(times.Get(1, "host,region"));
  // Appends at or after the bound keep it and the generation.
  const uint64_t generation = times.Generation(1);
  times.Lower(1, 500);
  times.Lower(1, 2000);
  EXPECT_EQ(times.Get(1, "host")->time, 500);
  EXPECT_EQ(times.Generation(1), generation);
  // An older one lowers it and moves the generation.
  times.Lower(1, 40);
  EXPECT_EQ(times.Get(1, "host")->time, 40);
  EXPECT_NE(times.Generation(1), generation);
  // A later finding narrows by the bound and may raise it.
  auto again = times.Begin(1, "host");
  EXPECT_EQ(again.narrowed_by, std::optional<int64_t>(40));
  times.Finish(again, 3000, 8);
  EXPECT_EQ(times.Get(1, "host")->time, 3000);
  // No rows: nothing kept.
  auto empty = times.Begin(3, "host");
  times.Finish(empty, std::nullopt, 8);
  EXPECT_FALSE(times.Get(3, "host"));
}

TEST(NewestTimes, KeepsAtMostSoManyBoundsDroppingTheOldestFound) {
  NewestTimes times;
  auto find = [&](const std::string& keys, uint64_t publish) {
    times.Finish(times.Begin(1, keys), 100, publish);
  };
  find("host", 1);  // found first: the one that goes
  for (size_t i = 1; i < NewestTimes::kMaxBounds; ++i) find("host\1" + std::to_string(i), 2);
  find("host", 3);  // found again: kept in place, nothing dropped
  EXPECT_TRUE(times.Get(1, "host"));
  EXPECT_TRUE(times.Get(1, "host\1" + std::to_string(1)));
  find("host\1new", 4);
  EXPECT_TRUE(times.Get(1, "host\1new"));
  EXPECT_TRUE(times.Get(1, "host"));  // publish 3: newer than the one dropped
  size_t kept = 0;
  for (size_t i = 1; i < NewestTimes::kMaxBounds; ++i)
    kept += times.Get(1, "host\1" + std::to_string(i)) ? 1 : 0;
  EXPECT_EQ(kept, NewestTimes::kMaxBounds - 2);
}

TEST(NewestTimes, ForgetDropsBoundsAndFindingsUnderWay) {
  NewestTimes times;
  times.Finish(times.Begin(1, "host"), 1000, 1);
  times.Finish(times.Begin(2, "host"), 1000, 1);
  auto under_way = times.Begin(1, "region");
  const uint64_t generation = times.Generation(1);
  times.Forget(1);
  EXPECT_FALSE(times.Get(1, "host"));
  EXPECT_TRUE(times.Get(2, "host"));
  EXPECT_NE(times.Generation(1), generation);
  times.Finish(under_way, 1000, 1);
  EXPECT_FALSE(times.Get(1, "region"));
  // ForgetAll: every table, and the generation of each (a query may rely on a bound it read).
  const uint64_t table2 = times.Generation(2);
  auto pending = times.Begin(5, "host");
  times.ForgetAll();
  EXPECT_FALSE(times.Get(2, "host"));
  EXPECT_NE(times.Generation(2), table2);
  times.Finish(pending, 10, 1);
  EXPECT_FALSE(times.Get(5, "host"));
}

}  // namespace
}  // namespace riffle::buffer
