// Snapshots: the frozen buffer written as Parquet, recorded in a manifest, published, and the
// WAL files it covers retired (the order is in persister.h).
#include <algorithm>
#include <map>
#include <set>

#include "common/clock.h"
#include "common/log.h"
#include "common/metrics.h"
#include "persist/manifest.h"
#include "persist/persister.h"

namespace riffle::persist {

Status Persister::PersistFrozen() {
  uint64_t wal_sequence;
  {
    std::lock_guard lock(mu_);
    if (!snapshot_in_progress_) return Status::Ok();
    wal_sequence = frozen_sequence_;
  }
  auto state = catalog_->State();
  int64_t started = NowNanos();
  // Parquet encoding runs without the persister lock: queries of system.parquet_files and
  // catalog changes are not held up by it.
  std::map<std::string, std::string> key_of;  // staged path → object key
  Status staging;
  auto written = buffer_->WriteParquet(
      *state, options_.gen1_ns,
      [&](const catalog::Database& db, const catalog::Table& table, int64_t chunk_start) {
        std::string t = FormatTimestampNanos(chunk_start);  // YYYY-MM-DDTHH:MM:SS...
        std::string key = NewFileKey(
            db.id, table.id, t.substr(0, 10) + "/" + t.substr(11, 2) + "-" + t.substr(14, 2), "",
            wal_sequence);
        auto path = local_->Stage(key);
        if (!path.ok()) {
          staging = path.status();
          return std::string();  // DuckDB then fails to write; the staging error is reported
        }
        key_of[*path] = key;
        return *path;
      });
  if (!staging.ok()) return staging;
  if (!written.ok()) return written.status();
  std::vector<ParquetFileInfo> added;
  for (const auto& w : *written) {
    const std::string& key = key_of[w.path];
    RIFFLE_ASSIGN_OR_RETURN(int64_t size, local_->Commit(key));
    added.push_back({w.db_id, w.table_id, key, size, w.rows, w.min_time, w.max_time});
  }
  MaybeCrash("after_parquet");
  std::lock_guard lock(mu_);
  std::vector<ParquetFileInfo> previous = files_;
  uint64_t previous_covered = covered_wal_sequence_;
  files_.insert(files_.end(), added.begin(), added.end());
  covered_wal_sequence_ = wal_sequence;
  if (Status st = WriteManifest(); !st.ok()) {
    files_ = std::move(previous);
    covered_wal_sequence_ = previous_covered;
    return st;
  }
  MaybeCrash("after_manifest");
  RIFFLE_RETURN_IF_ERROR(Publish(/*drop_frozen=*/true));
  snapshot_in_progress_ = false;
  MaybeCrash("before_wal_delete");
  wal_->DeleteThrough(wal_sequence, options_.wal_files_to_keep);
  int64_t rows = 0;
  for (const auto& a : added) rows += a.rows;
  metrics::Server().snapshot_duration.With({}).Observe(static_cast<double>(NowNanos() - started) /
                                                       1e9);
  log::Info("snapshot: " + std::to_string(rows) + " rows in " + std::to_string(added.size()) +
            " Parquet files, WAL up to " + std::to_string(wal_sequence) + " persisted in " +
            std::to_string((NowNanos() - started) / 1000000) + " ms (writes went on meanwhile)");
  return Status::Ok();
}

}  // namespace riffle::persist
