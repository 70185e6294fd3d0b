// Internal to duck/: ownership of DuckDB results and internal statements on raw connections.
#pragma once

#include <duckdb.h>

#include <memory>
#include <string>

#include "common/status.h"
#include "duck/duck.h"
#include "duck/value.h"

namespace riffle::duck {

class DuckResult {
 public:
  DuckResult() = default;
  ~DuckResult() { duckdb_destroy_result(&result_); }
  DuckResult(const DuckResult&) = delete;
  DuckResult& operator=(const DuckResult&) = delete;
  duckdb_result* get() { return &result_; }

 private:
  duckdb_result result_{};
};

// User SQL holding `count` statements where exactly one is expected (PrepareOne, ParseOne).
inline Status StatementCountError(size_t count) {
  if (count == 0) return Status::InvalidArgument("query is empty: expected one SQL statement");
  return Status::InvalidArgument("query contains " + std::to_string(count) +
                                 " statements: expected exactly one SELECT statement");
}

class Rows;
// A streaming result's rows, fetched chunk by chunk as they are asked for (connection.cc).
std::unique_ptr<Rows> NewStreamingRows(std::unique_ptr<DuckResult> result);

// Runs SQL that we generated ourselves; failure is an internal error.
inline Status Exec(duckdb_connection conn, const std::string& sql) {
  DuckResult r;
  if (duckdb_query(conn, sql.c_str(), r.get()) == DuckDBError) {
    const char* err = duckdb_result_error(r.get());
    return Status::Internal("internal SQL failed: " + std::string(err ? err : "?") + " [" + sql +
                            "]");
  }
  return Status::Ok();
}

inline duckdb_type TypeId(ColumnKind kind) {
  switch (kind) {
    case ColumnKind::kVarchar:
      return DUCKDB_TYPE_VARCHAR;
    case ColumnKind::kBigint:
      return DUCKDB_TYPE_BIGINT;
    case ColumnKind::kUBigint:
      return DUCKDB_TYPE_UBIGINT;
    case ColumnKind::kDouble:
      return DUCKDB_TYPE_DOUBLE;
    case ColumnKind::kBoolean:
      return DUCKDB_TYPE_BOOLEAN;
    case ColumnKind::kTimestampNs:
      return DUCKDB_TYPE_TIMESTAMP_NS;
  }
  return DUCKDB_TYPE_VARCHAR;
}

}  // namespace riffle::duck
