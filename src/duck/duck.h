// duck: the seam over DuckDB's C API that the buffer, persist and query components share
// (result ownership, internal statements, SQL quoting).
#pragma once

#include <duckdb.h>

#include <string>
#include <string_view>

#include "common/status.h"

namespace riffle::duck {

std::string QuoteIdent(std::string_view name);    // "name" with " doubled
std::string QuoteLiteral(std::string_view text);  // 'text' with ' doubled

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

}  // namespace riffle::duck
