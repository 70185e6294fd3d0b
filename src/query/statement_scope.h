// What a statement run for one database may read, checked on DuckDB's own parse tree before
// the statement is bound.
//
// Every database lives in one DuckDB instance (a schema each), so DuckDB alone would let a
// statement name another database's schema, list every schema through its catalog functions,
// or read any Parquet file by path. The check is deny-by-default on what DuckDB parsed (the
// JSON of json_serialize_sql), not on the text:
//   - a table reference must be unqualified and name a table of the database, a CTE in scope,
//     or one of this statement's virtual tables (system.*, information_schema, caches);
//   - a table function must be on a short list that reads nothing but its arguments
//     (range, generate_series, unnest, ...);
//   - a scalar function must be unqualified and not one that reads server state (settings,
//     variables, the search path, catalog-reading macros such as pg_get_viewdef);
//   - anything the parse tree holds that the check does not know (another kind of table
//     reference, a statement that is not a SELECT) is refused.
// EXPLAIN [ANALYZE] is checked on the statement it explains.
#pragma once

#include <functional>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <set>
#include <string>

#include "common/status.h"
#include "duck/connection.h"

namespace riffle::query {

struct StatementScope {
  std::string database;                  // for error messages
  std::set<std::string> tables;          // lower-cased table names of the database
  std::set<std::string> virtual_tables;  // this statement's temporary tables (temp.main.<name>)
};

// Checks the parse tree `tree` (json_serialize_sql's output for one statement).
Status CheckStatementScope(const nlohmann::json& tree, const StatementScope& scope);

// A string field of a parse-tree node; "" when it is absent or not a string.
std::string StringAt(const nlohmann::json& obj, const char* key);
// Whether a field of a parse-tree node is absent or null.
bool IsNullOrAbsent(const nlohmann::json& obj, const char* key);
// Whether `matches` holds for any object in the tree `j` (`j` itself included).
bool AnyObjectIn(const nlohmann::json& j,
                 const std::function<bool(const nlohmann::json&)>& matches);
// The parse tree of `sql` when DuckDB parses it (on `conn`, binding nothing) as exactly one
// statement: that statement's element of json_serialize_sql's "statements"; else nothing.
std::optional<nlohmann::json> ParseOneStatement(duck::Connection& conn, const std::string& sql);

// The statement EXPLAIN [ANALYZE] [(options)] wraps, or `sql` itself.
std::string WithoutExplain(const std::string& sql);

}  // namespace riffle::query
