// The append path: a flush's (or a replayed file's) writes into each table's staged rows, their
// moves into its DuckDB table a row group at a time, the repeats they may bring, and the
// checkpoints that compress what was moved.
#include <algorithm>
#include <cstring>
#include <string_view>
#include <vector>

#include "buffer/buffer.h"
#include "common/fault.h"
#include "common/log.h"
#include "common/metrics.h"
#include "duck/duck.h"

namespace riffle::buffer {

using catalog::ColumnType;

namespace {

// Tests: RIFFLE_FAULT=append_refused:<table> makes every append to that table fail, as an
// append that DuckDB refuses would (see Persister::AppendFailed).
bool FaultInjected(const catalog::Table& table) {
  std::string refused;
  return fault::Injected("append_refused", &refused) && table.name == refused;
}

// Rows appended between checkpoints of the live tables. Until one, appended rows take several
// times their compressed memory; but each checkpoint also costs the appends more than its
// rows' compression (a 10M-row TSBS ingest, bench/README: every 128k rows 77-87 s of CPU,
// every 256k 65-67 s, every 512k 57-64 s, for 558-583, 554-577 and 606-657 MB peak RSS).
constexpr size_t kCheckpointRows = 1 << 19;
// A table's staged rows move into its DuckDB table once they fill a row group (DuckDB's
// 122,880 rows): a commit of at least that many moves its row groups into the table as they are
// (smaller ones were copied in again row by row, into a 256 KB block per column). A bulk append
// (replay) checkpoints every two row groups, so that a long replay's uncompressed rows do not
// pile up.
constexpr size_t kMoveRows = 122'880;
constexpr size_t kBulkCheckpointRows = 2 * kMoveRows;

}  // namespace

Buffer::RowsByTable Buffer::GroupByTable(const catalog::CatalogState& state,
                                         const std::vector<wal::WriteOpPtr>& ops) {
  std::map<uint32_t, const catalog::Database*> dbs;
  for (const auto& [name, db] : state.databases)
    if (!db->deleted) dbs[db->id] = db.get();
  // Group rows by table, keeping arrival order within a table.
  RowsByTable by_table;
  for (const auto& op : ops) {
    auto db_it = dbs.find(op->db_id);
    if (db_it == dbs.end()) continue;  // database deleted since the write
    const catalog::Table* last = nullptr;
    std::string_view last_name;
    for (uint32_t i = 0; i < op->batch.lines.size(); ++i) {
      std::string_view m = op->batch.lines[i].measurement;
      if (!last || m != last_name) {
        last = db_it->second->FindTable(m);
        last_name = m;
      }
      if (last) {
        auto& group = by_table[last];
        group.db = db_it->second;
        group.rows.emplace_back(op.get(), i);
      }
    }
  }
  return by_table;
}

void Buffer::BeginBulkAppend() {
  std::lock_guard lock(mu_);
  bulk_ = true;
}

Status Buffer::EndBulkAppend() {
  std::lock_guard lock(mu_);
  bulk_ = false;
  return Status::Ok();
}

Status Buffer::Append(const catalog::CatalogState& given, const std::vector<wal::WriteOpPtr>& ops) {
  std::lock_guard lock(mu_);
  const catalog::CatalogState& state = NewestLocked(given);
  // A table that cannot be synced is logged and its rows fail below; the others go on. Only
  // when something changed: a sync derives every table's view, which with 1,000 tables took
  // about 2 ms of every flush.
  if (state.version != synced_version_ || views_stale_) (void)SyncLocked(state);
  // A replayed file's writes share its contents as their body: each body counts once.
  const std::string* counted = nullptr;
  for (const auto& op : ops)
    if (op->body && op->body.get() != counted) {
      counted = op->body.get();
      appended_bytes_ += static_cast<int64_t>(counted->size());
    }
  bool deletes = std::any_of(ops.begin(), ops.end(), [](const auto& op) { return op->row_delete; });
  if (!deletes) return AppendWritesLocked(state, ops);
  // A row delete removes what was written before it and nothing written after.
  Status result;
  std::vector<wal::WriteOpPtr> writes;
  for (const auto& op : ops) {
    if (!op->row_delete) {
      writes.push_back(op);
      continue;
    }
    if (Status st = AppendWritesLocked(state, writes); !st.ok()) result = st;
    writes.clear();
    if (Status st = DeleteRowsLocked(state, *op); !st.ok()) {
      log::Error(st.message());
      result = st;
    }
  }
  if (Status st = AppendWritesLocked(state, writes); !st.ok()) result = st;
  return result;
}

Status Buffer::AppendWritesLocked(const catalog::CatalogState& state,
                                  const std::vector<wal::WriteOpPtr>& ops) {
  RowsByTable by_table = GroupByTable(state, ops);
  Status result;
  for (const auto& [table, group] : by_table) {
    const auto& rows = group.rows;
    bool ranges_changed = false;
    Status st = FaultInjected(*table) ? Status::Internal("RIFFLE_FAULT: append refused")
                                      : AppendTable(*group.db, *table, rows, &ranges_changed);
    if (!st.ok()) {
      log::Error("buffer append to table '" + table->name + "' failed: " + st.message());
      result = st;
    }
    // Before the write is acknowledged, queries must merge the repeated points it brought.
    if (ranges_changed) {
      if (Status vs = SyncTable(*group.db, *table); !vs.ok()) {
        log::Error("buffer: table '" + table->name + "': " + vs.message());
        result = vs;
      }
    }
    if (auto known = tables_.find(table->id); known != tables_.end())
      known->second.appended += rows.size();
    rows_since_checkpoint_ += rows.size();
    unfrozen_rows_ += static_cast<int64_t>(rows.size());
  }
  // Appended row groups stay uncompressed until a checkpoint compresses them; do it regularly
  // so memory follows the compressed size.
  if (rows_since_checkpoint_ >= (bulk_ ? kBulkCheckpointRows : kCheckpointRows) || checkpoint_due_)
    CheckpointLocked();
  return result;
}

void Buffer::BeginScan(bool frozen_only) {
  std::unique_lock lock(scan_mu_);
  scan_cv_.wait(lock, [this] { return !checkpointing_; });
  ++(frozen_only ? frozen_scans_ : scans_);
}

void Buffer::EndScan(bool frozen_only) {
  std::lock_guard lock(scan_mu_);
  --(frozen_only ? frozen_scans_ : scans_);
}

// DuckDB 1.4's checkpoint takes each table's lock exclusively and waits for its readers; a
// reader whose parallel tasks take the same table's lock again then waits behind it, and
// neither ends (DuckDB fixed this in 1.5). So a checkpoint runs only when no scan of its tables
// does, and scans wait for it to end; while such scans run it is put off to a later append.
// DuckDB's own automatic checkpoint is off (database.cc): it ran inside an append's commit
// whatever was scanning, and spun on the table locks until a snapshot's scan ended.
bool Buffer::HoldScans(bool frozen_too) {
  std::lock_guard lock(scan_mu_);
  if (scans_ > 0 || (frozen_too && frozen_scans_ > 0)) return false;
  checkpointing_ = true;
  return true;
}

void Buffer::ReleaseScans() {
  {
    std::lock_guard lock(scan_mu_);
    checkpointing_ = false;
  }
  scan_cv_.notify_all();
}

void Buffer::CheckpointLocked(bool all) {
  all = all || checkpoint_all_due_;
  if (!HoldScans(all)) {
    if (!checkpoint_due_) metrics::Server().buffer_checkpoints.With({"put_off"}).Add();
    checkpoint_due_ = true;
    checkpoint_all_due_ = all;
    return;
  }
  std::vector<int> catalogs = {live_};
  if (all) catalogs.push_back(1 - live_);
  for (int c : catalogs)
    if (Status st = conn_.Exec(std::string("CHECKPOINT ") + kDataCatalogs[c]); !st.ok())
      log::Warn("buffer checkpoint failed: " + st.message());
  metrics::Server().buffer_checkpoints.With({"run"}).Add();
  rows_since_checkpoint_ = 0;
  checkpoint_due_ = false;
  checkpoint_all_due_ = false;
  ReleaseScans();
}

Status Buffer::AppendTable(const catalog::Database& db, const catalog::Table& table,
                           const std::vector<std::pair<const wal::WriteOp*, uint32_t>>& rows,
                           bool* ranges_changed) {
  auto known = tables_.find(table.id);
  if (known == tables_.end())
    return Status::Internal("table '" + table.name + "' has no buffer table (it failed to sync)");
  if (known->second.catalog != live_) RIFFLE_RETURN_IF_ERROR(MoveToLiveCatalog(db, table));
  DuplicateTracker& duplicates = duplicates_[table.id];
  const wal::WriteOp* write = nullptr;  // rows of one write are contiguous here
  const size_t ncols = table.columns.size();
  if (!known->second.staged[live_]) {
    // Every table is created with its staged rows; should one lack them, its view must read
    // them before any is acknowledged.
    StagedLocked(table, live_);
    RIFFLE_RETURN_IF_ERROR(SyncTable(db, table));
  }
  duck::StagedRows& staged = *known->second.staged[live_];
  if (staged.ColumnCount() != ncols) staged.SetColumns(StagedColumns(table));
  const size_t time_pos = table.index.at("time");
  std::vector<void*> data(ncols);  // the current chunk's typed column arrays
  constexpr size_t kNoColumn = SIZE_MAX;
  const wal::WriteOp* shape_op = nullptr;  // the previous line, whose keys key_columns resolves
  const lineproto::Line* shape_line = nullptr;
  std::vector<size_t> key_columns;  // its tags' then its fields' column positions
  for (size_t start = 0, count = 0; start < rows.size(); start += count) {
    count = staged.Begin(rows.size() - start);
    for (size_t c = 0; c < ncols; ++c) {
      switch (table.columns[c].type) {
        case ColumnType::kFloat64:
          data[c] = staged.Doubles(c);
          break;
        case ColumnType::kInt64:
        case ColumnType::kTime:
          data[c] = staged.Int64s(c);
          break;
        case ColumnType::kUInt64:
          data[c] = staged.UInt64s(c);
          break;
        case ColumnType::kBool:
          data[c] = staged.Bools(c);
          break;
        case ColumnType::kString:
        case ColumnType::kTag:
          data[c] = nullptr;
          break;
      }
    }
    int64_t* times = static_cast<int64_t*>(data[time_pos]);
    int64_t oldest = INT64_MAX;  // of the window's rows
    for (size_t r = 0; r < count; ++r) {
      const auto& [op, line_index] = rows[start + r];
      const auto& line = op->batch.lines[line_index];
      times[r] = op->times[line_index];
      oldest = std::min(oldest, times[r]);
      staged.SetValid(time_pos, r);
      const auto* tags = op->batch.tags_of(line);
      if (op != write) write = op, ++writes_seen_;
      uint64_t series = op->series.size() == op->batch.lines.size()
                            ? op->series[line_index]
                            : SeriesHash(tags, line.tag_count);
      if (duplicates.Observe(series, op->times[line_index], writes_seen_)) *ranges_changed = true;
      // Column positions by key, looked up again only when the line's keys differ from the
      // previous line's (which parsing found out for lines that follow each other in a write).
      bool same_shape =
          shape_op && ((shape_op == op && shape_line + 1 == &line && line.same_shape_as_previous) ||
                       lineproto::SameShape(shape_op->batch, *shape_line, op->batch, line, false));
      shape_op = op;
      shape_line = &line;
      if (!same_shape) {
        key_columns.clear();
        const auto* fields = op->batch.fields_of(line);
        for (uint32_t t = 0; t < line.tag_count; ++t) {
          auto it = table.index.find(tags[t].key);
          key_columns.push_back(it == table.index.end() ? kNoColumn : it->second);
        }
        for (uint32_t f = 0; f < line.field_count; ++f) {
          auto it = table.index.find(fields[f].key);
          key_columns.push_back(it == table.index.end() ? kNoColumn : it->second);
        }
      }
      for (uint32_t t = 0; t < line.tag_count; ++t) {
        if (key_columns[t] == kNoColumn) continue;
        staged.SetString(key_columns[t], r, tags[t].value.data(), tags[t].value.size());
      }
      const auto* fields = op->batch.fields_of(line);
      for (uint32_t f = 0; f < line.field_count; ++f) {
        size_t c = key_columns[line.tag_count + f];
        if (c == kNoColumn) continue;
        const auto& fv = fields[f];
        switch (table.columns[c].type) {
          case ColumnType::kFloat64:
            static_cast<double*>(data[c])[r] = fv.f;
            break;
          case ColumnType::kInt64:
            static_cast<int64_t*>(data[c])[r] = fv.i;
            break;
          case ColumnType::kUInt64:
            static_cast<uint64_t*>(data[c])[r] = fv.u;
            break;
          case ColumnType::kBool:
            static_cast<bool*>(data[c])[r] = fv.b;
            break;
          case ColumnType::kString:
          case ColumnType::kTag:
            staged.SetString(c, r, fv.s.data(), fv.s.size());
            continue;
          case ColumnType::kTime:
            continue;
        }
        staged.SetValid(c, r);
      }
    }
    newest_times_.Lower(table.id, oldest);  // before the window's rows are readable
    staged.Commit();
  }
  if (staged.rows() < kMoveRows) return Status::Ok();
  // A move that fails leaves the rows staged, where queries and snapshots read them: the append
  // itself succeeded.
  if (Status moved = MoveStagedLocked(db.id, table.id); !moved.ok())
    log::Warn("buffer: table '" + table.name + "': staged rows stay staged: " + moved.message());
  return Status::Ok();
}

Status Buffer::MoveStagedLocked(uint32_t db_id, uint32_t table_id) {
  TableState& t = tables_.at(table_id);
  duck::StagedRows* staged = t.staged[t.catalog].get();
  if (!staged) return Status::Ok();
  // Whole row groups only: a move of 122,880 rows plus a flush's left a partial row group in
  // the table each time (replay 579k -> 507k rows/s, 50 MB more after it).
  const size_t entries = staged->FrontEntriesToMove(kMoveRows);
  if (entries == 0) return Status::Ok();
  // As a checkpoint: a scan that began before the move would see the rows in neither place
  // (its transaction predates the table's new rows) or, begun meanwhile, in both.
  if (!HoldScans(/*frozen_too=*/false)) return Status::Ok();  // the next append tries again
  // BY NAME: the staged rows lack the columns added since, which their DuckDB table has.
  Status st = conn_.Exec("INSERT INTO " + DataTableRef(t.catalog, db_id, table_id) +
                         " BY NAME SELECT * FROM " + staged->ScanFrontSql(entries));
  if (st.ok()) staged->DropFront(entries);  // else they stay staged, and queries read them there
  ReleaseScans();
  return st;
}

}  // namespace riffle::buffer
