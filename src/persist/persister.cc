// The persister's coordination: start-up loading, the background thread, snapshot triggers,
// manifests and publication. Snapshots, compaction, retention and the file lifecycle are in
// their own files.
#include "persist/persister.h"

#include <algorithm>
#include <map>
#include <set>

#include "common/clock.h"
#include "common/log.h"
#include "persist/manifest.h"

namespace riffle::persist {

Persister::Persister(PersistOptions options, objstore::ObjectStore* store,
                     objstore::LocalFiles* files, catalog::Catalog* catalog, buffer::Buffer* buffer,
                     query::FileReaders* readers, wal::Wal* wal)
    : options_(std::move(options)),
      store_(store),
      local_(files),
      catalog_(catalog),
      buffer_(buffer),
      readers_(readers),
      wal_(wal) {}

Result<uint64_t> Persister::Load() {
  std::lock_guard lock(mu_);
  RIFFLE_ASSIGN_OR_RETURN(auto loaded, ReadNewestManifest(store_, options_.node_id));
  if (loaded) {
    const std::string& key = loaded->key;
    manifest_sequence_ = std::strtoull(key.c_str() + key.rfind('/') + 1, nullptr, 10);
    covered_wal_sequence_ = loaded->manifest.wal_sequence;
    files_ = std::move(loaded->manifest.files);
    row_deletes_ = std::move(loaded->manifest.row_deletes);
    for (const auto& r : row_deletes_)
      last_row_delete_sequence_ = std::max(last_row_delete_sequence_, r.request.sequence);
    buffer::DuplicateRanges persisted;
    for (const auto& f : files_) persisted[f.table_id].push_back({f.min_time, f.max_time});
    buffer_->RestoreDuplicates(loaded->manifest.duplicates, persisted);
    // Parquet files no manifest lists are leftovers of a crash mid-snapshot or mid-compaction
    // (their rows are in the WAL or in the listed files). Only when the newest manifest is the
    // one in use: after a fallback, the newer files may be the only copy of their rows.
    if (loaded->newest) RemoveOrphans();
  }
  RIFFLE_RETURN_IF_ERROR(Publish(/*drop_frozen=*/false));
  if (!files_.empty())
    log::Info("loaded " + std::to_string(files_.size()) + " Parquet files covering WAL up to " +
              std::to_string(covered_wal_sequence_));
  return covered_wal_sequence_;
}

Status Persister::Publish(bool drop_frozen) {
  std::map<uint32_t, std::vector<buffer::PersistedFile>> by_table;
  for (const auto& f : files_) {
    auto path =
        local_ ? local_->PathFor(f.path) : Result<std::string>(Status::Internal("no local files"));
    if (!path.ok()) return path.status();
    by_table[f.table_id].push_back(
        {f.db_id, f.table_id, *path, f.rows, f.min_time, f.max_time, f.path});
  }
  return buffer_->PublishParquet(*catalog_->State(), by_table, drop_frozen);
}

Status Persister::WriteManifest() {
  char name[40];
  std::snprintf(name, sizeof name, "%020llu.json",
                static_cast<unsigned long long>(manifest_sequence_ + 1));
  RIFFLE_RETURN_IF_ERROR(
      store_->Put(options_.node_id + "/snapshots/" + name,
                  SerializeManifest(covered_wal_sequence_, files_, buffer_->DuplicateTimeRanges(),
                                    row_deletes_)));
  if (manifest_sequence_ >= 2) {
    std::snprintf(name, sizeof name, "%020llu.json",
                  static_cast<unsigned long long>(manifest_sequence_ - 1));
    (void)store_->Delete(options_.node_id + "/snapshots/" + name);
  }
  ++manifest_sequence_;
  return Status::Ok();
}

void Persister::Start() {
  if (!local_) return;
  thread_ = std::thread([this] { BackgroundLoop(); });
}

void Persister::Stop() {
  {
    std::lock_guard lock(thread_mu_);
    stopping_ = true;
  }
  thread_cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

namespace {
constexpr int kCompactionsPerSnapshot = 4;
}  // namespace

void Persister::BackgroundLoop() {
  auto next_retention_check =
      std::chrono::steady_clock::now() + std::chrono::nanoseconds(options_.retention_check_ns);
  auto next_adoption = std::chrono::steady_clock::now();
  std::unique_lock lock(thread_mu_);
  for (;;) {
    // Wakes at least every second to delete the files queries no longer read.
    auto wake =
        std::min(next_retention_check, std::chrono::steady_clock::now() + std::chrono::seconds(1));
    thread_cv_.wait_until(
        lock, wake, [this] { return stopping_ || snapshot_requested_ || row_deletes_requested_; });
    if (stopping_) return;
    row_deletes_requested_ = false;
    // Read before the deletes are applied: the flush that froze the snapshot's rows queued its
    // deletes first, so they are all applied before the snapshot is written (its files hold
    // no row written after a delete that is still to be applied to files).
    bool snapshot = snapshot_requested_;
    snapshot_requested_ = false;
    lock.unlock();
    std::unique_lock working(work_mu_);
    DeleteRetired();
    if (Status st = ApplyRowDeletes(); !st.ok()) {
      log::Error(
          "row delete failed (its rows may still show from Parquet files; no snapshot "
          "until it succeeds; retrying in 10 s): " +
          st.message());
      working.unlock();
      lock.lock();
      if (thread_cv_.wait_for(lock, std::chrono::seconds(10), [this] { return stopping_; })) return;
      row_deletes_requested_ = true;
      snapshot_requested_ = snapshot_requested_ || snapshot;
      continue;
    }
    if (snapshot) {
      // A failed snapshot keeps its rows frozen (still queried, still in the WAL) and is
      // retried after 10 s with the same WAL coverage.
      for (Status st = PersistFrozen(); !st.ok(); st = PersistFrozen()) {
        log::Error("snapshot failed (its rows stay in memory and in the WAL; retrying in 10 s): " +
                   st.message());
        std::unique_lock wait(thread_mu_);
        if (thread_cv_.wait_for(wait, std::chrono::seconds(10), [this] { return stopping_; }))
          return;
      }
      RecheckAfterSnapshot();
      // Merges follow one another (a tier's merge can complete the next tier's run), a few
      // per snapshot at most so that the next snapshot is not held up for long.
      for (int round = 0; options_.compact && round < kCompactionsPerSnapshot; ++round) {
        bool merged = false;
        if (Status st = Compact(&merged); !st.ok()) {
          log::Error("compaction failed (the files stay as they are): " + st.message());
          break;
        }
        if (!merged) break;
      }
    }
    if (!duplicates_checked_ && !snapshot) duplicates_checked_ = CheckDuplicateRanges();
    if (!options_.cluster_id.empty() && std::chrono::steady_clock::now() >= next_adoption) {
      next_adoption = std::chrono::steady_clock::now() + std::chrono::seconds(1);
      if (Status st = AdoptClusterCompactions(); !st.ok())
        log::Warn("adopting the cluster compactor's merges failed (retrying): " + st.message());
    }
    if (std::chrono::steady_clock::now() >= next_retention_check) {
      next_retention_check =
          std::chrono::steady_clock::now() + std::chrono::nanoseconds(options_.retention_check_ns);
      if (Status st = Prune(/*expired=*/true); !st.ok())
        log::Error("retention check failed: " + st.message());
    }
    working.unlock();
    lock.lock();
  }
}

void Persister::AfterFlush(uint64_t wal_sequence,
                           std::chrono::steady_clock::time_point flushed_at) {
  if (!local_) return;
  {
    std::lock_guard lock(mu_);
    // Not the time now: the listener can lag behind (a freeze, a plugin), and two flushes
    // counted as one period would put the snapshot off.
    auto at = std::chrono::duration_cast<std::chrono::nanoseconds>(flushed_at.time_since_epoch());
    int64_t period = at.count() / std::max<int64_t>(1, options_.wal_period_ns);
    if (last_period_ < 0) {
      // The first flush since start: each replayed file counts as a period, as before the
      // restart its flush did (at most enough to make the snapshot due).
      for (uint64_t seq = covered_wal_sequence_ + 1;
           seq < wal_sequence && period_starts_.size() < 2 * options_.snapshot_wal_files; ++seq)
        period_starts_.push_back(seq);
    }
    if (period != last_period_) {
      last_period_ = period;
      period_starts_.push_back(wal_sequence);
    }
    applied_sequence_ = wal_sequence;
    if (snapshot_in_progress_) return;  // its flushes' periods still count toward the next one
    if (!SnapshotIfDueLocked(wal_sequence)) return;
  }
  {
    std::lock_guard lock(thread_mu_);
    snapshot_requested_ = true;
  }
  thread_cv_.notify_all();
}

void Persister::BeforeAppend(uint64_t wal_sequence) {
  if (!local_) return;
  std::lock_guard lock(mu_);
  appending_sequence_ = wal_sequence;
}

void Persister::AppendFailed(uint64_t wal_sequence, const std::string& why) {
  if (!local_) return;
  std::lock_guard lock(mu_);
  if (failed_append_sequence_ == 0) failed_append_sequence_ = wal_sequence;
  log::Error("WAL file " + std::to_string(wal_sequence) +
             ": its rows could not all be added to the in-memory buffer (" + why +
             "); they are kept in the WAL, and snapshots are stopped until a restart replays "
             "them");
}

void Persister::RecheckAfterSnapshot() {
  {
    std::lock_guard lock(mu_);
    // A flush between BeforeAppend and AfterFlush has rows in the buffer that wal_sequence
    // would not cover; its own AfterFlush checks instead.
    if (snapshot_in_progress_ || appending_sequence_ != applied_sequence_ ||
        applied_sequence_ <= covered_wal_sequence_ || !SnapshotIfDueLocked(applied_sequence_))
      return;
  }
  std::lock_guard lock(thread_mu_);
  snapshot_requested_ = true;
}

bool Persister::BufferOverMemoryThresholdLocked() {
  // Line protocol takes more bytes than the rows it gives in DuckDB's compressed columns, so
  // memory grows by less than this between two answers.
  constexpr int64_t kRecheckAfterBytes = 4 << 20;
  int64_t appended = buffer_->AppendedBytes();
  // An answer over the threshold is never reused: the snapshot it starts frees the memory.
  if (measured_memory_ < 0 || measured_memory_ >= options_.snapshot_buffer_bytes ||
      appended - measured_at_appended_ >= kRecheckAfterBytes) {
    measured_memory_ = buffer_->MemoryBytes();
    measured_at_appended_ = appended;
  }
  return measured_memory_ >= options_.snapshot_buffer_bytes;
}

bool Persister::SnapshotIfDueLocked(uint64_t wal_sequence) {
  if (failed_append_sequence_ != 0) return false;  // see AppendFailed
  while (!period_starts_.empty() && period_starts_.front() <= covered_wal_sequence_)
    period_starts_.pop_front();
  // As InfluxDB: snapshot once 1.5 × --wal-snapshot-size periods are not yet persisted.
  bool due = 2 * period_starts_.size() >= 3 * options_.snapshot_wal_files ||
             2 * (wal_sequence - covered_wal_sequence_) >= 30 * options_.snapshot_wal_files;
  if (!due && options_.snapshot_buffer_bytes > 0) due = BufferOverMemoryThresholdLocked();
  // Bounds what a restart replays: the rows no snapshot covers.
  if (!due && options_.snapshot_rows > 0) due = buffer_->UnfrozenRows() >= options_.snapshot_rows;
  if (!due) return false;
  auto frozen = buffer_->Freeze(*catalog_->State());
  if (!frozen.ok()) {
    log::Error("snapshot: cannot set the buffer aside: " + frozen.status().message());
    return false;
  }
  snapshot_in_progress_ = true;
  frozen_sequence_ = wal_sequence;
  return true;
}

std::map<uint32_t, std::pair<int64_t, int64_t>> Persister::FilesPerDatabase() {
  std::lock_guard lock(mu_);
  std::map<uint32_t, std::pair<int64_t, int64_t>> out;
  for (const auto& f : files_) {
    out[f.db_id].first += 1;
    out[f.db_id].second += f.size_bytes;
  }
  return out;
}

Result<query::VirtualTable> Persister::ParquetFilesTable(const std::string& db_name) {
  std::lock_guard lock(mu_);
  return ParquetFilesTableOf(*catalog_->State(), db_name, files_);
}

query::VirtualTable ParquetFilesTableOf(const catalog::CatalogState& state, const std::string& db_name,
                                        const std::vector<ParquetFileInfo>& files) {
  using CT = catalog::ColumnType;
  query::VirtualTable vt;
  vt.columns = {{"table_name", CT::kString}, {"path", CT::kString},    {"size_bytes", CT::kUInt64},
                {"row_count", CT::kUInt64},  {"min_time", CT::kInt64}, {"max_time", CT::kInt64}};
  const catalog::Database* db = state.FindDatabase(db_name);
  if (!db) return vt;
  std::map<uint32_t, std::string> names;
  for (const auto& [tname, t] : db->tables) names[t->id] = tname;
  for (const auto& f : files) {
    if (f.db_id != db->id || !names.count(f.table_id)) continue;
    vt.rows.push_back({names[f.table_id], f.path, static_cast<uint64_t>(f.size_bytes),
                       static_cast<uint64_t>(f.rows), f.min_time, f.max_time});
  }
  return vt;
}

}  // namespace riffle::persist
