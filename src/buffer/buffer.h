// buffer: the write buffer (InfluxDB 3's write_buffer). One DuckDB table per Influx table
// (columns in catalog order, in schema db_<id>_data) with its newest rows staged beside it
// (duck/staged_rows.h), and a view per table in schema db_<id> that reads both and lists the
// columns sorted by name, as InfluxDB 3 shows them.
#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <shared_mutex>
#include <string>
#include <vector>

#include "buffer/duplicates.h"
#include "buffer/newest_times.h"
#include "buffer/persisted.h"
#include "catalog/catalog.h"
#include "duck/connection.h"
#include "duck/staged_rows.h"
#include "wal/wal.h"

namespace riffle::buffer {

// The buffer lives in its own compressed in-memory catalog (DuckDB's in-memory compression:
// dictionary-encoded tags, compressed numbers), about a third of the memory and several times
// faster to scan than an uncompressed one.
constexpr const char* kBufferCatalog = "buffer";
// The buffer's tables live in two such catalogs, which a snapshot swaps: the rows it persists
// stay where they were (frozen) and new rows go to fresh tables in the other one (live). A
// checkpoint compresses one catalog's tables and waits for every scan of them, so the live
// tables can be compressed while the snapshot reads the frozen ones, which takes seconds. A
// table that was empty at the swap stays where it is until rows come for it.
constexpr const char* kDataCatalogs[2] = {kBufferCatalog, "buffer_b"};
std::string SchemaRef(const std::string& schema);     // buffer."<schema>"
std::string DbSchema(uint32_t db_id);                 // db_<id>: the views users query
std::string DataSchema(uint32_t db_id);               // db_<id>_data: the buffer tables
std::string DataTable(uint32_t table_id);             // t<id>
// <catalog>."db_<id>_data"."t<id>", `catalog` an index into kDataCatalogs.
std::string DataTableRef(int catalog, uint32_t db_id, uint32_t table_id);
std::string FilesVariable(uint32_t table_id);         // riffle_files_<id>: see Buffer::ReadViews
std::string TimeRangeVariable(uint32_t table_id);     // riffle_time_range_<id>: the same
std::string ColumnDefs(const catalog::Table& table);  // "name" TYPE, ... for CREATE TABLE
duck::ColumnKind ColumnKindOf(catalog::ColumnType t);
std::vector<duck::StagedRows::Column> StagedColumns(const catalog::Table& table);  // in order
// Rows per Parquet row group: smaller than DuckDB's 122,880, so that a selective query reads
// fewer rows of the group it cannot skip, and 32k rows still make whole vectors for the scan.
constexpr int64_t kParquetRowGroupRows = 32'768;
// The codec of the Parquet files Riffle writes unless --parquet-compression says otherwise:
// over TSBS's cpu table snappy decodes about twice as fast as zstd (a selective query over 1M
// rows: 10.3 -> 4.7 ms in DuckDB alone) for files about 20% larger.
constexpr const char* kDefaultParquetCodec = "snappy";
// The SQL condition that selects the rows of `table` a row delete names (it is never NULL): a
// tag the table lacks is left out when compared with "", and makes it nullopt (no row can match)
// when compared with anything else.
std::optional<std::string> RowDeleteSql(const catalog::Table& table, const wal::RowDelete& d);
const char* DuckTypeName(catalog::ColumnType t);  // its SQL type name
// The rows of DuckDB table `table` and of the staged scan `staged_scan` (StagedRows::ScanSql
// with positions; "" for none) for which `where` holds, with the column that orders them by
// arrival (OrderSql with `rank`).
std::string OrderedSql(const std::string& table, const std::string& staged_scan,
                       const std::string& rank, const std::string& where);

class Buffer {
 public:
  // `scratch_dir` holds the empty Parquet file that views are created over (see ReadViews).
  // `parquet_codec`: a COPY ... (FORMAT parquet) codec, for every file snapshots, compaction
  // and row deletes write.
  explicit Buffer(duck::Database* db, const std::string& scratch_dir = "",
                  const std::string& parquet_codec = kDefaultParquetCodec);
  ~Buffer();

  Status SyncSchema(const catalog::CatalogState& state);
  Status Append(const catalog::CatalogState& state, const std::vector<wal::WriteOpPtr>& ops);
  // Replay: between these, the live tables are compressed every two row groups rather than
  // every kCheckpointRows (a long replay's uncompressed rows do not pile up).
  void BeginBulkAppend();
  Status EndBulkAppend();
  // A query node's copy of other nodes' data: every buffered row replaced by the rows of
  // `ops`, and the Parquet files by `files`, in one transaction (a query sees the old contents
  // or the new ones, never both). `duplicates` are the ranges the nodes' manifests recorded.
  Status Replace(const catalog::CatalogState& state, const std::vector<wal::WriteOpPtr>& ops,
                 const std::map<uint32_t, std::vector<PersistedFile>>& files,
                 const DuplicateRanges& duplicates);
  // Snapshots, as QueryEngine::FreezeBuffer / WriteParquet / PublishParquet describe.
  Result<size_t> Freeze(const catalog::CatalogState& state);
  Result<std::vector<PersistedFile>> WriteParquet(
      const catalog::CatalogState& state, int64_t chunk_ns,
      const std::function<std::string(const catalog::Database&, const catalog::Table&, int64_t)>&
          path_for);
  Status PublishParquet(const catalog::CatalogState& state,
                        const std::map<uint32_t, std::vector<PersistedFile>>& files,
                        bool drop_frozen);
  // Duplicate points (see buffer/duplicates.h).
  DuplicateRanges DuplicateTimeRanges();
  void RestoreDuplicates(const DuplicateRanges& ranges, const DuplicateRanges& persisted);
  // After compaction merged every persisted row of `table` in [lo, hi] into one file: unless
  // the buffer holds rows there too, queries stop merging that span.
  Status ForgetDuplicates(const catalog::Database& db, const catalog::Table& table, int64_t lo,
                          int64_t hi);
  // Checks the duplicate ranges of table `table_id` against its rows, the buffered ones and
  // those of its Parquet files, and forgets the ranges in which no point is there twice:
  // queries stop merging them. A restart flags every replayed point that falls within a
  // persisted file's time span (which series a file holds is not in memory), so after a
  // backfill most of the restored ranges are such. `pin` keeps the object keys it is given in
  // the local cache while the check reads them; the caller keeps publishes out meanwhile (the
  // persister's thread). Before each range it asks `stop` whether to leave the rest for later.
  // Returns the ranges forgotten.
  Result<std::vector<TimeRange>> ForgetUnrepeatedRanges(
      const catalog::CatalogState& state, uint32_t table_id,
      const std::function<Result<std::shared_ptr<void>>(const std::vector<std::string>&)>& pin,
      const std::function<bool()>& stop);
  // The SELECT that compaction writes for `inputs` (Parquet files of `table`, oldest first).
  std::string MergeFilesSql(const catalog::Table& table, const std::vector<std::string>& inputs);
  // Compaction: writes the rows of `inputs` (Parquet files of `table`, oldest first, holding
  // `input_rows` rows) into one Parquet file `output`, repeated points merged, sorted by time
  // bucket (multiples of `bucket_ns` since the epoch), then series and time as a snapshot's
  // rows are, on a connection of its own (appends go on); queries are not affected until the
  // files are published. Returns the rows written.
  Result<int64_t> MergeParquet(const catalog::Table& table, const std::vector<std::string>& inputs,
                               int64_t input_rows, int64_t bucket_ns, const std::string& output);
  // Row deletes (wal::RowDelete). Append applies those among `ops` to the buffered rows in WAL
  // order; this tells how many rows the one numbered `sequence` removed (once).
  int64_t TakeDeletedRows(uint64_t sequence);
  // How many rows of Parquet file `input` of `table` satisfy `where`.
  Result<int64_t> CountParquetRows(const catalog::Table& table, const std::string& input,
                                   const std::string& where);
  // Writes the rows of `input` that do not satisfy `where` to `output`, in the file's order;
  // returns how many.
  Result<int64_t> CopyParquetWithout(const catalog::Table& table, const std::string& input,
                                     const std::string& where, const std::string& output);
  // A view reads its table's Parquet files from a variable of the connection that queries it
  // (FilesVariable), not from a list in its text: creating or replacing a view then opens no
  // file (the buffer's connection sets the variables to an empty file), and a remote store's
  // cache need only hold the files of the tables a running query reads. A query binds its
  // views under this lock, which publishes take exclusively, so the lists it sets are those
  // its views expect.
  std::shared_lock<std::shared_mutex> ReadViews() { return std::shared_lock(views_mu_); }
  // Under ReadViews(): the SET VARIABLE statements that give a connection which last set them
  // at publish `*seen` the current lists ("" if they are current); `*seen` becomes current.
  std::string FileVariablesSql(uint64_t* seen) const;
  // Under ReadViews(): the SET VARIABLE statement that narrows table `table_id`'s list to the
  // files whose rows can fall in `range` (to the empty file when none can), or with no range
  // restores the whole list ("" when the table has no files).
  std::string FileVariableSql(uint32_t table_id, const std::optional<TimeRange>& range) const;
  // The SET VARIABLE statement by which a connection's views of table `table_id` skip the
  // staged rows (duck/staged_rows.h) outside `range`, or with no range read them all. Only a
  // range within which the statement reads every row of the table may be given (the time
  // bounds of query/time_bounds.h).
  static std::string TimeRangeVariableSql(uint32_t table_id, const std::optional<TimeRange>& range);
  // Under ReadViews(): how many Parquet files table `table_id` has.
  size_t FileCount(uint32_t table_id) const;
  // Under ReadViews(): the object keys of the Parquet files of the tables `table_ids`, those of
  // a table in `ranges` only where its rows can fall in that range.
  std::vector<std::string> FileKeys(const std::set<uint32_t>& table_ids,
                                    const std::map<uint32_t, TimeRange>& ranges = {}) const;
  // How many times PublishParquet changed what queries read. A file dropped by publish N can
  // go once no query that began before N runs (see query::FileReaders).
  uint64_t PublishCount() const { return publishes_.load(); }
  int64_t MemoryBytes();
  // Bounds on each key's newest row, for queries of the newest row per key (see newest_times.h):
  // appends lower them before their rows are readable, and row deletes and Replace forget them.
  NewestTimes& newest_times() { return newest_times_; }
  // Rows appended and not yet moved into their DuckDB table (duck/staged_rows.h), frozen ones too.
  int64_t StagedRowCount();
  // Bytes of line protocol appended since the buffer was created (replay included).
  int64_t AppendedBytes() const { return appended_bytes_.load(); }
  // Rows appended since the last Freeze (what a restart would replay if no snapshot ran).
  int64_t UnfrozenRows() const { return unfrozen_rows_.load(); }

  // Every statement that scans the buffer's tables runs between these (queries, snapshots,
  // compaction): checkpoints wait for none of them and they wait for checkpoints.
  // A scan of the frozen tables alone (a snapshot's) does not hold off checkpoints of the live
  // ones.
  void BeginScan(bool frozen_only = false);
  void EndScan(bool frozen_only = false);
  struct ScanGuard {
    explicit ScanGuard(Buffer* b, bool frozen = false) : buffer(b), frozen_only(frozen) {
      buffer->BeginScan(frozen_only);
    }
    ~ScanGuard() { buffer->EndScan(frozen_only); }
    ScanGuard(const ScanGuard&) = delete;
    ScanGuard& operator=(const ScanGuard&) = delete;
    Buffer* buffer;
    bool frozen_only;
  };

 private:
  // Under mu_: compresses the live tables, or with `all` the frozen ones too, unless a scan
  // that reads them runs (then it is put off to a later append).
  void CheckpointLocked(bool all = false);
  // Holds new scans of the buffer back (BeginScan waits) unless one of the live tables, or with
  // `frozen_too` of the frozen ones, runs: then it returns false and holds nothing.
  bool HoldScans(bool frozen_too);
  void ReleaseScans();                                            // after HoldScans returned true
  std::string LiveRef(uint32_t db_id, uint32_t table_id) const {  // under mu_
    auto it = tables_.find(table_id);
    return DataTableRef(it == tables_.end() ? live_ : it->second.catalog, db_id, table_id);
  }
  std::string FrozenRef(uint32_t db_id, uint32_t table_id) const {  // under mu_
    return DataTableRef(1 - live_, db_id, table_id);
  }
  // Creates or replaces a view (ViewSql) on the buffer's connection, whose file variables
  // name only the empty file.
  Status ExecView(uint32_t table_id, const std::string& sql);
  std::string parquet_options_;       // COPY's options for the Parquet files it writes
  std::string stub_path_;             // an empty Parquet file with a "time" column
  std::string merge_part_prefix_;     // MergeParquet's part files: scratch dir + "/merge-part-"
  std::atomic<uint64_t> merge_parts_{0};
  std::set<uint32_t> stub_variables_;  // table ids whose variable conn_ has set to it
  std::shared_mutex views_mu_;        // see ReadViews
  std::mutex scan_mu_;                // guards scans_, frozen_scans_ and checkpointing_
  std::condition_variable scan_cv_;
  int scans_ = 0;         // of the live tables (and maybe the frozen ones)
  int frozen_scans_ = 0;  // of the frozen tables alone
  bool checkpointing_ = false;
  bool checkpoint_due_ = false;      // put off while scans ran (under mu_)
  bool checkpoint_all_due_ = false;  // and of the frozen tables too (under mu_)
  // Creates what `state` has and the buffer lacks, drops what it deleted, and re-creates every
  // view whose text changed: O(tables), so an append runs it only when the catalog's version
  // moved or views_stale_ says a view may be out of date.
  Status SyncLocked(const catalog::CatalogState& state);
  // Every view is re-derived by the next sync (after a failed change of views, or one that
  // changed what they read without re-creating them all).
  void ForgetViewsLocked() {
    for (auto& [id, t] : tables_) t.view_sql.clear();
    views_stale_ = true;
  }
  uint64_t synced_version_ = UINT64_MAX;  // the catalog version of the last whole sync (under mu_)
  bool views_stale_ = true;               // under mu_
  // The newer of `given` and the newest catalog the buffer has synced with (kept from now on).
  // Callers take a catalog state before they lock mu_, and a change is synced before it is
  // published (Catalog::AddPrePublishListener), so `given` may be older than the tables and
  // columns already in DuckDB: syncing back to it dropped a just-created table's view, and
  // appending with its columns failed on a just-added column, losing acknowledged rows.
  const catalog::CatalogState& NewestLocked(const catalog::CatalogState& given);
  std::shared_ptr<const catalog::CatalogState> newest_;  // under mu_
  struct TableRows {
    const catalog::Database* db = nullptr;
    std::vector<std::pair<const wal::WriteOp*, uint32_t>> rows;  // (write, line) in arrival order
  };
  using RowsByTable = std::map<const catalog::Table*, TableRows>;
  static RowsByTable GroupByTable(const catalog::CatalogState& state,
                                  const std::vector<wal::WriteOpPtr>& ops);
  Status SyncTable(const catalog::Database& db, const catalog::Table& table);
  // Moves the live table of `table`, empty since it stayed behind at a freeze, to the live
  // catalog, so that no checkpoint of that catalog waits for a snapshot to end.
  Status MoveToLiveCatalog(const catalog::Database& db, const catalog::Table& table);
  Status AppendWritesLocked(const catalog::CatalogState& state,
                            const std::vector<wal::WriteOpPtr>& ops);
  Status DeleteRowsLocked(const catalog::CatalogState& state, const wal::WriteOp& op);
  std::map<uint64_t, int64_t> deleted_rows_;  // by row delete sequence, until taken
  // Appends and records possible duplicates; `*ranges_changed` tells whether the view must
  // now merge more of the table's rows.
  Status AppendTable(const catalog::Database& db, const catalog::Table& table,
                     const std::vector<std::pair<const wal::WriteOp*, uint32_t>>& rows,
                     bool* ranges_changed);

  struct TableState {
    uint32_t db_id;
    std::string name;
    size_t column_count;
    std::string view_sql;  // the view as last created
    int catalog = 0;       // where its live table is: live_, or the other catalog while empty
    size_t appended = 0;   // rows appended to the live table (0: it is empty)
    // The rows not yet moved into the DuckDB table of each catalog (duck/staged_rows.h): set
    // wherever that table exists, read by everything that reads the table.
    std::shared_ptr<duck::StagedRows> staged[2];
  };
  std::atomic<uint64_t> publishes_{0};
  NewestTimes newest_times_;
  std::atomic<int64_t> unfrozen_rows_{0};
  std::atomic<int64_t> appended_bytes_{0};
  std::mutex mu_;
  duck::Database* db_;
  duck::Connection conn_;
  std::set<uint32_t> frozen_;              // table ids whose rows a snapshot is persisting
  // The kDataCatalogs index of the live tables; the frozen ones are in the other, and so are the
  // tables that were empty at the last freeze (TableState::catalog), until rows come for them.
  int live_ = 0;
  std::set<uint32_t> schemas_;             // db ids whose schemas exist
  std::map<uint32_t, TableState> tables_;  // by table id
  size_t rows_since_checkpoint_ = 0;
  std::map<uint32_t, std::vector<PersistedFile>> parquet_files_;  // by table id, oldest first
  std::map<uint32_t, DuplicateTracker> duplicates_;               // by table id
  bool bulk_ = false;                                             // see BeginBulkAppend
  uint64_t writes_seen_ = 0;                                      // numbers the writes for it
  std::string ViewSql(const catalog::Database& db, const catalog::Table& table) const;
  // Under mu_: the staged rows of table `table` in catalog `c`, created (empty) if missing.
  duck::StagedRows& StagedLocked(const catalog::Table& table, int c);
  // Under mu_: a subquery of every row of table `table_id` in catalog `c`: those of its DuckDB
  // table and its staged ones. A view's (`in_view`) scan of the staged rows skips the chunks
  // outside the querying connection's TimeRangeVariable; other readers read them all.
  std::string RowsSql(uint32_t db_id, uint32_t table_id, int c, bool in_view = false) const;
  // Under mu_: the same rows with the column that orders them by arrival (OrderSql with
  // `rank`), those for which `where` holds.
  std::string OrderedRowsSql(uint32_t db_id, uint32_t table_id, int c, const std::string& rank,
                             const std::string& where, bool in_view = false) const;
  // Under mu_: moves table `table_id`'s staged rows of the live catalog into its DuckDB table,
  // unless a scan of the live tables runs (then a later append does).
  Status MoveStagedLocked(uint32_t db_id, uint32_t table_id);
  int FrozenCatalog() const { return 1 - live_; }  // under mu_
  // Under mu_: the catalogs that hold rows of table `table_id`: its live table's, and the frozen
  // one while a snapshot persists it.
  std::vector<int> CatalogsOf(uint32_t table_id) const {
    std::vector<int> catalogs = {LiveCatalogOf(table_id)};
    if (frozen_.count(table_id)) catalogs.push_back(FrozenCatalog());
    return catalogs;
  }
  int LiveCatalogOf(uint32_t table_id) const {     // under mu_: where its live table is
    auto it = tables_.find(table_id);
    return it == tables_.end() ? live_ : it->second.catalog;
  }
};

}  // namespace riffle::buffer
