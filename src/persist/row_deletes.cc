// Row deletes in the persisted files: each delete the WAL carried is applied to the Parquet files
// of its table (a file with matching rows is replaced by a copy without them, or dropped when
// nothing is left), recorded in the manifest, and published; the replaced files leave the store
// once no query reads them, so their space comes back.
#include <algorithm>

#include "common/clock.h"
#include "common/log.h"
#include "persist/manifest.h"
#include "persist/persister.h"

namespace riffle::persist {
namespace {

constexpr size_t kKeptRowDeletes = 1000;

// {dir of `key`}/r{delete sequence}-{index}.parquet: unique per delete and file.
std::string RewrittenKey(const std::string& key, uint64_t sequence, size_t index) {
  char name[48];
  std::snprintf(name, sizeof name, "r%010llu-%zu.parquet",
                static_cast<unsigned long long>(sequence), index);
  return key.substr(0, key.rfind('/') + 1) + name;
}

}  // namespace

void Persister::QueueRowDeletes(const std::vector<wal::WriteOpPtr>& ops,
                                const std::function<int64_t(uint64_t)>& buffer_rows) {
  bool queued = false;
  {
    std::lock_guard lock(mu_);
    for (const auto& op : ops) {
      if (!op->row_delete) continue;
      const wal::RowDelete& d = *op->row_delete;
      last_row_delete_sequence_ = std::max(last_row_delete_sequence_, d.sequence);
      auto known =
          std::find_if(row_deletes_.begin(), row_deletes_.end(),
                       [&](const RowDeleteRecord& r) { return r.request.sequence == d.sequence; });
      int64_t from_buffer = buffer_rows(d.sequence);
      if (known != row_deletes_.end()) {  // replayed after it completed: its files are done
        known->rows_deleted += from_buffer;
        continue;
      }
      RowDeleteRecord record;
      record.db_id = op->db_id;
      record.db_name = op->db_name;
      record.request = d;
      record.rows_deleted = from_buffer;
      if (!local_) {  // no Parquet files: the buffer was all there was
        record.completed = true;
        record.completed_ns = NowNanos();
      }
      row_deletes_.push_back(std::move(record));
      queued = queued || local_;
    }
  }
  row_delete_cv_.notify_all();
  if (!queued) return;
  {
    std::lock_guard lock(thread_mu_);
    row_deletes_requested_ = true;
  }
  thread_cv_.notify_all();
}

uint64_t Persister::NextRowDeleteSequence() {
  std::lock_guard lock(mu_);
  return ++last_row_delete_sequence_;
}

Status Persister::ApplyRowDeletes() {
  for (;;) {
    RowDeleteRecord record;
    {
      std::lock_guard lock(mu_);
      auto pending = std::find_if(row_deletes_.begin(), row_deletes_.end(),
                                  [](const RowDeleteRecord& r) { return !r.completed; });
      if (pending == row_deletes_.end()) return Status::Ok();
      record = *pending;
    }
    Status st = ApplyRowDelete(record);
    if (!st.ok()) {
      std::lock_guard lock(mu_);
      for (auto& r : row_deletes_)
        if (r.request.sequence == record.request.sequence) r.error = st.message();
      row_delete_cv_.notify_all();
      return st;
    }
  }
}

Status Persister::ApplyRowDelete(RowDeleteRecord& record) {
  const wal::RowDelete& d = record.request;
  auto state = catalog_->State();
  const catalog::Table* table = state->FindTableById(record.db_id, d.table_id);
  std::vector<ParquetFileInfo> candidates;
  {
    std::lock_guard lock(mu_);
    for (const auto& f : files_)
      if (table && f.table_id == d.table_id && f.max_time >= d.min_time && f.min_time <= d.max_time)
        candidates.push_back(f);
  }
  // No table (deleted since) or no row that can match: nothing to rewrite.
  const std::optional<std::string> where = table ? buffer::RowDeleteSql(*table, d) : std::nullopt;
  struct Replacement {
    std::string old_key;
    std::optional<ParquetFileInfo> file;  // none: every row went
  };
  std::vector<Replacement> replacements;
  int64_t rows = 0;
  auto discard_outputs = [&] {
    for (const auto& r : replacements)
      if (r.file) (void)local_->Remove(r.file->path);
  };
  for (size_t i = 0; where && i < candidates.size(); ++i) {
    const ParquetFileInfo& f = candidates[i];
    RIFFLE_ASSIGN_OR_RETURN(std::shared_ptr<void> pinned, local_->Pin({f.path}));
    RIFFLE_ASSIGN_OR_RETURN(std::string input, local_->PathFor(f.path));
    auto matching = buffer_->CountParquetRows(*table, input, *where);
    if (!matching.ok()) {
      discard_outputs();
      return Status::Internal("row delete " + std::to_string(d.sequence) + ": reading " + f.path +
                              " failed: " + matching.status().message());
    }
    if (*matching == 0) continue;
    rows += *matching;
    if (*matching >= f.rows) {
      replacements.push_back({f.path, std::nullopt});
      continue;
    }
    ParquetFileInfo out = f;
    out.path = RewrittenKey(f.path, d.sequence, i);
    auto staged = local_->Stage(out.path);
    if (!staged.ok()) {
      discard_outputs();
      return staged.status();
    }
    auto kept = buffer_->CopyParquetWithout(*table, input, *where, *staged);
    auto size = kept.ok() ? local_->Commit(out.path) : Result<int64_t>(kept.status());
    if (!size.ok()) {
      local_->Discard(out.path);
      discard_outputs();
      return Status::Internal("row delete " + std::to_string(d.sequence) + ": rewriting " + f.path +
                              " failed: " + size.status().message());
    }
    out.rows = *kept;
    out.size_bytes = *size;
    replacements.push_back({f.path, out});
  }
  MaybeCrash("after_row_delete_parquet");
  std::lock_guard lock(mu_);
  std::vector<ParquetFileInfo> previous = files_;
  std::vector<RowDeleteRecord> previous_deletes = row_deletes_;
  std::vector<ParquetFileInfo> next;
  std::vector<std::string> retired;
  for (const auto& f : files_) {
    auto r = std::find_if(replacements.begin(), replacements.end(),
                          [&](const Replacement& x) { return x.old_key == f.path; });
    if (r == replacements.end()) {
      next.push_back(f);
      continue;
    }
    retired.push_back(f.path);
    if (r->file) next.push_back(*r->file);  // where the old file was: the order of files matters
  }
  // A file that left the manifest meanwhile (its table deleted): its replacement goes too.
  for (const auto& r : replacements)
    if (r.file && std::find(retired.begin(), retired.end(), r.old_key) == retired.end())
      (void)local_->Remove(r.file->path);
  files_ = std::move(next);
  int64_t files_removed = 0, files_rewritten = 0;
  for (const auto& r : replacements) (r.file ? files_rewritten : files_removed) += 1;
  for (auto& r : row_deletes_) {
    if (r.request.sequence != d.sequence) continue;
    r.completed = true;
    r.completed_ns = NowNanos();
    r.rows_deleted += rows;
    r.files_rewritten = files_rewritten;
    r.files_removed = files_removed;
    r.error.clear();
  }
  size_t completed = std::count_if(row_deletes_.begin(), row_deletes_.end(),
                                   [](const RowDeleteRecord& r) { return r.completed; });
  for (auto it = row_deletes_.begin(); completed > kKeptRowDeletes && it != row_deletes_.end();) {
    if (it->completed) {
      it = row_deletes_.erase(it);
      --completed;
    } else {
      ++it;
    }
  }
  if (Status st = WriteManifest(); !st.ok()) {
    files_ = std::move(previous);
    row_deletes_ = std::move(previous_deletes);
    for (const auto& r : replacements)
      if (r.file) (void)local_->Remove(r.file->path);
    return st;
  }
  MaybeCrash("after_row_delete_manifest");
  RIFFLE_RETURN_IF_ERROR(Publish(/*drop_frozen=*/false));
  // Bounds found while the files still held the rows may be too new now.
  buffer_->newest_times().Forget(d.table_id);
  for (const auto& key : retired) Retire(key);
  row_delete_cv_.notify_all();
  if (!replacements.empty())
    log::Info("row delete " + std::to_string(d.sequence) + " on table '" + d.table_name + "' of '" +
              record.db_name + "': removed " + std::to_string(rows) + " rows from " +
              std::to_string(replacements.size()) + " Parquet files (" +
              std::to_string(files_removed) + " of them deleted whole)");
  return Status::Ok();
}

Result<RowDeleteRecord> Persister::WaitRowDelete(uint64_t sequence,
                                                 std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  auto find = [&]() -> RowDeleteRecord* {
    for (auto& r : row_deletes_)
      if (r.request.sequence == sequence) return &r;
    return nullptr;
  };
  row_delete_cv_.wait_for(lock, timeout, [&] {
    RowDeleteRecord* r = find();
    return r && (r->completed || !r->error.empty());
  });
  RowDeleteRecord* r = find();
  if (!r) return Status::NotFound("no row delete request " + std::to_string(sequence));
  return *r;
}

std::vector<RowDeleteRecord> Persister::RowDeletes() {
  std::lock_guard lock(mu_);
  return row_deletes_;
}

}  // namespace riffle::persist
