// duck::Connection and what runs on it: internal statements, one checked user statement with
// bound parameters and a streaming result, staged rows (staged_rows.h), and temporary tables.
// The only way the buffer and query components talk to DuckDB; duckdb.h stays inside duck/.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "duck/arrow_c.h"
#include "duck/database.h"
#include "duck/value.h"

struct _duckdb_connection;
struct _duckdb_prepared_statement;
struct _duckdb_data_chunk;

namespace riffle::duck {

class ParsedStatement;
class Rows;
class Statement;

class Connection {
 public:
  static Result<Connection> Open(Database& db);
  Connection() = default;
  ~Connection();
  Connection(Connection&& other) noexcept : conn_(other.conn_), parse_tree_(other.parse_tree_) {
    other.conn_ = nullptr;
    other.parse_tree_ = nullptr;
  }
  Connection& operator=(Connection&& other) noexcept;
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // SQL that Riffle generated itself: a failure is an internal error naming the SQL.
  Status Exec(const std::string& sql);
  // Every row of an internal query whose cells are all integers (NULL reads as 0).
  Result<std::vector<std::vector<int64_t>>> QueryInt64s(const std::string& sql);
  // Exactly one statement of user SQL, prepared; an empty text or several statements are
  // errors that say so.
  Result<std::unique_ptr<Statement>> PrepareOne(const std::string& sql);
  // The same statement parsed only: DuckDB binds and plans it once, when it runs. A prepared
  // statement that reads Parquet files or a variable is bound and planned again when it runs.
  Result<std::unique_ptr<ParsedStatement>> ParseOne(const std::string& sql);
  // DuckDB's parse tree of `sql` as JSON (json_serialize_sql): parsed, never bound, so naming a
  // file or a table here reads nothing.
  Result<std::string> ParseTreeJson(const std::string& sql);
  // The SQL text of a parse tree in that JSON form (json_deserialize_sql).
  Result<std::string> SqlOfParseTree(const std::string& tree_json);
  // Replaces temporary table `name` with `rows` (a system or information_schema table).
  Status LoadTempTable(const std::string& name,
                       const std::vector<std::pair<std::string, ColumnKind>>& columns,
                       const std::vector<std::vector<Value>>& rows);
  // Stops the statement running on this connection (from any thread): its next fetch fails
  // with an "Interrupted" error.
  void Interrupt();

 private:
  friend class StagedRows;
  friend Status RegisterCompatCasts(Connection& conn);
  _duckdb_connection* conn_ = nullptr;
  _duckdb_prepared_statement* parse_tree_ = nullptr;  // ParseTreeJson's statement, prepared once
};

class Statement {
 public:
  ~Statement();
  // SELECT or EXPLAIN: the only statements user SQL may run.
  bool IsReadOnlyQuery() const;
  // Binds `$name`; false when the statement has no such parameter.
  Result<bool> Bind(const std::string& name, const Value& value);
  // Runs the statement; DuckDB produces the rows as Rows::Next asks for them.
  Result<std::unique_ptr<Rows>> ExecuteStreaming();

 private:
  friend class Connection;
  explicit Statement(_duckdb_prepared_statement* stmt) : stmt_(stmt) {}
  _duckdb_prepared_statement* stmt_;
};

// User SQL parsed by ParseOne, run once: the same checks and binding as a Statement's.
class ParsedStatement {
 public:
  ~ParsedStatement();
  bool IsReadOnlyQuery() const;  // SELECT or EXPLAIN
  Result<bool> Bind(const std::string& name, const Value& value);
  // Binds, plans and starts the statement; DuckDB produces the rows as Rows::Next asks.
  Result<std::unique_ptr<Rows>> ExecuteStreaming();

 private:
  friend class Connection;
  struct Impl;
  explicit ParsedStatement(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// A running statement's result. Destroy it before the connection runs anything else.
class Rows {
 public:
  virtual ~Rows() = default;
  virtual const std::vector<std::string>& column_names() const = 0;
  // The next batch; false at the end. An error DuckDB raises while producing rows ends it.
  virtual Result<bool> Next(Batch* batch) = 0;
  // The same rows in the Arrow C data interface, for consumers that send Arrow on: the schema
  // is a struct with one child per column (named as column_names()), and each NextArrow fills
  // `out` with the next chunk as a struct array (released by the caller). Use either Next or
  // NextArrow on one result, not both.
  virtual Status ArrowSchemaOf(ArrowSchema* out) = 0;
  virtual Result<bool> NextArrow(ArrowArray* out) = 0;
  // DuckDB's own vectors, unconverted, for results whose every column is laid out as Arrow's
  // (integers, floats, DATE, TIMESTAMP*, HUGEINT as Decimal128) or nearly: VARCHAR is an array
  // of VectorString, BOOLEAN a byte per value. VectorFormats() gives each column's Arrow format,
  // with those two as "duck:varchar" and "duck:bool", or nothing when another type is present.
  // NextVectors fills `out` with a struct array whose children point into the chunk (validity:
  // DuckDB's mask, bit per row LSB first, or null when all valid; null_count -1 = not counted);
  // releasing it frees the chunk.
  virtual const std::optional<std::vector<std::string>>& VectorFormats() const = 0;
  virtual Result<bool> NextVectors(ArrowArray* out) = 0;
};

// A VARCHAR value in a DuckDB vector (duckdb_string_t's layout): up to 12 bytes inline after
// the length, longer ones behind a pointer.
struct VectorString {
  uint32_t length;
  char prefix[4];
  const char* ptr;
  const char* data() const {
    return length <= 12 ? reinterpret_cast<const char*>(this) + sizeof(uint32_t) : ptr;
  }
};

// Casts DataFusion has and DuckDB lacks (CAST(<timestamp> AS BIGINT) gives nanoseconds since
// the epoch), registered on the connection's database.
Status RegisterCompatCasts(Connection& conn);

}  // namespace riffle::duck
