// Internal to duck/: ownership of DuckDB results and internal statements on raw connections.
#pragma once

#include <duckdb.h>

#include <string>

#include "common/status.h"
#include "duck/duck.h"

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
