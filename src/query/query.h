// query: SQL (and, through influxql/, InfluxQL) over the write buffer and its Parquet files,
// planned and executed by DuckDB; every result a stream of columnar batches.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <variant>
#include <vector>

#include "buffer/persisted.h"
#include "catalog/catalog.h"
#include "common/status.h"
#include "query/result_stream.h"
#include "query/value.h"
#include "wal/wal.h"

namespace riffle::buffer {
class Buffer;
}
namespace riffle::duck {
class Connection;
class Database;
}

namespace riffle::query {

// A bound `$name` parameter; HTTP keeps JSON types, plugins pass strings.
using ParamValue = std::variant<std::monostate, bool, int64_t, double, std::string>;
using Params = std::vector<std::pair<std::string, ParamValue>>;
// The same value as a result cell (each parameter type is one of Value's).
inline Value ToValue(const ParamValue& p) {
  return std::visit([](const auto& v) -> Value { return v; }, p);
}

// Rows of a virtual table (system.*, information_schema.*) materialised for one query.
struct VirtualTable {
  std::string name;  // e.g. "processing_engine_logs"
  std::vector<std::pair<std::string, catalog::ColumnType>> columns;  // kTime → TIMESTAMP_NS
  std::vector<std::vector<Value>> rows;
};
// The system.* tables every database has (information_schema and Flight SQL list them).
inline constexpr const char* kSystemTableNames[] = {"processing_engine_logs",
                                                    "processing_engine_triggers",
                                                    "processing_engine_trigger_arguments",
                                                    "queries",
                                                    "parquet_files",
                                                    "last_caches",
                                                    "distinct_caches",
                                                    "influxdb_schema",
                                                    "row_deletes"};
// system.influxdb_schema: measurement, key (column) and data_type (time, tag, boolean, integer,
// uinteger, float, string) of every column of `db`'s tables.
VirtualTable InfluxdbSchemaTable(const catalog::Database& db);
// _internal's system.databases (database_name, retention_period_ns, deleted) and system.tables
// (database_name, table_name, retention_period_ns: the table's own, effective_retention_period_ns).
VirtualTable InternalDatabasesTable(const catalog::CatalogState& state);
VirtualTable InternalTablesTable(const catalog::CatalogState& state);

// Provides system tables for a database on demand (name without the "system." prefix).
using SystemTableProvider =
    std::function<Result<VirtualTable>(const std::string& db, const std::string& table)>;
// Provides the rows of last_cache(table[, name]) (`last`) or distinct_cache(table[, name]).
using CacheTableProvider = std::function<Result<VirtualTable>(const catalog::CatalogState& state, const std::string& db,
                                                              bool last, const std::string& table,
                                                              const std::string& name)>;

// Lets another thread stop one query (a Flight client that cancelled or whose deadline passed):
// a statement running now is interrupted inside DuckDB, one that would start later fails at once.
// Every statement the query runs (InfluxQL may run several) is covered.
class Cancellation {
 public:
  // `reason`, when given, replaces the interrupted statement's error (e.g. the query timeout).
  void Cancel(std::string reason = "");
  bool cancelled() const;
  std::string reason() const;
  // The engine's side: a connection is attached while a statement of this query runs on it.
  bool Attach(duck::Connection* conn);  // false when already cancelled
  void Detach(duck::Connection* conn);

 private:
  mutable std::mutex mu_;
  bool cancelled_ = false;
  std::string reason_;
  std::set<duck::Connection*> running_;
};

struct EngineOptions {
  std::string scratch_dir;  // where parquet results are staged; must exist and be allowed
  // A query running longer is interrupted with a Timeout error naming the limit (0: none).
  std::chrono::milliseconds query_timeout{0};
  std::string query_timeout_text;  // the limit as the operator wrote it, e.g. "30s"
  size_t query_log_size = 1000;    // queries system.queries keeps (--query-log-size)
};

// Which published file lists running queries may still read: a query binds a table's Parquet
// files when it starts, so a file that a publish stops listing may be deleted only once every
// query that began before that publish has ended.
class FileReaders {
 public:
  virtual ~FileReaders() = default;
  // The oldest buffer::Buffer::PublishCount() a running query began at (UINT64_MAX if none).
  virtual uint64_t OldestRunningQueryPublish() = 0;
};

using buffer::DuplicateRanges;
using buffer::PersistedFile;
using buffer::TimeRange;

// Runs read-only SQL over the write buffer's tables and the Parquet files they were
// persisted to (views that the buffer keeps per table).
class QueryEngine : public FileReaders {
 public:
  static Result<std::unique_ptr<QueryEngine>> Open(EngineOptions options, duck::Database* db, buffer::Buffer* buffer);
  ~QueryEngine() override = default;

  // Runs one read-only SQL statement against database `db`. The stream holds a connection
  // and the files the query reads until it is destroyed; errors found before the first batch
  // (parsing, binding, planning) are returned here.
  // `cancel`, when given, can stop it from another thread.
  virtual Result<std::unique_ptr<ResultStream>> QueryStream(const catalog::CatalogState& state, const std::string& db,
                                                            const std::string& sql, const Params& params,
                                                            std::shared_ptr<Cancellation> cancel = nullptr) = 0;
  // Same, read whole.
  Result<QueryResult> Query(const catalog::CatalogState& state, const std::string& db, const std::string& sql,
                            const Params& params);
  // Same, written by DuckDB as a Parquet file at `path` (in the scratch directory, see
  // ScratchPath); the caller streams the file and removes it.
  virtual Status QueryParquet(const catalog::CatalogState& state, const std::string& db, const std::string& sql,
                              const Params& params, const std::string& path) = 0;
  // A new file name in the scratch directory for QueryParquet.
  virtual std::string ScratchPath(const std::string& suffix) = 0;

  // A remote store's Parquet cache: keeps the files with these object keys on local disk until
  // the returned handle is dropped. Each query pins the files of the tables it names.
  using FilePinner = std::function<Result<std::shared_ptr<void>>(const std::vector<std::string>& keys)>;
  virtual void SetFilePinner(FilePinner pinner) = 0;
  virtual void SetSystemTableProvider(SystemTableProvider provider) = 0;
  virtual void SetCacheTableProvider(CacheTableProvider provider) = 0;
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
