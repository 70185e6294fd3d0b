// The buffer's side of a snapshot: freeze the tables, copy the frozen rows to Parquet, publish
// the files and forget the frozen rows (see QueryEngine::FreezeBuffer and persist/).
#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <set>
#include <thread>

#include "buffer/buffer.h"
#include "common/fault.h"
#include "common/log.h"
#include "duck/duck.h"

namespace riffle::buffer {

using duck::QuoteIdent;
using duck::QuoteLiteral;

// A snapshot writes at most this many files per table (chunks are widened past it).
constexpr size_t kMaxFilesPerTable = 16;
// Files of more rows keep arrival order (see the sort below).
constexpr int64_t kMaxSortedRows = 4'000'000;

namespace {

// The series key then time: the tags in the table's column order, as InfluxDB's sort key.
std::string SortKeySql(const catalog::Table& table) {
  std::string key;
  for (const auto& c : table.columns)
    if (c.type == catalog::ColumnType::kTag) key += QuoteIdent(c.name) + ", ";
  return key + "\"time\"";
}

// The start of the `width`-wide chunk (a multiple of `width` since the epoch) that holds "time".
std::string ChunkStartSql(int64_t width) {
  const std::string w = std::to_string(width);
  return "(epoch_ns(\"time\") - (((epoch_ns(\"time\") % " + w + ") + " + w + ") % " + w + "))";
}

// The chunk width past `chunk` for a snapshot of too many chunks: the narrowest whole part of
// a UTC day that is at least eight chunks wide and a whole number of them (for 10-minute chunks:
// 80 minutes, 12 hours, a day), then eight times as wide. Chunks begin at multiples of their
// width since the epoch, so none of these crosses midnight: compaction merges a table's files
// day by day and leaves a file that spans two days as it is, and with it the days around it.
int64_t WiderChunk(int64_t chunk) {
  constexpr int64_t kDay = 86'400'000'000'000;
  if (chunk <= 0 || chunk >= kDay || kDay % chunk != 0) return chunk * 8;
  const int64_t per_day = kDay / chunk;
  for (int64_t k = 8; k < per_day; ++k)
    if (per_day % k == 0) return chunk * k;
  return kDay;
}

}  // namespace

Result<size_t> Buffer::Freeze(const catalog::CatalogState& given) {
  std::lock_guard lock(mu_);
  const catalog::CatalogState& state = NewestLocked(given);
  if (!frozen_.empty()) return Status::Internal("a snapshot is already in progress");
  // The live catalog becomes the frozen one: a table with rows gets a fresh, empty table in the
  // other, the new live catalog; an empty one stays behind (see MoveToLiveCatalog). A DuckDB
  // transaction writes to one catalog only, so the fresh tables (which nothing reads yet) and
  // the views that read them (the switch, as queries see it) take one each.
  const int next = 1 - live_;
  std::vector<std::pair<const catalog::Database*, const catalog::Table*>> frozen;
  RIFFLE_RETURN_IF_ERROR(conn_.Exec("BEGIN TRANSACTION"));
  Status st;
  for (const auto& [name, db] : state.databases) {
    if (db->deleted) continue;
    for (const auto& [tname, table] : db->tables) {
      auto it = tables_.find(table->id);
      // Counted, not queried: a count(*) per table took 0.2 s with 1,000 tables. (A table whose
      // rows a delete removed, or whose append failed, is frozen empty: the snapshot writes no
      // file for it.)
      if (it == tables_.end() || it->second.catalog != live_ || it->second.appended == 0) continue;
      // OR REPLACE: a table an earlier failed freeze left there holds nothing queries read.
      st = conn_.Exec("CREATE OR REPLACE TABLE " + DataTableRef(next, db->id, table->id) + " (" +
                      ColumnDefs(*table) + ")");
      if (!st.ok()) break;
      frozen.emplace_back(db.get(), table.get());
    }
    if (!st.ok()) break;
  }
  if (st.ok()) st = conn_.Exec("COMMIT");
  if (!st.ok()) {
    (void)conn_.Exec("ROLLBACK");
    return st;
  }
  const int before = live_;
  live_ = next;
  for (const auto& [db, table] : frozen) {
    tables_[table->id].catalog = next;
    tables_[table->id].staged[next].reset();  // the fresh table's: its frozen rows stay staged
    StagedLocked(*table, next);               // in the other catalog, where the snapshot reads
    frozen_.insert(table->id);
  }
  st = conn_.Exec("BEGIN TRANSACTION");
  for (const auto& [db, table] : frozen) {
    if (!st.ok()) break;
    std::string view = ViewSql(*db, *table);
    st = ExecView(table->id, view);
    tables_[table->id].view_sql = view;
  }
  if (st.ok()) st = conn_.Exec("COMMIT");
  if (!st.ok()) {
    (void)conn_.Exec("ROLLBACK");
    live_ = before;
    for (const auto& [db, table] : frozen) tables_[table->id].catalog = before;
    frozen_.clear();
    ForgetViewsLocked();
    return st;
  }
  for (const auto& [db, table] : frozen) {
    tables_[table->id].column_count = table->columns.size();
    tables_[table->id].appended = 0;
  }
  unfrozen_rows_ = 0;
  views_stale_ = true;  // the next append checks every view once, as it did on every flush
  return frozen_.size();
}

Result<std::vector<PersistedFile>> Buffer::WriteParquet(
    const catalog::CatalogState& given, int64_t chunk_ns,
    const std::function<std::string(const catalog::Database&, const catalog::Table&, int64_t)>&
        path_for) {
  struct FrozenRows {
    std::string all;                           // a subquery of every frozen row
    std::string table;                         // the frozen DuckDB table
    std::string staged_scan;                   // its staged rows, with positions
    std::shared_ptr<duck::StagedRows> staged;  // kept while the snapshot reads them
  };
  std::map<uint32_t, FrozenRows> frozen_refs;   // by table id
  std::map<uint32_t, TimeRangeSet> duplicates;  // every frozen row was observed before the freeze
  std::shared_ptr<const catalog::CatalogState> newest;  // the frozen tables' columns, at least
  {
    std::lock_guard lock(mu_);
    NewestLocked(given);
    newest = newest_;
    for (uint32_t id : frozen_)
      if (auto t = tables_.find(id); t != tables_.end())
        frozen_refs[id] = {
            RowsSql(t->second.db_id, id, FrozenCatalog()), FrozenRef(t->second.db_id, id),
            t->second.staged[FrozenCatalog()] ? t->second.staged[FrozenCatalog()]->ScanSql(true)
                                              : "",
            t->second.staged[FrozenCatalog()]};
    for (const auto& [id, tracker] : duplicates_)
      if (!tracker.ranges().empty()) duplicates[id] = tracker.ranges();
  }
  // Runs on its own connection without the buffer lock: appends continue into the live tables
  // while the frozen ones (which nothing else writes) are copied out.
  auto opened = duck::Connection::Open(*db_);
  if (!opened.ok()) return Status::Internal("snapshot: " + opened.status().message());
  duck::Connection& conn = *opened;
  ScanGuard scanning(this, /*frozen=*/true);
  // Tests: RIFFLE_FAULT=snapshot_waits_for:<path> holds every snapshot here, as it reads the
  // frozen rows, until the file <path> exists (at most a minute); <path>.held says it waits.
  if (std::string path; fault::Injected("snapshot_waits_for", &path)) {
    std::ofstream(path + ".held").put('\n');
    for (int i = 0; i < 6000 && !std::filesystem::exists(path); ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  std::vector<PersistedFile> out;
  for (const auto& [name, db] : newest->databases) {
    if (db->deleted) continue;
    for (const auto& [tname, table] : db->tables) {
      auto ref = frozen_refs.find(table->id);
      if (ref == frozen_refs.end()) continue;
      const std::string& qualified = ref->second.all;
      // One file per time chunk (--gen1-duration), as InfluxDB persists; a backfill spanning
      // many chunks is written in coarser chunks (WiderChunk) so that one snapshot stays a few
      // files.
      int64_t chunk = chunk_ns;
      std::vector<std::vector<int64_t>> stats;
      for (;;) {
        std::string sql = "SELECT " + ChunkStartSql(chunk) +
                          " AS chunk, count(*), epoch_ns(min(\"time\")), epoch_ns(max(\"time\")) "
                          "FROM " +
                          qualified + " GROUP BY 1 ORDER BY 1";
        auto queried = conn.QueryInt64s(sql);
        if (!queried.ok())
          return Status::Internal("snapshot statistics failed: " + queried.status().message());
        stats = std::move(queried).value();
        if (stats.size() <= kMaxFilesPerTable || chunk > INT64_MAX / 16) break;
        chunk = WiderChunk(chunk);
      }
      for (const auto& row : stats) {
        PersistedFile f;
        f.db_id = db->id;
        f.table_id = table->id;
        int64_t chunk_start = row[0];
        f.rows = row[1];
        f.min_time = row[2];
        f.max_time = row[3];
        f.path = path_for(*db, *table, chunk_start);
        std::string in_chunk = "epoch_ns(\"time\") BETWEEN " + std::to_string(f.min_time) +
                               " AND " + std::to_string(f.max_time);
        std::string chunk_rows = "SELECT * FROM " + qualified + " WHERE " + in_chunk;
        // A file holds no repeated point: queries order files, not the rows within one.
        auto dup = duplicates.find(table->id);
        if (dup != duplicates.end() && dup->second.Overlaps(f.min_time, f.max_time)) {
          std::string in = InRangesSql(dup->second.ranges());
          chunk_rows +=
              " AND NOT " + in + " UNION ALL BY NAME " +
              MergeDuplicatesSql(*table, OrderedSql(ref->second.table, ref->second.staged_scan, "0",
                                                    in_chunk + " AND " + in));
        }
        // Sorted by series (the tags in the table's order) and time, as InfluxDB persists: a
        // row group then holds a few series, and a query for one host or one time range skips
        // the others by their min/max statistics. A snapshot is bounded (--force-snapshot-rows,
        // the memory threshold), so the sort is too; past kMaxSortedRows rows stay in arrival
        // order (nearly time order) rather than cost gigabytes.
        if (f.rows <= kMaxSortedRows)
          chunk_rows = "SELECT * FROM (" + chunk_rows + ") ORDER BY " + SortKeySql(*table);
        auto copied = conn.QueryInt64s("COPY (" + chunk_rows + ") TO " + QuoteLiteral(f.path) +
                                       parquet_options_);
        if (!copied.ok())
          return Status::Internal("snapshot: writing " + f.path +
                                  " failed: " + copied.status().message());
        f.rows = (*copied)[0][0];  // after merging
        out.push_back(std::move(f));
      }
    }
  }
  return out;
}

Status Buffer::PublishParquet(const catalog::CatalogState& given,
                              const std::map<uint32_t, std::vector<PersistedFile>>& files,
                              bool drop_frozen) {
  std::lock_guard lock(mu_);
  const catalog::CatalogState& state = NewestLocked(given);
  std::unique_lock views(views_mu_);  // queries binding views wait (see ReadViews)
  // Counted once the views changed (or failed to): a query that sees the new count binds them.
  struct CountPublish {
    std::atomic<uint64_t>& count;
    ~CountPublish() { count.fetch_add(1); }
  } counted{publishes_};
  parquet_files_ = files;
  RIFFLE_RETURN_IF_ERROR(conn_.Exec("BEGIN TRANSACTION"));
  Status st;
  std::set<uint32_t> dropped;
  std::vector<std::string> drops;  // after the views: a transaction writes one catalog
  for (const auto& [name, db] : state.databases) {
    if (db->deleted) continue;
    for (const auto& [tname, table] : db->tables) {
      auto it = tables_.find(table->id);
      if (it == tables_.end()) continue;
      if (drop_frozen && frozen_.count(table->id)) {
        // The frozen rows are in the files now; dropping the table gives its memory back.
        drops.push_back("DROP TABLE IF EXISTS " + FrozenRef(db->id, table->id));
        dropped.insert(table->id);
        frozen_.erase(table->id);
      }
      std::string view = ViewSql(*db, *table);
      if (st.ok()) st = ExecView(table->id, view);
      it->second.view_sql = view;
      if (!st.ok()) break;
    }
    if (!st.ok()) break;
  }
  if (!st.ok()) {
    (void)conn_.Exec("ROLLBACK");
    frozen_.insert(dropped.begin(), dropped.end());
    ForgetViewsLocked();
    return st;
  }
  if (st = conn_.Exec("COMMIT"); !st.ok()) {
    ForgetViewsLocked();
    return st;
  }
  views_stale_ = true;  // the next append checks every view once, as it did on every flush
  for (const auto& drop : drops)
    if (Status dropped_st = conn_.Exec(drop); !dropped_st.ok())
      log::Warn("snapshot: cannot drop a persisted buffer table: " + dropped_st.message());
  for (uint32_t id : dropped)  // their staged rows too (a query that read them keeps its own)
    if (auto it = tables_.find(id); it != tables_.end()) it->second.staged[FrozenCatalog()].reset();
  if (drop_frozen) {
    frozen_.clear();  // tables deleted meanwhile were dropped by the sync
    CheckpointLocked(/*all=*/true);
  }
  return Status::Ok();
}

Status Buffer::ForgetDuplicates(const catalog::Database& db, const catalog::Table& table,
                                int64_t lo, int64_t hi) {
  std::lock_guard lock(mu_);  // appends (and their repeat checks) wait meanwhile
  auto dup = duplicates_.find(table.id);
  if (dup == duplicates_.end() || !dup->second.ranges().Overlaps(lo, hi)) return Status::Ok();
  for (int c : CatalogsOf(table.id)) {
    std::string sql = "SELECT count(*) FROM " + RowsSql(db.id, table.id, c) +
                      " WHERE \"time\" BETWEEN make_timestamp_ns(" + std::to_string(lo) +
                      ") AND make_timestamp_ns(" + std::to_string(hi) + ")";
    auto count = conn_.QueryInt64s(sql);
    if (!count.ok())
      return Status::Internal("cannot count buffered rows: " + count.status().message());
    if ((*count)[0][0] != 0) return Status::Ok();
  }
  if (!dup->second.Forget(lo, hi)) return Status::Ok();
  return SyncTable(db, table);  // the view without the forgotten span
}

std::string Buffer::MergeFilesSql(const catalog::Table& table,
                                  const std::vector<std::string>& inputs) {
  std::string all = ReadParquetSql(PathListSql(inputs));
  std::vector<TimeRange> ranges;
  {
    std::lock_guard lock(mu_);
    auto dup = duplicates_.find(table.id);
    if (dup != duplicates_.end()) ranges = dup->second.ranges().ranges();
  }
  if (ranges.empty()) return all;
  // Inputs are oldest first and each holds no repeat of its own, so the input's position orders
  // them.
  std::string in = InRangesSql(ranges);
  std::string ordered = EmptyRowsSql(table) + " UNION ALL BY NAME " + OrderedParquetSql(PathListSql(inputs), in);
  return all + " WHERE NOT " + in + " UNION ALL BY NAME " + MergeDuplicatesSql(table, ordered);
}

Result<int64_t> Buffer::MergeParquet(const catalog::Table& table,
                                     const std::vector<std::string>& inputs, int64_t input_rows,
                                     int64_t bucket_ns, const std::string& output) {
  auto conn = duck::Connection::Open(*db_);
  if (!conn.ok()) return Status::Internal("compaction: " + conn.status().message());
  ScanGuard scanning(this);
  const std::string rows = MergeFilesSql(table, inputs);
  auto copy = [&](const std::string& select, const std::string& to) -> Result<int64_t> {
    auto copied =
        conn->QueryInt64s("COPY (" + select + ") TO " + QuoteLiteral(to) + parquet_options_);
    if (!copied.ok()) return copied.status();
    return (*copied)[0][0];  // repeats merged: fewer than the inputs hold
  };
  // Each input is sorted by series and time, but one after another they are not: a row group
  // of their concatenation spans parts of several inputs, so its min/max of every tag covers
  // nearly every series, and a query for one host reads every row group of its time range.
  if (input_rows > kMaxSortedRows) return copy(rows, output);
  // One sort per time bucket, each written to a part file, then the parts one after another
  // into `output`: a sort holds its rows in memory, and one sort of a whole day's rows raised
  // the peak RSS of a day's ingest and merges by 250-390 MB (864,000 TSBS rows).
  bucket_ns = std::max<int64_t>(bucket_ns, 1);
  auto buckets = conn->QueryInt64s("SELECT DISTINCT " + ChunkStartSql(bucket_ns) +
                                   " AS bucket FROM (" + rows + ") ORDER BY bucket");
  if (!buckets.ok()) return buckets.status();
  // A range of "time" rather than the bucket's start: DuckDB skips the inputs' row groups
  // outside it by their statistics.
  auto sorted_in = [&](int64_t bucket) {
    std::string in = "\"time\" >= make_timestamp_ns(" + std::to_string(bucket) + ")";
    if (bucket <= INT64_MAX - bucket_ns)
      in += " AND \"time\" < make_timestamp_ns(" + std::to_string(bucket + bucket_ns) + ")";
    return "SELECT * FROM (" + rows + ") WHERE " + in + " ORDER BY " + SortKeySql(table);
  };
  if (buckets->size() <= 1)
    return copy(buckets->empty() ? rows : sorted_in((*buckets)[0][0]), output);
  std::vector<std::string> parts;
  auto remove_parts = [&] {
    std::error_code ec;
    for (const auto& part : parts) std::filesystem::remove(part, ec);
  };
  for (const auto& bucket : *buckets) {
    parts.push_back(merge_part_prefix_ + std::to_string(merge_parts_++) + ".parquet");
    if (auto written = copy(sorted_in(bucket[0]), parts.back()); !written.ok()) {
      remove_parts();
      return written.status();
    }
  }
  // DuckDB keeps the files' order, and each file's (insertion order is preserved).
  auto written = copy(ReadParquetSql(PathListSql(parts)), output);
  remove_parts();
  return written;
}

}  // namespace riffle::buffer
