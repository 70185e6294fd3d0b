// The buffer of a query node that serves other nodes' data (see cluster/): their unpersisted
// WAL rows and their Parquet files, swapped as a whole when one of them snapshots.
#include <algorithm>

#include "buffer/buffer.h"
#include "common/log.h"
#include "duck/duck.h"

namespace riffle::buffer {

using duck::QuoteIdent;

Status Buffer::Replace(const catalog::CatalogState& given, const std::vector<wal::WriteOpPtr>& ops,
                       const std::map<uint32_t, std::vector<PersistedFile>>& files,
                       const DuplicateRanges& duplicates) {
  std::lock_guard lock(mu_);
  const catalog::CatalogState& state = NewestLocked(given);
  std::unique_lock views(views_mu_);  // queries binding views wait (see ReadViews)
  struct CountPublish {
    std::atomic<uint64_t>& count;
    ~CountPublish() { count.fetch_add(1); }
  } counted{publishes_};
  (void)SyncLocked(state);
  newest_times_.ForgetAll();  // the other nodes' rows may have lost some (row deletes)
  // Repeats are learnt again from the rows appended below; the files' spans and the ranges
  // their manifests recorded stand for the rows no longer in memory.
  duplicates_.clear();
  for (const auto& [id, ranges] : duplicates) duplicates_[id].Restore(ranges, {});
  for (const auto& [id, list] : files) {
    std::vector<TimeRange> spans;
    for (const auto& f : list) spans.push_back({f.min_time, f.max_time});
    duplicates_[id].Restore({}, spans);
  }
  parquet_files_ = files;
  // A DuckDB transaction writes one catalog: the views' and the tables' are the same until a
  // snapshot swaps them (Freeze), which a query node never runs.
  bool swapped = live_ != 0 || !frozen_.empty() ||
                 std::any_of(tables_.begin(), tables_.end(),
                             [](const auto& t) { return t.second.catalog != 0; });
  if (swapped)
    return Status::Internal("a buffer that snapshots cannot take a copy of other nodes' rows");
  // The rows go to fresh staged rows, which only the views created below read: queries see
  // the old views (the old tables and staged rows) until the transaction commits. A failure
  // puts the old staged rows back, as the rollback does the old views.
  std::map<uint32_t, std::shared_ptr<duck::StagedRows>> old_staged;
  for (auto& [id, t] : tables_) {
    old_staged[id] = t.staged[t.catalog];
    t.staged[t.catalog] = duck::StagedRows::Create(
        old_staged[id] ? old_staged[id]->ReadColumns() : std::vector<duck::StagedRows::Column>{});
  }
  auto put_back = [&] {
    for (auto& [id, staged] : old_staged)
      if (auto it = tables_.find(id); it != tables_.end())
        it->second.staged[it->second.catalog] = staged;
  };
  if (Status begun = conn_.Exec("BEGIN TRANSACTION"); !begun.ok()) {
    put_back();
    return begun;
  }
  Status st;
  for (const auto& [name, db] : state.databases) {
    if (db->deleted || !st.ok()) continue;
    for (const auto& [tname, table] : db->tables) {
      if (!tables_.count(table->id)) continue;
      st = conn_.Exec("DELETE FROM " + LiveRef(db->id, table->id));
      if (!st.ok()) break;
    }
  }
  // Appends join the open transaction.
  RowsByTable by_table = GroupByTable(state, ops);
  for (const auto& [table, group] : by_table) {
    if (!st.ok()) break;
    bool ranges_changed = false;
    st = AppendTable(*group.db, *table, group.rows, &ranges_changed);
  }
  for (const auto& [name, db] : state.databases) {
    if (db->deleted || !st.ok()) continue;
    for (const auto& [tname, table] : db->tables) {
      auto it = tables_.find(table->id);
      if (it == tables_.end()) continue;
      std::string view = ViewSql(*db, *table);
      st = ExecView(table->id, view);
      it->second.view_sql = view;
      if (!st.ok()) break;
    }
  }
  if (!st.ok()) {
    (void)conn_.Exec("ROLLBACK");
    put_back();
    ForgetViewsLocked();
    return st;
  }
  if (st = conn_.Exec("COMMIT"); !st.ok()) {
    put_back();
    ForgetViewsLocked();
    return st;
  }
  CheckpointLocked();
  return Status::Ok();
}

}  // namespace riffle::buffer
