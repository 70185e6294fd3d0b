#include <gtest/gtest.h>

#include "persist/manifest.h"
#include "persist/persister.h"

namespace riffle::persist {
namespace {

constexpr int64_t kDay = 86'400'000'000'000;
constexpr int64_t kNow = 100 * kDay + 1;  // day 100 is today

ParquetFileInfo File(const std::string& path, uint32_t table, int64_t day, int64_t span = 1) {
  return {1, table, path, 10, 1, day * kDay + 60, day * kDay + 60 + span};
}

TEST(MergeSortBucket, HoldsAboutSoManyRowsAsAWholePartOfADay) {
  constexpr int64_t kHour = kDay / 24;
  // TSBS: 100 hosts, a point every 10 s, 864,000 rows a day; 131,072 rows are 3.6 hours.
  EXPECT_EQ(MergeSortBucket(864'000, kDay), 3 * kHour);
  // The same rate over a merge of half a day.
  EXPECT_EQ(MergeSortBucket(432'000, kDay / 2), 3 * kHour);
  // Few rows: sorted by series over the whole day.
  EXPECT_EQ(MergeSortBucket(60, kDay), kDay);
  EXPECT_EQ(MergeSortBucket(200'000, kDay), 12 * kHour);
  // Dense: 3 million rows a day (63 minutes' worth), then 10 million (19 minutes' worth).
  EXPECT_EQ(MergeSortBucket(3'000'000, kDay), kHour);
  EXPECT_EQ(MergeSortBucket(10'000'000, kDay), kHour / 6);
  // Denser still, or one row in one nanosecond: the narrowest.
  EXPECT_EQ(MergeSortBucket(100'000'000, kDay), kHour / 6);
  EXPECT_EQ(MergeSortBucket(1, 1), kHour / 6);
  EXPECT_EQ(MergeSortBucket(0, 0), kHour / 6);
}

TEST(PlanCompaction, MergesAClosedDaysFilesOfOneTableOncePastTheMinimum) {
  std::vector<ParquetFileInfo> files = {File("a", 1, 98), File("b", 1, 98), File("c", 2, 98),
                                        File("d", 1, 98)};
  EXPECT_TRUE(PlanCompaction(files, 4, kNow).empty());  // 3 files of table 1 on day 98
  auto group = PlanCompaction(files, 3, kNow);
  ASSERT_EQ(group.size(), 3u);
  EXPECT_EQ(group[0].path, "a");
  EXPECT_EQ(group[2].path, "d");
}

TEST(PlanCompaction, LeavesFilesThatSpanDays) {
  std::vector<ParquetFileInfo> spanning = {File("a", 1, 98, kDay), File("b", 1, 98, kDay)};
  EXPECT_TRUE(PlanCompaction(spanning, 2, kNow).empty());
}

TEST(PlanCompaction, MergesTheOpenDayByTiersOfSize) {
  auto sized = [](const std::string& path, int64_t rows) {
    ParquetFileInfo f = File(path, 1, 100);  // today
    f.rows = rows;
    return f;
  };
  // Three small snapshots and then big ones: with min_files 3, the three small ones first.
  std::vector<ParquetFileInfo> files = {sized("s1", 10), sized("s2", 12), sized("s3", 9),
                                        sized("b1", 5000), sized("b2", 6000)};
  auto group = PlanCompaction(files, 3, kNow);
  ASSERT_EQ(group.size(), 3u);
  EXPECT_EQ(group[0].path, "s1");
  EXPECT_EQ(group[2].path, "s3");
  // Two of a tier are not enough; a third makes a run (the merged small file is a tier apart).
  std::vector<ParquetFileInfo> later = {sized("m", 31), sized("b1", 5000), sized("b2", 6000)};
  EXPECT_TRUE(PlanCompaction(later, 3, kNow).empty());
  later.push_back(sized("b3", 4000));
  group = PlanCompaction(later, 3, kNow);
  ASSERT_EQ(group.size(), 3u);
  EXPECT_EQ(group[0].path, "b1");
  // A run is consecutive: a file of another tier in between breaks it.
  std::vector<ParquetFileInfo> broken = {sized("b1", 5000), sized("m", 31), sized("b2", 6000),
                                         sized("b3", 4000)};
  EXPECT_TRUE(PlanCompaction(broken, 3, kNow).empty());
}

TEST(PlanCompaction, NeverAcrossAnotherFileOfTheSameTableAndDay) {
  // "x" spans days 97-98 and lies between the day-98 files: merging them into the place of the
  // newest would put x's older values after newer ones.
  std::vector<ParquetFileInfo> files = {File("a", 1, 98), File("x", 1, 97, kDay + 10),
                                        File("b", 1, 98)};
  EXPECT_TRUE(PlanCompaction(files, 2, kNow).empty());
  files[1].table_id = 2;  // another table's file in between does not matter
  EXPECT_EQ(PlanCompaction(files, 2, kNow).size(), 2u);
}

TEST(CompactionRecord, RoundTripsAndRefusesDamage) {
  CompactionRecord r{{"n/dbs/1/2/a.parquet", "n/dbs/1/2/b.parquet"},
                     {1, 2, "c/compacted/n/dbs/1/2/d/c1.parquet", 1234, 56, -5, 7}};
  std::string text = SerializeCompactionRecord(r);
  auto back = ParseCompactionRecord(text);
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_EQ(back->inputs, r.inputs);
  EXPECT_EQ(back->output.path, r.output.path);
  EXPECT_EQ(back->output.size_bytes, 1234);
  EXPECT_EQ(back->output.min_time, -5);
  text[text.size() - 3] ^= 1;
  EXPECT_FALSE(ParseCompactionRecord(text).ok());
  EXPECT_FALSE(ParseCompactionRecord("").ok());
  EXPECT_EQ(CompactionRecordsPrefix("c1", "ing1"), "c1/compactions/ing1/");
}

TEST(ReadNewestManifest, SkipsADamagedNewestVersion) {
  auto store = objstore::NewMemoryStore();
  auto none = ReadNewestManifest(store.get(), "n");
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());
  ASSERT_TRUE(store->Put("n/snapshots/00000000000000000001.json",
                         SerializeManifest(7, {File("a", 1, 1)}, {})).ok());
  ASSERT_TRUE(store->Put("n/snapshots/00000000000000000002.json", "torn").ok());
  auto newest = ReadNewestManifest(store.get(), "n");
  ASSERT_TRUE(newest.ok() && newest->has_value());
  EXPECT_EQ((*newest)->key, "n/snapshots/00000000000000000001.json");
  EXPECT_EQ((*newest)->manifest.wal_sequence, 7u);
}

}  // namespace
}  // namespace riffle::persist
