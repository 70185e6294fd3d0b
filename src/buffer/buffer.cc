#include "buffer/buffer.h"

#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>

#include "common/log.h"
#include "duck/duck.h"

namespace riffle::buffer {

using duck::QuoteIdent;
using duck::QuoteLiteral;

using catalog::ColumnType;
using lineproto::FieldType;

std::string SchemaRef(const std::string& schema) {
  return std::string(kBufferCatalog) + "." + QuoteIdent(schema);
}
std::string DbSchema(uint32_t db_id) { return "db_" + std::to_string(db_id); }
std::string DataSchema(uint32_t db_id) { return "db_" + std::to_string(db_id) + "_data"; }
std::string DataTable(uint32_t table_id) { return "t" + std::to_string(table_id); }
// A table's rows being snapshotted: the data table renamed, until its Parquet files are published.
std::string FrozenTable(uint32_t table_id) { return "t" + std::to_string(table_id) + "_frozen"; }
std::string FilesVariable(uint32_t table_id) { return "riffle_files_" + std::to_string(table_id); }

duck::ColumnKind ColumnKindOf(ColumnType t) {
  switch (t) {
    case ColumnType::kTag:
    case ColumnType::kString:
      return duck::ColumnKind::kVarchar;
    case ColumnType::kInt64:
      return duck::ColumnKind::kBigint;
    case ColumnType::kUInt64:
      return duck::ColumnKind::kUBigint;
    case ColumnType::kFloat64:
      return duck::ColumnKind::kDouble;
    case ColumnType::kBool:
      return duck::ColumnKind::kBoolean;
    case ColumnType::kTime:
      return duck::ColumnKind::kTimestampNs;
  }
  return duck::ColumnKind::kVarchar;
}

const char* DuckTypeName(ColumnType t) { return duck::SqlTypeName(ColumnKindOf(t)); }

namespace {

constexpr size_t kCheckpointRows = 1 << 20;
// A bulk append commits exactly one row group's rows (DuckDB's 122,880) at a time, which move
// into the table whole (a partial group left at each commit made it slower and bigger); and it
// checkpoints more often than kCheckpointRows, as such commits do not count towards DuckDB's
// automatic checkpoint (they log no rows), and uncompressed row groups would pile up. (Two row
// groups per commit measured 40% slower with DuckDB's appender, which flushed by itself at
// 204,800 rows and so split them.)
constexpr size_t kBulkCommitRows = 122'880;
constexpr size_t kBulkCheckpointRows = 2 * kBulkCommitRows;

}  // namespace

std::string ColumnDefs(const catalog::Table& table) {
  std::string cols;
  for (const auto& c : table.columns)
    cols += (cols.empty() ? "" : ", ") + QuoteIdent(c.name) + " " + DuckTypeName(c.type);
  return cols;
}

// The user-facing view: columns sorted by name, buffer ∪ Parquet files, retention applied, and
// repeated points merged where the table may have them.
std::string Buffer::ViewSql(const catalog::Database& db, const catalog::Table& table) const {
  std::vector<std::string> names;
  for (const auto& c : table.columns) names.push_back(c.name);
  std::sort(names.begin(), names.end());
  std::string cols;
  for (const auto& n : names) cols += (cols.empty() ? "" : ", ") + QuoteIdent(n);
  std::string live = SchemaRef(DataSchema(db.id)) + "." + QuoteIdent(DataTable(table.id));
  std::string frozen = frozen_.count(table.id)
                           ? SchemaRef(DataSchema(db.id)) + "." + QuoteIdent(FrozenTable(table.id))
                           : "";
  static const std::vector<PersistedFile> kNoFiles;
  auto files_it = parquet_files_.find(table.id);
  const auto& files = files_it == parquet_files_.end() ? kNoFiles : files_it->second;
  std::string source = "SELECT * FROM " + live;
  if (!frozen.empty()) source += " UNION ALL BY NAME SELECT * FROM " + frozen;
  std::string file_list = FileListSql("getvariable(" + QuoteLiteral(FilesVariable(table.id)) + ")");
  if (!files.empty()) source += " UNION ALL BY NAME " + ReadParquetSql(file_list);
  auto dup = duplicates_.find(table.id);
  if (dup != duplicates_.end() && !dup->second.ranges().empty()) {
    const TimeRangeSet& ranges = dup->second.ranges();
    std::string in = InRangesSql(ranges.ranges());
    // Arrival order: the files oldest first (a file holds no repeats of its own), then the
    // frozen rows, then the live ones, each in append order.
    std::string ordered =
        "SELECT *, " + OrderSql("1000000", "rowid") + " FROM " + live + " WHERE " + in;
    if (!frozen.empty())
      ordered += " UNION ALL BY NAME SELECT *, " + OrderSql("999999", "rowid") + " FROM " + frozen +
                 " WHERE " + in;
    // All the files, not only those that overlap the ranges: the list is the connection's and
    // the condition skips the others' row groups by their statistics.
    bool overlapping = false;
    for (const auto& f : files) overlapping = overlapping || ranges.Overlaps(f.min_time, f.max_time);
    if (overlapping) ordered += " UNION ALL BY NAME " + OrderedParquetSql(file_list, in);
    source = "SELECT * FROM (" + source + ") WHERE NOT " + in + " UNION ALL BY NAME " +
             MergeDuplicatesSql(table, ordered);
  }
  std::string where;
  if (auto retention = catalog::EffectiveRetention(db, table))
    where = " WHERE \"time\" >= make_timestamp_ns(epoch_ns(get_current_timestamp()) - " +
            std::to_string(*retention) + ")";
  return "CREATE OR REPLACE VIEW " + SchemaRef(DbSchema(db.id)) + "." + QuoteIdent(table.name) +
         " AS SELECT " + cols + " FROM (" + source + ")" + where;
}

namespace {

constexpr const char* kPreparingFunction = "riffle_preparing";  // see PreparingScope

}  // namespace

Buffer::Buffer(duck::Database* db, const std::string& scratch_dir, const std::string& parquet_codec)
    : db_(db),
      parquet_options_(" (FORMAT parquet, COMPRESSION " + parquet_codec + ", ROW_GROUP_SIZE " +
                       std::to_string(kParquetRowGroupRows) + ")") {
  auto conn = duck::Connection::Open(*db);
  if (!conn.ok()) {
    log::Error("write buffer: " + conn.status().message());
    return;
  }
  conn_ = std::move(conn).value();
  std::string dir = scratch_dir.empty() ? std::filesystem::temp_directory_path().string() : scratch_dir;
  stub_path_ = dir + "/view-stub-" + std::to_string(::getpid()) + ".parquet";
  // "time" because the views filter the files' rows by it.
  Status st = conn_.Exec("COPY (SELECT NULL::TIMESTAMP_NS AS \"time\" WHERE false) TO " +
                         QuoteLiteral(stub_path_) + " (FORMAT parquet)");
  if (!st.ok()) log::Error("write buffer: cannot write " + stub_path_ + ": " + st.message());
  if (st.ok()) st = duck::RegisterThreadFlag(conn_, kPreparingFunction);
  if (!st.ok()) log::Error("write buffer: " + st.message());
  prepares_without_files_ = st.ok() && CheckRebindsWhenRun();
  if (!prepares_without_files_)
    log::Warn(
        "write buffer: DuckDB did not bind a prepared statement again when it ran: queries "
        "open their Parquet files when prepared and again when run");
}

std::string Buffer::FileListSql(const std::string& list) const {
  return std::string("(CASE WHEN ") + kPreparingFunction + "() THEN [" + QuoteLiteral(stub_path_) +
         "] ELSE " + list + " END)";
}

bool Buffer::CheckRebindsWhenRun() {
  std::string probe = stub_path_ + ".probe.parquet";
  std::string list = FileListSql("[" + QuoteLiteral(probe) + "]");
  std::string write_probe = "COPY (SELECT TIMESTAMP_NS '2020-01-01' AS \"time\") TO " +
                            QuoteLiteral(probe) + " (FORMAT parquet)";
  auto rows = [&]() -> Result<int64_t> {
    RIFFLE_RETURN_IF_ERROR(conn_.Exec(write_probe));
    RIFFLE_RETURN_IF_ERROR(
        conn_.Exec("CREATE OR REPLACE TEMP VIEW riffle_rebind_probe AS SELECT * FROM (SELECT "
                   "NULL::TIMESTAMP_NS AS "
                   "\"time\" WHERE false) UNION ALL BY NAME SELECT * FROM read_parquet(" +
                   list + ", union_by_name = true)"));
    // Prepared while the file is missing: only the empty file can have been read.
    std::error_code removed;
    std::filesystem::remove(probe, removed);
    auto stmt = [&] {
      PreparingScope preparing;
      return conn_.PrepareOne("SELECT count(*) FROM riffle_rebind_probe");
    }();
    if (!stmt.ok()) return stmt.status();
    RIFFLE_RETURN_IF_ERROR(conn_.Exec(write_probe));
    RIFFLE_ASSIGN_OR_RETURN(auto result, (*stmt)->ExecuteStreaming());
    duck::Batch batch;
    RIFFLE_ASSIGN_OR_RETURN(bool more, result->Next(&batch));
    const auto* n = more && batch.rows == 1 ? std::get_if<int64_t>(&batch.at(0, 0)) : nullptr;
    return n ? *n : -1;
  }();
  (void)conn_.Exec("DROP VIEW IF EXISTS riffle_rebind_probe");
  std::error_code ec;
  std::filesystem::remove(probe, ec);
  return rows.ok() && *rows == 1;
}

Status Buffer::ExecView(uint32_t table_id, const std::string& sql) {
  if (!stub_variables_.count(table_id) && sql.find(FilesVariable(table_id)) != std::string::npos) {
    RIFFLE_RETURN_IF_ERROR(conn_.Exec("SET VARIABLE " + FilesVariable(table_id) + " = [" +
                                      QuoteLiteral(stub_path_) + "]"));
    stub_variables_.insert(table_id);
  }
  return conn_.Exec(sql);
}

std::string Buffer::FileVariablesSql(uint64_t* seen) const {
  uint64_t now = publishes_.load();
  if (*seen == now) return "";
  *seen = now;
  std::string sql;
  for (const auto& [table_id, files] : parquet_files_)
    sql += FileVariableSql(table_id, std::nullopt);
  return sql;
}

namespace {

bool Meets(const PersistedFile& f, const TimeRange& range) {
  return f.max_time >= range.lo && f.min_time <= range.hi;
}

}  // namespace

std::string Buffer::FileVariableSql(uint32_t table_id,
                                    const std::optional<TimeRange>& range) const {
  auto it = parquet_files_.find(table_id);
  if (it == parquet_files_.end() || it->second.empty()) return "";
  std::vector<std::string> paths;
  for (const auto& f : it->second)
    if (!range || Meets(f, *range)) paths.push_back(f.path);
  // read_parquet refuses an empty list; the empty file has the "time" column the view filters.
  if (paths.empty()) paths.push_back(stub_path_);
  return "SET VARIABLE " + FilesVariable(table_id) + " = " + PathListSql(paths) + ";\n";
}

size_t Buffer::FileCount(uint32_t table_id) const {
  auto it = parquet_files_.find(table_id);
  return it == parquet_files_.end() ? 0 : it->second.size();
}

std::vector<std::string> Buffer::FileKeys(const std::set<uint32_t>& table_ids,
                                          const std::map<uint32_t, TimeRange>& ranges) const {
  std::vector<std::string> keys;
  for (uint32_t id : table_ids) {
    auto it = parquet_files_.find(id);
    if (it == parquet_files_.end()) continue;
    auto range = ranges.find(id);
    for (const auto& f : it->second)
      if (range == ranges.end() || Meets(f, range->second))
        keys.push_back(f.key.empty() ? f.path : f.key);
  }
  return keys;
}

Buffer::~Buffer() {
  std::error_code ec;
  if (!stub_path_.empty()) std::filesystem::remove(stub_path_, ec);
}

Status Buffer::SyncSchema(const catalog::CatalogState& state) {
  std::lock_guard lock(mu_);
  return SyncLocked(state);
}

Status Buffer::SyncTable(const catalog::Database& db, const catalog::Table& table) {
  auto it = tables_.find(table.id);
  std::string qualified = SchemaRef(DataSchema(db.id)) + "." + QuoteIdent(DataTable(table.id));
  if (it == tables_.end()) {
    RIFFLE_RETURN_IF_ERROR(
        conn_.Exec("CREATE TABLE IF NOT EXISTS " + qualified + " (" + ColumnDefs(table) + ")"));
    it = tables_.emplace(table.id, TableState{db.id, table.name, table.columns.size(), ""}).first;
  }
  if (it->second.column_count < table.columns.size()) {
    for (size_t i = it->second.column_count; i < table.columns.size(); ++i) {
      const auto& c = table.columns[i];
      RIFFLE_RETURN_IF_ERROR(conn_.Exec("ALTER TABLE " + qualified + " ADD COLUMN " +
                                        QuoteIdent(c.name) + " " + DuckTypeName(c.type)));
      it->second.column_count = i + 1;
    }
  }
  // New columns, Parquet files or a retention change all show up as a different view.
  std::string view = ViewSql(db, table);
  if (view != it->second.view_sql) {
    RIFFLE_RETURN_IF_ERROR(ExecView(table.id, view));
    it->second.view_sql = std::move(view);
  }
  return Status::Ok();
}

Status Buffer::SyncLocked(const catalog::CatalogState& state) {
  Status failed;
  std::set<uint32_t> live_dbs, live_tables;
  for (const auto& [name, db] : state.databases) {
    if (db->deleted) continue;
    live_dbs.insert(db->id);
    if (!schemas_.count(db->id)) {
      RIFFLE_RETURN_IF_ERROR(
          conn_.Exec("CREATE SCHEMA IF NOT EXISTS " + SchemaRef(DbSchema(db->id))));
      RIFFLE_RETURN_IF_ERROR(
          conn_.Exec("CREATE SCHEMA IF NOT EXISTS " + SchemaRef(DataSchema(db->id))));
      schemas_.insert(db->id);
    }
    for (const auto& [tname, table] : db->tables) {
      live_tables.insert(table->id);
      // One table that cannot be synced must not stop the others.
      if (Status st = SyncTable(*db, *table); !st.ok()) {
        log::Error("buffer: table '" + table->name + "' of database '" + db->name +
                   "': " + st.message());
        failed = st;
      }
    }
  }
  // Deleted tables and databases: their buffered data goes with them.
  for (auto it = tables_.begin(); it != tables_.end();) {
    if (live_tables.count(it->first)) {
      ++it;
      continue;
    }
    (void)conn_.Exec("DROP VIEW IF EXISTS " + SchemaRef(DbSchema(it->second.db_id)) + "." +
                     QuoteIdent(it->second.name));
    (void)conn_.Exec("DROP TABLE IF EXISTS " + SchemaRef(DataSchema(it->second.db_id)) + "." +
                     QuoteIdent(DataTable(it->first)));
    (void)conn_.Exec("DROP TABLE IF EXISTS " + SchemaRef(DataSchema(it->second.db_id)) + "." +
                     QuoteIdent(FrozenTable(it->first)));
    frozen_.erase(it->first);
    appenders_.erase(it->first);
    parquet_files_.erase(it->first);
    duplicates_.erase(it->first);
    it = tables_.erase(it);
  }
  for (auto it = schemas_.begin(); it != schemas_.end();) {
    if (live_dbs.count(*it)) {
      ++it;
      continue;
    }
    (void)conn_.Exec("DROP SCHEMA IF EXISTS " + SchemaRef(DbSchema(*it)) + " CASCADE");
    (void)conn_.Exec("DROP SCHEMA IF EXISTS " + SchemaRef(DataSchema(*it)) + " CASCADE");
    it = schemas_.erase(it);
  }
  return failed;
}

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
  return CommitAppendersLocked();
}

Status Buffer::CommitAppendersLocked() {
  Status result;
  for (auto it = appenders_.begin(); it != appenders_.end();) {
    Status st = it->second->Commit();
    if (st.ok()) {
      ++it;
      continue;
    }
    log::Error("buffer append to table id " + std::to_string(it->first) +
               " failed: " + st.message());
    result = st;
    it = appenders_.erase(it);
  }
  return result;
}

Status Buffer::Append(const catalog::CatalogState& state, const std::vector<wal::WriteOpPtr>& ops) {
  std::lock_guard lock(mu_);
  // A kept appender's rows must reach their table before its schema can change.
  if (bulk_ && state.version != bulk_catalog_version_) {
    (void)CommitAppendersLocked();
    bulk_catalog_version_ = state.version;
  }
  // A table that cannot be synced is logged and its rows fail below; the others go on.
  (void)SyncLocked(state);
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
    if (Status st = CommitAppendersLocked(); !st.ok()) result = st;
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
    Status st = AppendTable(*group.db, *table, rows, &ranges_changed);
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
    rows_since_checkpoint_ += rows.size();
    unfrozen_rows_ += static_cast<int64_t>(rows.size());
  }
  // Appended row groups stay uncompressed until a checkpoint compresses them; do it regularly
  // so memory follows the compressed size.
  if (rows_since_checkpoint_ >= (bulk_ ? kBulkCheckpointRows : kCheckpointRows) || checkpoint_due_)
    CheckpointLocked();
  return result;
}

void Buffer::BeginScan() {
  std::unique_lock lock(scan_mu_);
  scan_cv_.wait(lock, [this] { return !checkpointing_; });
  ++scans_;
}

void Buffer::EndScan() {
  std::lock_guard lock(scan_mu_);
  --scans_;
}

// DuckDB 1.4's checkpoint takes each table's lock exclusively and waits for its readers; a
// reader whose parallel tasks take the same table's lock again then waits behind it, and
// neither ends (DuckDB fixed this in 1.5). So a checkpoint runs only when no scan does, and
// scans wait for it to end; while scans run it is put off to a later append.
void Buffer::CheckpointLocked() {
  {
    std::lock_guard lock(scan_mu_);
    if (scans_ > 0) {
      checkpoint_due_ = true;
      return;
    }
    checkpointing_ = true;
  }
  if (Status st = conn_.Exec(std::string("CHECKPOINT ") + kBufferCatalog); !st.ok())
    log::Warn("buffer checkpoint failed: " + st.message());
  rows_since_checkpoint_ = 0;
  checkpoint_due_ = false;
  {
    std::lock_guard lock(scan_mu_);
    checkpointing_ = false;
  }
  scan_cv_.notify_all();
}

Status Buffer::AppendTable(const catalog::Database& db, const catalog::Table& table,
                           const std::vector<std::pair<const wal::WriteOp*, uint32_t>>& rows,
                           bool* ranges_changed) {
  DuplicateTracker& duplicates = duplicates_[table.id];
  const wal::WriteOp* write = nullptr;  // rows of one write are contiguous here
  const size_t ncols = table.columns.size();
  std::vector<duck::ColumnKind> kinds;
  for (const auto& c : table.columns) kinds.push_back(ColumnKindOf(c.type));
  std::unique_ptr<duck::ChunkAppender>* kept = &appenders_[table.id];
  if (*kept && (*kept)->ColumnCount() != ncols) {
    RIFFLE_RETURN_IF_ERROR((*kept)->Commit());
    kept->reset();
  }
  if (!*kept) {
    auto opened = duck::ChunkAppender::Open(conn_, kBufferCatalog, DataSchema(db.id),
                                            DataTable(table.id), kinds);
    if (!opened.ok()) return opened.status();
    *kept = std::move(*opened);
  }
  duck::ChunkAppender& appender = **kept;
  const size_t capacity = appender.Capacity();
  const size_t time_pos = table.index.at("time");
  std::vector<void*> data(ncols);  // the current chunk's typed column arrays
  constexpr size_t kNoColumn = SIZE_MAX;
  const wal::WriteOp* shape_op = nullptr;  // the previous line, whose keys key_columns resolves
  const lineproto::Line* shape_line = nullptr;
  std::vector<size_t> key_columns;  // its tags' then its fields' column positions
  Status status;
  for (size_t start = 0, count = 0; start < rows.size() && status.ok(); start += count) {
    count = std::min(capacity, rows.size() - start);
    // A bulk append commits whole row groups: a chunk ends where one does.
    if (bulk_) count = std::min(count, kBulkCommitRows - appender.PendingRows() % kBulkCommitRows);
    if (bulk_ && appender.PendingRows() >= kBulkCommitRows) status = appender.Commit();
    if (!status.ok()) break;
    appender.Begin(count);
    for (size_t c = 0; c < ncols; ++c) {
      switch (table.columns[c].type) {
        case ColumnType::kFloat64:
          data[c] = appender.Doubles(c);
          break;
        case ColumnType::kInt64:
        case ColumnType::kTime:
          data[c] = appender.Int64s(c);
          break;
        case ColumnType::kUInt64:
          data[c] = appender.UInt64s(c);
          break;
        case ColumnType::kBool:
          data[c] = appender.Bools(c);
          break;
        case ColumnType::kString:
        case ColumnType::kTag:
          data[c] = nullptr;
          break;
      }
    }
    int64_t* times = static_cast<int64_t*>(data[time_pos]);
    for (size_t r = 0; r < count; ++r) {
      const auto& [op, line_index] = rows[start + r];
      const auto& line = op->batch.lines[line_index];
      times[r] = op->times[line_index];
      appender.SetValid(time_pos, r);
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
        appender.SetString(key_columns[t], r, tags[t].value.data(), tags[t].value.size());
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
            appender.SetString(c, r, fv.s.data(), fv.s.size());
            continue;
          case ColumnType::kTime:
            continue;
        }
        appender.SetValid(c, r);
      }
    }
    status = appender.Flush();
  }
  if (bulk_) return status;
  Status committed = status.ok() ? appender.Commit() : status;
  // Prepared again by the next append: the table may have changed under it.
  if (!committed.ok()) kept->reset();
  return committed;
}

DuplicateRanges Buffer::DuplicateTimeRanges() {
  std::lock_guard lock(mu_);
  DuplicateRanges out;
  for (const auto& [id, tracker] : duplicates_)
    if (!tracker.ranges().empty()) out[id] = tracker.ranges().ranges();
  return out;
}

void Buffer::RestoreDuplicates(const DuplicateRanges& ranges, const DuplicateRanges& persisted) {
  std::lock_guard lock(mu_);
  for (const auto& [id, r] : ranges) duplicates_[id].Restore(r, {});
  for (const auto& [id, spans] : persisted) duplicates_[id].Restore({}, spans);
  for (auto& [id, t] : tables_) t.view_sql.clear();  // re-derived on the next sync
}

int64_t Buffer::MemoryBytes() {
  std::lock_guard lock(mu_);
  auto rows = conn_.QueryInt64s(
      "SELECT coalesce(sum(memory_usage_bytes), 0)::BIGINT FROM duckdb_memory() WHERE tag = "
      "'IN_MEMORY_TABLE'");
  return rows.ok() && !rows->empty() ? (*rows)[0][0] : 0;
}

}  // namespace riffle::buffer
