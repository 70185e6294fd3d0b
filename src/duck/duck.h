// duck: the one seam over DuckDB's C API (database, connections, statements, streaming rows,
// chunk appenders, type mapping); the only component that includes duckdb.h. This header:
// quoting for the SQL that Riffle generates.
#pragma once

#include <string>
#include <string_view>

namespace riffle::duck {

std::string QuoteIdent(std::string_view name);    // "name" with " doubled
std::string QuoteLiteral(std::string_view text);  // 'text' with ' doubled

}  // namespace riffle::duck
