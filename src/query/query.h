// SQL over the in-memory buffer, executed by DuckDB (the only place that includes duckdb.h).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <variant>
#include <vector>

#include "catalog/catalog.h"
#include "common/status.h"
#include "wal/wal.h"

namespace riffle::query {

struct Timestamp {
  int64_t ns;
};
// A result cell. Tags and strings are std::string; time-like values are Timestamp.
using Value = std::variant<std::monostate, bool, int64_t, uint64_t, double, std::string, Timestamp>;

struct QueryResult {
  std::vector<std::string> column_names;
  std::vector<std::vector<Value>> rows;
};

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
};

class QueryEngine {
 public:
  static Result<std::unique_ptr<QueryEngine>> Open(EngineOptions options);
  virtual ~QueryEngine() = default;

  // Makes DuckDB's tables and views match the catalog (new tables, new columns, deletions).
  virtual Status SyncSchema(const catalog::CatalogState& state) = 0;
  // Appends the rows of `ops` (already validated against `state`) to the buffer.
  virtual Status Append(const catalog::CatalogState& state, const std::vector<wal::WriteOpPtr>& ops) = 0;

  // Runs one read-only SQL statement against database `db`.
  virtual Result<QueryResult> Query(const catalog::CatalogState& state, const std::string& db,
                                    const std::string& sql, const Params& params) = 0;
  // Same, rendered as a Parquet file's bytes.
  virtual Result<std::string> QueryParquet(const catalog::CatalogState& state, const std::string& db,
                                           const std::string& sql, const Params& params) = 0;

  virtual void SetSystemTableProvider(SystemTableProvider provider) = 0;
};

// Output formats of /api/v3/query_sql.
enum class Format { kJson, kJsonLines, kCsv, kPretty, kParquet };
Result<Format> ParseFormat(const std::string& name);
const char* ContentType(Format f);
std::string Render(const QueryResult& result, Format format);

}  // namespace riffle::query
