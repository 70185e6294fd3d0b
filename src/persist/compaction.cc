// Compaction: a closed day's Parquet files of one table merged into one, and the open day's
// merged by size tiers. A single node plans, merges and adopts the result itself; in a cluster
// the compactor node plans and merges (see cluster/compactor.cc) and the node that owns the
// files adopts the result.
#include <algorithm>
#include <iterator>
#include <map>
#include <set>

#include "common/clock.h"
#include "common/log.h"
#include "common/metrics.h"
#include "persist/manifest.h"
#include "persist/persister.h"

namespace riffle::persist {
namespace {

constexpr int64_t kDay = 86'400'000'000'000;
int64_t DayOf(int64_t t) { return t >= 0 ? t / kDay : (t - kDay + 1) / kDay; }

}  // namespace

int64_t MergeSortBucket(int64_t rows, int64_t span_ns) {
  constexpr int64_t kMinute = 60'000'000'000;
  // Whole parts of a day, widest first.
  static constexpr int64_t kBuckets[] = {
      kDay,         12 * 60 * kMinute, 6 * 60 * kMinute, 3 * 60 * kMinute,
      60 * kMinute, 30 * kMinute,      10 * kMinute};
  // How long kMergedRowsPerBucket rows take at the merged rows' rate.
  const double per_bucket = static_cast<double>(std::max<int64_t>(span_ns, 1)) *
                            static_cast<double>(kMergedRowsPerBucket) /
                            static_cast<double>(std::max<int64_t>(rows, 1));
  for (int64_t bucket : kBuckets)
    if (static_cast<double>(bucket) <= per_bucket) return bucket;
  return kBuckets[std::size(kBuckets) - 1];
}

std::vector<ParquetFileInfo> PlanCompaction(const std::vector<ParquetFileInfo>& files,
                                            size_t min_files, int64_t now_ns) {
  min_files = std::max<size_t>(min_files, 2);
  std::map<std::pair<uint32_t, int64_t>, std::vector<ParquetFileInfo>> by_day;
  const int64_t today = DayOf(now_ns);
  for (const auto& f : files) {
    int64_t day = DayOf(f.min_time);
    if (DayOf(f.max_time) != day) continue;  // files that span days are left as they are
    by_day[{f.table_id, day}].push_back(f);
  }
  // The merged file takes the place of the newest input, so no other file of the table that
  // covers part of that day may lie between the inputs (where points repeat, the order of
  // files says which values are newer).
  auto interleaved = [&](const std::vector<ParquetFileInfo>& group, uint32_t table_id,
                         int64_t day) {
    std::set<std::string> members;
    for (const auto& f : group) members.insert(f.path);
    size_t first = files.size(), last = 0;
    for (size_t i = 0; i < files.size(); ++i)
      if (members.count(files[i].path)) first = std::min(first, i), last = i;
    for (size_t i = first; i < last; ++i) {
      const auto& f = files[i];
      if (!members.count(f.path) && f.table_id == table_id && DayOf(f.min_time) <= day &&
          day <= DayOf(f.max_time))
        return true;
    }
    return false;
  };
  auto tier = [&](int64_t rows) {
    int t = 0;
    for (int64_t r = std::max<int64_t>(rows, 1); r >= static_cast<int64_t>(min_files);
         r /= min_files)
      ++t;
    return t;
  };
  for (auto& [key, group] : by_day) {
    const auto& [table_id, day] = key;
    if (group.size() < min_files) continue;
    if (day < today) {
      if (!interleaved(group, table_id, day)) return std::move(group);
      continue;
    }
    // The open day: the oldest run of `min_files` files of one tier.
    for (size_t begin = 0; begin + min_files <= group.size();) {
      size_t end = begin + 1;
      while (end < group.size() && end - begin < min_files &&
             tier(group[end].rows) == tier(group[begin].rows))
        ++end;
      if (end - begin == min_files) {
        std::vector<ParquetFileInfo> run(group.begin() + static_cast<std::ptrdiff_t>(begin),
                                         group.begin() + static_cast<std::ptrdiff_t>(end));
        if (!interleaved(run, table_id, day)) return run;
      }
      begin = end;
    }
  }
  return {};
}

Result<ParquetFileInfo> MergeFiles(const catalog::CatalogState& state, buffer::Buffer* buffer,
                                   objstore::LocalFiles* local,
                                   const std::vector<ParquetFileInfo>& group,
                                   const std::string& key) {
  const catalog::Table* table = state.FindTableById(group.at(0).db_id, group[0].table_id);
  if (!table) return Status::NotFound("the table of " + group[0].path + " was deleted");
  ParquetFileInfo merged{group[0].db_id,    group[0].table_id, key, 0, 0,
                         group[0].min_time, group[0].max_time};
  std::vector<std::string> inputs, input_keys;
  for (const auto& f : group) input_keys.push_back(f.path);
  RIFFLE_ASSIGN_OR_RETURN(std::shared_ptr<void> pinned, local->Pin(input_keys));
  for (const auto& f : group) {
    RIFFLE_ASSIGN_OR_RETURN(std::string input, local->PathFor(f.path));
    inputs.push_back(std::move(input));
    merged.rows += f.rows;
    merged.min_time = std::min(merged.min_time, f.min_time);
    merged.max_time = std::max(merged.max_time, f.max_time);
  }
  RIFFLE_ASSIGN_OR_RETURN(std::string output, local->Stage(key));
  auto rows = buffer->MergeParquet(
      *table, inputs, merged.rows,
      MergeSortBucket(merged.rows, merged.max_time - merged.min_time + 1), output);
  if (!rows.ok()) {
    local->Discard(key);
    return rows.status();
  }
  merged.rows = *rows;
  auto size = local->Commit(key);
  if (!size.ok()) {
    local->Discard(key);
    return size.status();
  }
  merged.size_bytes = *size;
  return merged;
}

Status Persister::Compact(bool* merged_one) {
  *merged_one = false;
  std::vector<ParquetFileInfo> group;
  uint64_t output_seq;
  {
    std::lock_guard lock(mu_);
    group = PlanCompaction(files_, options_.compact_min_files, NowNanos());
    output_seq = manifest_sequence_ + 1;
  }
  if (group.empty()) return Status::Ok();
  int64_t started = NowNanos();
  std::string day = FormatTimestampNanos(group[0].min_time).substr(0, 10);
  std::string key =
      NewFileKey(group[0].db_id, group[0].table_id, day + "/00-00", "c", output_seq);
  auto merged = MergeFiles(*catalog_->State(), buffer_, local_, group, key);
  if (!merged.ok() && merged.status().code() == Code::kNotFound)
    return Status::Ok();  // deleted meanwhile; Prune removes its files
  if (!merged.ok()) return merged.status();
  MaybeCrash("after_compact_parquet");
  std::vector<std::string> inputs;
  for (const auto& f : group) inputs.push_back(f.path);
  RIFFLE_ASSIGN_OR_RETURN(bool adopted, Adopt(inputs, *merged));
  *merged_one = adopted;
  if (adopted)
    metrics::Server().compaction_duration.With({}).Observe(
        static_cast<double>(NowNanos() - started) / 1e9);
  return Status::Ok();
}

Result<bool> Persister::Adopt(const std::vector<std::string>& inputs,
                              const ParquetFileInfo& merged) {
  std::lock_guard lock(mu_);
  std::set<std::string> inputs_left(inputs.begin(), inputs.end());
  std::vector<ParquetFileInfo> kept;
  for (const auto& f : files_) {
    if (!inputs_left.erase(f.path))
      kept.push_back(f);
    else if (inputs_left.empty())
      kept.push_back(merged);  // where the newest input was
  }
  if (!inputs_left.empty()) {  // a delete or retention check took some inputs meanwhile
    (void)local_->Remove(merged.path);
    return false;
  }
  std::vector<ParquetFileInfo> previous = std::move(files_);
  files_ = std::move(kept);
  if (Status st = WriteManifest(); !st.ok()) {
    files_ = std::move(previous);
    (void)local_->Remove(merged.path);
    return st;
  }
  MaybeCrash("after_compact_manifest");
  RIFFLE_RETURN_IF_ERROR(Publish(/*drop_frozen=*/false));
  for (const auto& key : inputs) Retire(key);
  // The day's persisted rows are now one file with each point once: if no other file covers
  // part of the day (and the buffer holds none of it), queries need not merge it any more. The
  // next manifest records the smaller ranges.
  int64_t day_lo = DayOf(merged.min_time) * kDay, day_hi = day_lo + kDay - 1;
  bool alone = true;
  for (const auto& f : files_)
    if (f.table_id == merged.table_id && f.path != merged.path && f.min_time <= day_hi &&
        day_lo <= f.max_time)
      alone = false;
  auto state = catalog_->State();
  const catalog::Database* table_db = state->FindDatabaseById(merged.db_id);
  const catalog::Table* table = table_db ? table_db->FindTableById(merged.table_id) : nullptr;
  if (alone && table) {
    Status st = buffer_->ForgetDuplicates(*table_db, *table, day_lo, day_hi);
    if (!st.ok()) log::Warn("compaction: " + st.message());
  }
  log::Info("compaction: merged " + std::to_string(inputs.size()) + " Parquet files (" +
            std::to_string(merged.rows) + " rows of " +
            FormatTimestampNanos(merged.min_time).substr(0, 10) + ") into " + merged.path);
  return true;
}

Status Persister::AdoptClusterCompactions() {
  std::string prefix = CompactionRecordsPrefix(options_.cluster_id, options_.node_id);
  auto keys = store_->List(prefix);
  if (!keys.ok()) return keys.status();
  for (const auto& key : *keys) {
    auto contents = store_->Get(key);
    if (!contents.ok()) {
      if (contents.status().code() == Code::kNotFound) continue;
      return contents.status();
    }
    auto record = ParseCompactionRecord(*contents);
    if (!record.ok()) {
      log::Warn("compaction: dropping unreadable record " + key + ": " + record.status().message());
      RIFFLE_RETURN_IF_ERROR(store_->Delete(key));
      continue;
    }
    bool listed;
    {
      std::lock_guard lock(mu_);
      listed = std::any_of(files_.begin(), files_.end(),
                           [&](const ParquetFileInfo& f) { return f.path == record->output.path; });
    }
    if (!listed) {  // else adopted before a crash, and only the record is left
      // Only an output that is in the store: a compactor that stood down may have had it
      // cleaned up by the one that took over.
      auto there = store_->List(record->output.path);
      if (!there.ok()) return there.status();
      if (std::find(there->begin(), there->end(), record->output.path) == there->end()) {
        log::Warn("compaction: " + key + " names " + record->output.path +
                  ", which is not in the store; ignoring it");
      } else {
        auto adopted = Adopt(record->inputs, record->output);
        if (!adopted.ok()) return adopted.status();
        if (!*adopted)
          log::Info("compaction: " + record->output.path +
                    " not adopted: some of its inputs were deleted meanwhile");
      }
    }
    RIFFLE_RETURN_IF_ERROR(store_->Delete(key));
  }
  return Status::Ok();
}

}  // namespace riffle::persist
