// persist: snapshots, compaction, retention and the Parquet file lifecycle. A snapshot moves
// the in-memory buffer to Parquet files, records them in a manifest, then retires the WAL files
// they cover.
//
// Order (no crash window where acknowledged data is in neither place):
//   0. on the WAL flush thread, between two appends: the buffer's rows are frozen (set aside,
//      still queried) and the WAL sequence they cover noted; new writes go to fresh tables;
//   then, on the background thread, while writes go on:
//   1. write the frozen rows to {node}/dbs/{db}/{table}/{date}/{HH-MM}/{wal_seq}.parquet and
//      fsync them;                crash here → orphan files, data still replayed from the WAL
//   2. write the manifest {node}/snapshots/{n}.json (all live files + the last WAL sequence they
//      cover) durably;            crash here → start-up loads the files, skips the covered WAL
//   3. switch queries to buffer ∪ files and drop the frozen rows, atomically;
//   4. delete the covered WAL files (keeping the newest --snapshotted-wal-files-to-keep).
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "buffer/buffer.h"
#include "catalog/catalog.h"
#include "objstore/local_files.h"
#include "objstore/object_store.h"
#include "query/query.h"
#include "wal/wal.h"

namespace riffle::persist {

struct PersistOptions {
  std::string node_id = "node0";
  // Snapshot after this many --wal-flush-interval periods with writes (--wal-snapshot-size):
  // InfluxDB's count of WAL files, one per interval. Flushes form per write (wal.h), so several
  // files in one period count once, and the files alone make a snapshot due at ten times that.
  size_t snapshot_wal_files = 600;
  int64_t snapshot_buffer_bytes = int64_t{1} << 29;  // ... or when the buffer holds this much
  int64_t snapshot_rows = 0;  // ... or this many rows since the last snapshot (0: no limit)
  size_t wal_files_to_keep = 300;                    // --snapshotted-wal-files-to-keep
  int64_t gen1_ns = 600'000'000'000;  // --gen1-duration: the time chunk of one Parquet file
  int64_t retention_check_ns = 1'800'000'000'000;  // --retention-check-interval
  size_t compact_min_files = 8;  // --compaction-min-files: merge a closed day's files past this
  bool compact = true;           // merges its own files (a node outside a cluster)
  // In a cluster: the merges the cluster's compactor records for this node are adopted.
  std::string cluster_id;
  // How long a file the manifest stopped listing stays in the store at least: the other nodes
  // of a cluster read it until they have read the new manifest (0 outside a cluster).
  int64_t retired_grace_ns = 0;
  int64_t wal_period_ns = 1'000'000'000;  // --wal-flush-interval
};

struct ParquetFileInfo {
  uint32_t db_id = 0, table_id = 0;
  std::string path;  // object-store key
  int64_t size_bytes = 0, rows = 0, min_time = 0, max_time = 0;
};

// A row delete (wal::RowDelete) and what became of it: system.row_deletes and
// /api/v3/row_delete_requests. Completed ones are kept in the snapshot manifest (the newest
// 1,000), pending ones are in the WAL until then.
struct RowDeleteRecord {
  uint32_t db_id = 0;
  std::string db_name;
  wal::RowDelete request;
  bool completed = false;
  int64_t completed_ns = 0;
  int64_t rows_deleted = 0;  // from the buffer and from Parquet files
  int64_t files_rewritten = 0, files_removed = 0;
  std::string error;  // why the last attempt failed, while pending
};

// Which files compaction merges next: the files of one table and one closed UTC day once
// there are at least `min_files` of them; in the open day (today and later), `min_files`
// consecutive files of one size tier (rows within a factor of `min_files`), so that a busy
// day's hundreds of snapshots become a few files while each row is rewritten only a few times.
// Never when another file of the table that covers part of that day lies between them in
// `files` (oldest first). Empty when there is nothing to do.
std::vector<ParquetFileInfo> PlanCompaction(const std::vector<ParquetFileInfo>& files,
                                            size_t min_files, int64_t now_ns);
// The time bucket within which a merged file of `rows` rows over `span_ns` is sorted by series:
// a bucket holds about kMergedRowsPerBucket rows, rounded down to a whole part of a UTC day
// (10 minutes to a day). A query for a few series then reads about one row group per bucket it
// covers, and one over a time range only the buckets in it: sorted by series alone, a merged
// day's row groups each span the whole day, and every query of part of a day reads all of them.
constexpr int64_t kMergedRowsPerBucket = 4 * buffer::kParquetRowGroupRows;
int64_t MergeSortBucket(int64_t rows, int64_t span_ns);
// Writes the rows of `group` (as PlanCompaction chose them), repeated points merged and sorted
// by time bucket (MergeSortBucket), series and time, to the new object `key` through `local`,
// on `buffer`'s DuckDB. NotFound if the table is gone.
Result<ParquetFileInfo> MergeFiles(const catalog::CatalogState& state, buffer::Buffer* buffer,
                                   objstore::LocalFiles* local,
                                   const std::vector<ParquetFileInfo>& group,
                                   const std::string& key);

// system.parquet_files of one database, for `files`.
query::VirtualTable ParquetFilesTableOf(const catalog::CatalogState& state, const std::string& db,
                                        const std::vector<ParquetFileInfo>& files);

class Persister {
 public:
  // `files` is where DuckDB writes and reads the Parquet files (nullptr: the store keeps no
  // files, and nothing is persisted).
  Persister(PersistOptions options, objstore::ObjectStore* store, objstore::LocalFiles* files,
            catalog::Catalog* catalog, buffer::Buffer* buffer, query::FileReaders* readers,
            wal::Wal* wal);
  ~Persister() { Stop(); }

  // Loads the newest manifest and shows its files to queries. Returns the last WAL sequence
  // the snapshots cover (replay starts after it).
  Result<uint64_t> Load();

  // Starts/stops the background thread that writes snapshots and enforces retention every
  // --retention-check-interval. Stop() lets a snapshot in progress finish.
  void Start();
  void Stop();

  // Called on the WAL's listener thread after each flush (its rows are in the buffer): when a
  // threshold is reached, freezes the buffer's rows (fast) and wakes the background thread to
  // persist them; writes go on meanwhile.
  // The flush counts in the --wal-flush-interval period it started in.
  void AfterFlush(uint64_t wal_sequence, std::chrono::steady_clock::time_point flushed_at);
  // Called on the same thread before that flush's rows go to the buffer: a snapshot that ends
  // while no flush is between the two checks again whether the flushes it let by (they only
  // count their periods while it runs) make the next one due, as an idle server gets no
  // further AfterFlush.
  void BeforeAppend(uint64_t wal_sequence);
  // Called on the same thread when that flush's rows could not all go to the buffer (and at
  // start when a replayed file's could not), with its WAL sequence. They are
  // acknowledged and in the WAL only, and a snapshot would persist the buffer without them and
  // delete the WAL files: from now on no snapshot is taken, so a restart replays them.
  void AppendFailed(uint64_t wal_sequence, const std::string& why);
  // Persists what is frozen, covering the WAL through `frozen_sequence_` (background thread).
  Status PersistFrozen();
  // Merges the group of Parquet files PlanCompaction chooses (a closed day's, or a run of one
  // size tier in the open day) into one file. Order: merged file written and fsynced →
  // manifest without the inputs → published → inputs deleted; a crash leaves at worst orphan
  // files, which start-up removes.
  // Merges the next group PlanCompaction chooses, if any; `merged` tells whether it did.
  Status Compact(bool* merged);
  // In a cluster: adopts each merge the compactor recorded for this node (cluster_id), or
  // deletes its output when an input is gone, then deletes the record.
  Status AdoptClusterCompactions();
  // Checks the buffer's duplicate ranges against the rows (Buffer::ForgetUnrepeatedRanges),
  // once after start-up: a restart flags every replayed point within a persisted file's time
  // span, and queries merge those ranges until a check or compaction clears them. False when
  // it left ranges unchecked for a snapshot due (or a stop).
  bool CheckDuplicateRanges();
  // Drops files of deleted databases/tables and, with `expired`, of data past its retention
  // period (only the --retention-check-interval timer passes it, so a mistaken retention
  // change can be undone until the next check).
  Status Prune(bool expired);

  // Row deletes. The WAL flush listener passes each flush's ops (after the buffer applied
  // them, before the next freeze): their deletes are queued, and the background thread
  // removes their rows from the Parquet files of their tables before it writes another
  // snapshot, since a later file may hold rows written after the delete. Without Parquet
  // files (no local files) they complete at once. `buffer_rows(sequence)` tells how many rows
  // the buffer removed.
  void QueueRowDeletes(const std::vector<wal::WriteOpPtr>& ops,
                       const std::function<int64_t(uint64_t)>& buffer_rows);
  // Applies the queued deletes now: at start-up, before queries are served, for those the WAL
  // replay found and no manifest records as done (rewriting a file again is harmless: every
  // listed file predates the delete).
  Status ApplyRowDeletes();
  // A number for the next delete request, above every one known.
  uint64_t NextRowDeleteSequence();
  // Waits until delete `sequence` completed or an attempt failed, at most `timeout`; the
  // record as it stands then (NotFound if no such delete is known).
  Result<RowDeleteRecord> WaitRowDelete(uint64_t sequence, std::chrono::milliseconds timeout);
  // Every known delete, oldest first.
  std::vector<RowDeleteRecord> RowDeletes();

  // While the returned lock is held, no snapshot, compaction, retention check or row delete
  // changes the stored files, and no file or WAL file is deleted: a backup copies a consistent
  // set. Writes go on (their rows wait in the buffer and the WAL).
  std::unique_lock<std::mutex> HoldFiles() { return std::unique_lock(work_mu_); }

  // Parquet files and bytes by database id (for /metrics).
  std::map<uint32_t, std::pair<int64_t, int64_t>> FilesPerDatabase();
  // system.parquet_files for one database.
  Result<query::VirtualTable> ParquetFilesTable(const std::string& db);

 private:
  // Puts `merged` where the newest of `inputs` was in the manifest and the views, and retires
  // the inputs; false (and `merged` removed) when some input is no longer listed.
  Result<bool> Adopt(const std::vector<std::string>& inputs, const ParquetFileInfo& merged);
  Status WriteManifest();
  // Removes the rows of `record`'s delete from the files of its table (the background thread,
  // or start-up); files that end up empty leave the manifest.
  Status ApplyRowDelete(RowDeleteRecord& record);
  Status Publish(bool drop_frozen);
  void RemoveOrphans();
  // Files no manifest lists any more are deleted once no query that may read them runs
  // (queries bind a table's file list when they start); a crash leaves them as orphans.
  void Retire(const std::string& key);
  void DeleteRetired();
  void BackgroundLoop();
  // {node}/dbs/{db}/{table}/{date_dir}/{prefix}{sequence:010}.parquet
  std::string NewFileKey(uint32_t db_id, uint32_t table_id, const std::string& date_dir,
                         const char* prefix, uint64_t sequence) const;

  PersistOptions options_;
  objstore::ObjectStore* store_;
  objstore::LocalFiles* local_;
  catalog::Catalog* catalog_;
  buffer::Buffer* buffer_;       // freezes, persists and publishes rows; merges files
  query::FileReaders* readers_;  // who may still read a file that a publish dropped
  wal::Wal* wal_;

  std::mutex work_mu_;    // held by the background thread while it changes files (HoldFiles)
  std::mutex thread_mu_;  // guards the three below
  std::condition_variable thread_cv_;
  bool stopping_ = false;
  bool snapshot_requested_ = false;
  bool duplicates_checked_ = false;  // CheckDuplicateRanges ran (background thread)
  bool row_deletes_requested_ = false;
  std::thread thread_;

  std::mutex mu_;  // guards everything below
  uint64_t manifest_sequence_ = 0;
  uint64_t covered_wal_sequence_ = 0;
  bool snapshot_in_progress_ = false;  // rows are frozen and not yet published
  uint64_t frozen_sequence_ = 0;       // the WAL the frozen rows cover
  uint64_t appending_sequence_ = 0;    // BeforeAppend's, then AfterFlush's
  uint64_t applied_sequence_ = 0;
  uint64_t failed_append_sequence_ = 0;  // the first flush the buffer missed rows of (0: none)
  // Under mu_, no snapshot in progress: freezes the buffer as covering the WAL through
  // `wal_sequence` if a threshold says so; true when the background thread must persist it.
  bool SnapshotIfDueLocked(uint64_t wal_sequence);
  // Whether the buffer holds --force-snapshot-mem-threshold or more. DuckDB's memory is a query
  // of its own (about 0.3 ms, as much as appending a small write), so it is asked again only
  // once enough line protocol has come in since the last answer to move it.
  bool BufferOverMemoryThresholdLocked();
  int64_t measured_memory_ = -1;      // the last answer, -1 for none yet
  int64_t measured_at_appended_ = 0;  // Buffer::AppendedBytes() at that answer
  void RecheckAfterSnapshot();
  std::deque<uint64_t> period_starts_;  // the first WAL file of each period with a flush
  int64_t last_period_ = -1;
  std::vector<ParquetFileInfo> files_;
  struct RetiredFile {
    uint64_t publish;  // the publish count after which no new query lists it
    int64_t retired_ns;
    std::string key;
  };
  std::vector<RetiredFile> retired_;
  std::vector<RowDeleteRecord> row_deletes_;  // oldest first; pending ones at the end
  uint64_t last_row_delete_sequence_ = 0;
  std::condition_variable row_delete_cv_;  // a delete completed or failed (under mu_)
};

}  // namespace riffle::persist
