// Converts a DuckDB result into QueryResult values (chunk-wise).
#pragma once

#include <duckdb.h>

#include "query/query.h"

namespace riffle::query {

Status ReadResult(duckdb_result* result, QueryResult* out);

}  // namespace riffle::query
