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
namespace {
std::string DataSchemaRef(int catalog, uint32_t db_id) {
  return std::string(kDataCatalogs[catalog]) + "." + QuoteIdent(DataSchema(db_id));
}
}  // namespace
std::string DataTableRef(int catalog, uint32_t db_id, uint32_t table_id) {
  return DataSchemaRef(catalog, db_id) + "." + QuoteIdent(DataTable(table_id));
}
std::string FilesVariable(uint32_t table_id) { return "riffle_files_" + std::to_string(table_id); }
std::string TimeRangeVariable(uint32_t table_id) {
  return "riffle_time_range_" + std::to_string(table_id);
}

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

std::string ColumnDefs(const catalog::Table& table) {
  std::string cols;
  for (const auto& c : table.columns)
    cols += (cols.empty() ? "" : ", ") + QuoteIdent(c.name) + " " + DuckTypeName(c.type);
  return cols;
}

std::vector<duck::StagedRows::Column> StagedColumns(const catalog::Table& table) {
  std::vector<duck::StagedRows::Column> columns;
  for (const auto& c : table.columns) columns.push_back({c.name, ColumnKindOf(c.type)});
  return columns;
}

duck::StagedRows& Buffer::StagedLocked(const catalog::Table& table, int c) {
  TableState& t = tables_.at(table.id);
  if (!t.staged[c]) t.staged[c] = duck::StagedRows::Create(StagedColumns(table));
  return *t.staged[c];
}

std::string Buffer::RowsSql(uint32_t db_id, uint32_t table_id, int c, bool in_view) const {
  std::string table = DataTableRef(c, db_id, table_id);
  auto it = tables_.find(table_id);
  if (it == tables_.end() || !it->second.staged[c]) return table;
  return "(SELECT * FROM " + table + " UNION ALL BY NAME SELECT * FROM " +
         it->second.staged[c]->ScanSql(false, in_view ? TimeRangeVariable(table_id) : "") + ")";
}

std::string Buffer::OrderedRowsSql(uint32_t db_id, uint32_t table_id, int c,
                                   const std::string& rank, const std::string& where,
                                   bool in_view) const {
  auto it = tables_.find(table_id);
  const duck::StagedRows* staged = it == tables_.end() ? nullptr : it->second.staged[c].get();
  return OrderedSql(DataTableRef(c, db_id, table_id),
                    staged ? staged->ScanSql(true, in_view ? TimeRangeVariable(table_id) : "") : "",
                    rank, where);
}

std::string OrderedSql(const std::string& table, const std::string& staged_scan,
                       const std::string& rank, const std::string& where) {
  std::string sql = "SELECT *, " + OrderSql(rank, "rowid") + " FROM " + table + " WHERE " + where;
  if (staged_scan.empty()) return sql;
  // Staged rows arrived after every row of the table (they move in whole, oldest first), and
  // their positions start past any rowid.
  return sql + " UNION ALL BY NAME SELECT * EXCLUDE (" + duck::StagedRows::kPositionColumn + "), " +
         OrderSql(rank, duck::StagedRows::kPositionColumn) + " FROM " + staged_scan + " WHERE " +
         where;
}

// The user-facing view: columns sorted by name, buffer ∪ Parquet files, retention applied, and
// repeated points merged where the table may have them.
std::string Buffer::ViewSql(const catalog::Database& db, const catalog::Table& table) const {
  std::vector<std::string> names;
  for (const auto& c : table.columns) names.push_back(c.name);
  std::sort(names.begin(), names.end());
  std::string cols;
  for (const auto& n : names) cols += (cols.empty() ? "" : ", ") + QuoteIdent(n);
  const int live_catalog = LiveCatalogOf(table.id);
  std::string live = RowsSql(db.id, table.id, live_catalog, true);
  std::string frozen =
      frozen_.count(table.id) ? RowsSql(db.id, table.id, FrozenCatalog(), true) : "";
  static const std::vector<PersistedFile> kNoFiles;
  auto files_it = parquet_files_.find(table.id);
  const auto& files = files_it == parquet_files_.end() ? kNoFiles : files_it->second;
  std::string source = "SELECT * FROM " + live;
  if (!frozen.empty()) source += " UNION ALL BY NAME SELECT * FROM " + frozen;
  std::string file_list = "getvariable(" + QuoteLiteral(FilesVariable(table.id)) + ")";
  if (!files.empty()) source += " UNION ALL BY NAME " + ReadParquetSql(file_list);
  auto dup = duplicates_.find(table.id);
  if (dup != duplicates_.end() && !dup->second.ranges().empty()) {
    const TimeRangeSet& ranges = dup->second.ranges();
    std::string in = InRangesSql(ranges.ranges());
    // Arrival order: the files oldest first (a file holds no repeats of its own), then the
    // frozen rows, then the live ones, each in append order.
    std::string ordered = OrderedRowsSql(db.id, table.id, live_catalog, "1000000", in, true);
    if (!frozen.empty())
      ordered += " UNION ALL BY NAME " +
                 OrderedRowsSql(db.id, table.id, FrozenCatalog(), "999999", in, true);
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
  if (Status st = duck::StagedRows::Register(conn_); !st.ok())
    log::Error("write buffer: " + st.message());
  std::string dir = scratch_dir.empty() ? std::filesystem::temp_directory_path().string() : scratch_dir;
  stub_path_ = dir + "/view-stub-" + std::to_string(::getpid()) + ".parquet";
  // Part files of merges a crash interrupted (the scratch dir is this node's alone).
  merge_part_prefix_ = dir + "/merge-part-";
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec))
    if (entry.path().filename().string().rfind("merge-part-", 0) == 0)
      std::filesystem::remove(entry.path(), ec);
  // "time" because the views filter the files' rows by it.
  Status st = conn_.Exec("COPY (SELECT NULL::TIMESTAMP_NS AS \"time\" WHERE false) TO " +
                         QuoteLiteral(stub_path_) + " (FORMAT parquet)");
  if (!st.ok()) log::Error("write buffer: cannot write " + stub_path_ + ": " + st.message());
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

std::string Buffer::TimeRangeVariableSql(uint32_t table_id, const std::optional<TimeRange>& range) {
  return "SET VARIABLE " + TimeRangeVariable(table_id) + " = " +
         (range ? "[" + std::to_string(range->lo) + ", " + std::to_string(range->hi) + "]"
                : std::string("NULL")) +
         "::BIGINT[];\n";
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
  return SyncLocked(NewestLocked(state));
}

const catalog::CatalogState& Buffer::NewestLocked(const catalog::CatalogState& given) {
  // Versions only grow (Catalog::Mutate), and copying a state copies its maps of pointers.
  if (!newest_ || given.version > newest_->version)
    newest_ = std::make_shared<const catalog::CatalogState>(given);
  return *newest_;
}

Status Buffer::SyncTable(const catalog::Database& db, const catalog::Table& table) {
  auto it = tables_.find(table.id);
  std::string qualified = LiveRef(db.id, table.id);
  if (it == tables_.end()) {
    RIFFLE_RETURN_IF_ERROR(
        conn_.Exec("CREATE TABLE IF NOT EXISTS " + qualified + " (" + ColumnDefs(table) + ")"));
    it =
        tables_.emplace(table.id, TableState{db.id, table.name, table.columns.size(), "", live_, 0})
            .first;
    StagedLocked(table, live_);
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

Status Buffer::MoveToLiveCatalog(const catalog::Database& db, const catalog::Table& table) {
  TableState& t = tables_.at(table.id);
  const int from = t.catalog;
  // OR REPLACE: a table an earlier failed move left there holds nothing queries read.
  RIFFLE_RETURN_IF_ERROR(conn_.Exec("CREATE OR REPLACE TABLE " +
                                    DataTableRef(live_, db.id, table.id) + " (" +
                                    ColumnDefs(table) + ")"));
  t.catalog = live_;
  t.staged[live_].reset();
  StagedLocked(table, live_);
  std::string view = ViewSql(db, table);
  if (Status st = ExecView(table.id, view); !st.ok()) {
    t.catalog = from;
    return st;
  }
  t.view_sql = std::move(view);
  t.column_count = table.columns.size();
  t.appended = 0;
  t.staged[from].reset();
  if (Status st = conn_.Exec("DROP TABLE IF EXISTS " + DataTableRef(from, db.id, table.id));
      !st.ok())
    log::Warn("buffer: cannot drop the empty table left behind: " + st.message());
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
      for (int c : {0, 1})
        RIFFLE_RETURN_IF_ERROR(
            conn_.Exec("CREATE SCHEMA IF NOT EXISTS " + DataSchemaRef(c, db->id)));
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
    for (int c : {0, 1})
      (void)conn_.Exec("DROP TABLE IF EXISTS " + DataTableRef(c, it->second.db_id, it->first));
    frozen_.erase(it->first);
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
    for (int c : {0, 1})
      (void)conn_.Exec("DROP SCHEMA IF EXISTS " + DataSchemaRef(c, *it) + " CASCADE");
    it = schemas_.erase(it);
  }
  synced_version_ = state.version;
  views_stale_ = !failed.ok();  // a table that failed is tried again on the next append
  return failed;
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
  ForgetViewsLocked();
}

int64_t Buffer::StagedRowCount() {
  std::lock_guard lock(mu_);
  int64_t rows = 0;
  for (const auto& [id, t] : tables_)
    for (const auto& staged : t.staged)
      if (staged) rows += static_cast<int64_t>(staged->rows());
  return rows;
}

int64_t Buffer::MemoryBytes() {
  std::lock_guard lock(mu_);
  auto rows = conn_.QueryInt64s(
      "SELECT coalesce(sum(memory_usage_bytes), 0)::BIGINT FROM duckdb_memory() WHERE tag = "
      "'IN_MEMORY_TABLE'");
  int64_t bytes = rows.ok() && !rows->empty() ? (*rows)[0][0] : 0;
  for (const auto& [id, t] : tables_)
    for (const auto& staged : t.staged)
      if (staged) bytes += static_cast<int64_t>(staged->bytes());
  return bytes;
}

}  // namespace riffle::buffer
