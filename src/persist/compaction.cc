// Compaction: a closed day's Parquet files of one table merged into one.
#include <algorithm>
#include <map>
#include <set>

#include "common/clock.h"
#include "common/log.h"
#include "common/metrics.h"
#include "persist/manifest.h"
#include "persist/persister.h"

namespace riffle::persist {

Status Persister::Compact() {
  constexpr int64_t kDay = 86'400'000'000'000;
  auto day_of = [](int64_t t) { return t >= 0 ? t / kDay : (t - kDay + 1) / kDay; };
  std::vector<ParquetFileInfo> group;
  uint32_t table_id = 0;
  uint64_t output_seq;
  {
    std::lock_guard lock(mu_);
    std::map<std::pair<uint32_t, int64_t>, std::vector<ParquetFileInfo>> by_day;
    int64_t today = day_of(NowNanos());
    for (const auto& f : files_) {
      int64_t day = day_of(f.min_time);
      if (day_of(f.max_time) != day || day >= today) continue;  // only whole, closed days
      by_day[{f.table_id, day}].push_back(f);
    }
    for (auto& [key, files] : by_day) {
      if (files.size() < std::max<size_t>(options_.compact_min_files, 2)) continue;
      // The merged file takes the place of the newest input, so no other file of the table
      // that covers part of that day may lie between the inputs (where points repeat, the
      // order of files says which values are newer).
      std::set<std::string> members;
      for (const auto& f : files) members.insert(f.path);
      size_t first = files_.size(), last = 0;
      for (size_t i = 0; i < files_.size(); ++i)
        if (members.count(files_[i].path)) first = std::min(first, i), last = i;
      bool interleaved = false;
      for (size_t i = first; i < last && !interleaved; ++i) {
        const auto& f = files_[i];
        interleaved = !members.count(f.path) && f.table_id == key.first &&
                      day_of(f.min_time) <= key.second && key.second <= day_of(f.max_time);
      }
      if (interleaved) continue;
      group = std::move(files);
      table_id = key.first;
      break;
    }
    output_seq = manifest_sequence_ + 1;
  }
  if (group.empty()) return Status::Ok();
  int64_t started = NowNanos();
  const catalog::Database* table_db = nullptr;
  const catalog::Table* table = nullptr;
  auto state = catalog_->State();
  for (const auto& [name, db] : state->databases)
    for (const auto& [tname, t] : db->tables)
      if (t->id == table_id) table_db = db.get(), table = t.get();
  if (!table) return Status::Ok();  // deleted meanwhile; Prune removes its files
  ParquetFileInfo merged{group[0].db_id,    group[0].table_id, "", 0, 0,
                         group[0].min_time, group[0].max_time};
  std::vector<std::string> inputs, input_keys;
  for (const auto& f : group) input_keys.push_back(f.path);
  RIFFLE_ASSIGN_OR_RETURN(std::shared_ptr<void> pinned, local_->Pin(input_keys));
  for (const auto& f : group) {
    RIFFLE_ASSIGN_OR_RETURN(std::string input, local_->PathFor(f.path));
    inputs.push_back(std::move(input));
    merged.rows += f.rows;
    merged.min_time = std::min(merged.min_time, f.min_time);
    merged.max_time = std::max(merged.max_time, f.max_time);
  }
  std::string day = FormatTimestampNanos(merged.min_time).substr(0, 10);
  std::string key = NewFileKey(merged.db_id, merged.table_id, day + "/00-00", "c", output_seq);
  merged.path = key;
  RIFFLE_ASSIGN_OR_RETURN(std::string output, local_->Stage(key));
  if (Status st = buffer_->MergeParquet(*table, inputs, output); !st.ok()) {
    local_->Discard(key);
    return st;
  }
  auto size = local_->Commit(key);
  if (!size.ok()) {
    local_->Discard(key);
    return size.status();
  }
  merged.size_bytes = *size;
  MaybeCrash("after_compact_parquet");
  std::lock_guard lock(mu_);
  std::set<std::string> inputs_left;
  for (const auto& f : group) inputs_left.insert(f.path);
  std::vector<ParquetFileInfo> kept;
  for (const auto& f : files_) {
    if (!inputs_left.erase(f.path))
      kept.push_back(f);
    else if (inputs_left.empty())
      kept.push_back(merged);  // where the newest input was
  }
  if (!inputs_left.empty()) {  // a delete or retention check took some inputs meanwhile
    (void)local_->Remove(key);
    return Status::Ok();
  }
  std::vector<ParquetFileInfo> previous = std::move(files_);
  files_ = std::move(kept);
  if (Status st = WriteManifest(); !st.ok()) {
    files_ = std::move(previous);
    (void)local_->Remove(key);
    return st;
  }
  MaybeCrash("after_compact_manifest");
  RIFFLE_RETURN_IF_ERROR(Publish(/*drop_frozen=*/false));
  for (const auto& f : group) Retire(f.path);
  // The day's persisted rows are now one file with each point once: if no other file covers
  // part of the day (and the buffer holds none of it), queries need not merge it any more. The
  // next manifest records the smaller ranges.
  int64_t day_lo = day_of(merged.min_time) * kDay, day_hi = day_lo + kDay - 1;
  bool alone = true;
  for (const auto& f : files_)
    if (f.table_id == merged.table_id && f.path != merged.path && f.min_time <= day_hi &&
        day_lo <= f.max_time)
      alone = false;
  if (alone) {
    Status st = table_db->deleted ? Status::Ok()
                                  : buffer_->ForgetDuplicates(*table_db, *table, day_lo, day_hi);
    if (!st.ok()) log::Warn("compaction: " + st.message());
  }
  metrics::Server().compaction_duration.With({}).Observe(static_cast<double>(NowNanos() - started) /
                                                         1e9);
  log::Info("compaction: merged " + std::to_string(group.size()) + " Parquet files (" +
            std::to_string(merged.rows) + " rows of " + day + ") into " + merged.path);
  return Status::Ok();
}

}  // namespace riffle::persist
