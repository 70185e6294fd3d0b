// SQL over the in-memory buffer, executed by DuckDB (the only place that includes duckdb.h).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <variant>
#include <vector>

#include "buffer/persisted.h"
#include "catalog/catalog.h"
#include "common/status.h"
#include "query/result_stream.h"
#include "query/value.h"
#include "wal/wal.h"

namespace riffle::query {

// A bound `$name` parameter; HTTP keeps JSON types, plugins pass strings.
using ParamValue = std::variant<std::monostate, bool, int64_t, double, std::string>;
using Params = std::vector<std::pair<std::string, ParamValue>>;

// Rows of a virtual table (system.*, information_schema.*) materialised for one query.
struct VirtualTable {
  std::string name;  // e.g. "processing_engine_logs"
  std::vector<std::pair<std::string, catalog::ColumnType>> columns;  // kTime → TIMESTAMP_NS
  std::vector<std::vector<Value>> rows;
};
// Provides system tables for a database on demand (name without the "system." prefix).
using SystemTableProvider =
    std::function<Result<VirtualTable>(const std::string& db, const std::string& table)>;

struct EngineOptions {
  int threads = 0;                 // 0 → DuckDB default (cores)
  std::string scratch_dir;         // where parquet results are staged; must exist
  std::string persist_dir;         // where snapshots' Parquet files live ("" = none)
};

using buffer::DuplicateRanges;
using buffer::PersistedFile;
using buffer::TimeRange;

class QueryEngine {
 public:
  static Result<std::unique_ptr<QueryEngine>> Open(EngineOptions options);
  virtual ~QueryEngine() = default;

  // Makes DuckDB's tables and views match the catalog (new tables, new columns, deletions).
  virtual Status SyncSchema(const catalog::CatalogState& state) = 0;
  // Appends the rows of `ops` (already validated against `state`) to the buffer.
  virtual Status Append(const catalog::CatalogState& state, const std::vector<wal::WriteOpPtr>& ops) = 0;

  // Runs one read-only SQL statement against database `db`. The stream holds a connection
  // and the files the query reads until it is destroyed; errors found before the first batch
  // (parsing, binding, planning) are returned here.
  virtual Result<std::unique_ptr<ResultStream>> QueryStream(const catalog::CatalogState& state, const std::string& db,
                                                            const std::string& sql, const Params& params) = 0;
  // Same, read whole.
  Result<QueryResult> Query(const catalog::CatalogState& state, const std::string& db, const std::string& sql,
                            const Params& params);
  // Same, written by DuckDB as a Parquet file at `path` (in the scratch directory, see
  // ScratchPath); the caller streams the file and removes it.
  virtual Status QueryParquet(const catalog::CatalogState& state, const std::string& db, const std::string& sql,
                              const Params& params, const std::string& path) = 0;
  // A new file name in the scratch directory for QueryParquet.
  virtual std::string ScratchPath(const std::string& suffix) = 0;

  virtual void SetSystemTableProvider(SystemTableProvider provider) = 0;

  // Snapshots, in three steps so that writes never wait for Parquet encoding:
  // 1. FreezeBuffer (on the WAL flush thread, so it falls between two appends): every
  //    non-empty table's rows are set aside (still queried); new rows go to fresh tables.
  //    Returns how many tables were frozen. Fails while frozen rows are not yet published.
  virtual Result<size_t> FreezeBuffer(const catalog::CatalogState& state) = 0;
  // 2. WriteParquet (any thread): writes the frozen rows as zstd Parquet files, one per
  //    `chunk_ns` time chunk (wider when there are many), at path_for(db, table, chunk_start).
  virtual Result<std::vector<PersistedFile>> WriteParquet(
      const catalog::CatalogState& state, int64_t chunk_ns,
      const std::function<std::string(const catalog::Database&, const catalog::Table&, int64_t chunk_start)>&
          path_for) = 0;
  // 3. PublishParquet: atomically makes each table read its buffer plus exactly `files` (by
  //    table id) and, with `drop_frozen`, forgets the frozen rows (they are in the files now).
  //    Files are listed oldest first: where points repeat, a later file's values win.
  virtual Status PublishParquet(const catalog::CatalogState& state,
                                const std::map<uint32_t, std::vector<PersistedFile>>& files, bool drop_frozen) = 0;
  // Compaction: writes the rows of `inputs` (Parquet files of `table`, oldest first) into one
  // zstd Parquet file `output`, repeated points merged; queries are not affected until the
  // files are published.
  virtual Status MergeParquet(const catalog::Table& table, const std::vector<std::string>& inputs,
                              const std::string& output) = 0;
  // Where tables may hold repeated points (same series and time): saved with each snapshot
  // manifest and restored at start-up, with the time spans of the persisted files per table
  // (a point within one may repeat a persisted one), before the WAL is replayed.
  virtual DuplicateRanges DuplicateTimeRanges() = 0;
  // Compaction merged all persisted rows of `table` in [lo, hi] into one file (see Buffer).
  virtual Status ForgetDuplicates(const catalog::Database& db, const catalog::Table& table, int64_t lo, int64_t hi) = 0;
  virtual void RestoreDuplicates(const DuplicateRanges& ranges, const DuplicateRanges& persisted) = 0;
  // Files a publish stops listing may still be read by queries that began before it: the
  // publish count when a query began, and the oldest such count among running queries
  // (UINT64_MAX when none runs). A file dropped by publish N can go once that is >= N.
  virtual uint64_t PublishCount() = 0;
  virtual uint64_t OldestRunningQueryPublish() = 0;
  // Bytes held by the in-memory buffer tables.
  virtual int64_t BufferBytes() = 0;
};

// Output formats of /api/v3/query_sql.
enum class Format { kJson, kJsonLines, kCsv, kPretty, kParquet };
Result<Format> ParseFormat(const std::string& name);
const char* ContentType(Format f);
std::string Render(const QueryResult& result, Format format);
// An encoder for json, jsonl, csv or pretty (pretty needs every row for its column widths, so
// it holds the rows until End).
std::unique_ptr<Encoder> MakeEncoder(Format format);

}  // namespace riffle::query
