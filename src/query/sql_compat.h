// The DataFusion/InfluxDB SQL surface on top of DuckDB: one place for every rewrite.
//
// User SQL is tokenised (strings, quoted identifiers and comments are respected, never
// rewritten) and these forms are mapped:
//   SHOW TABLES / SHOW COLUMNS FROM t   → selects over our information_schema tables
//   information_schema.tables|columns   → per-query tables with InfluxDB data types
//   system.<name>                       → per-query system table <name>
//   public.iox.<t>, iox.<t>             → <t>
//   now()                               → riffle_now() (a zone-less TIMESTAMP_NS)
//   FROM $p / JOIN $p                   → the string parameter p as a quoted identifier
//   first_value|last_value(x ORDER BY t) → first|last(x ORDER BY t) (not when … OVER (…))
//   arrow_cast(x, 'Int64')              → CAST(x AS BIGINT) (Arrow type names)
//   tag_values('t', 'tag')              → the tag's distinct values as (key, value) rows
//   last_cache('t'[, 'name']), distinct_cache('t'[, 'name'])
//                                       → a per-query table of the cache's rows
// Functions DataFusion has and DuckDB lacks (date_bin, ...) are macros (see engine setup).
#pragma once

#include <functional>
#include <set>
#include <string>
#include <vector>

#include "common/status.h"
#include "duck/duck.h"

namespace riffle::query {

// A last_cache(...) or distinct_cache(...) call and the temporary table that stands for it.
struct CacheCall {
  bool last = true;
  std::string table, name, temp_name;
};

struct RewrittenSql {
  std::string sql;
  bool needs_info_tables = false;
  bool needs_info_columns = false;
  std::set<std::string> system_tables;            // names without "system."
  std::set<std::string> params_used_as_tables;    // consumed; not bound as values
  std::vector<CacheCall> cache_calls;
};

// `table_param` resolves a parameter name to its string value (for FROM $p); returns false
// when there is no such string parameter.
Result<RewrittenSql> RewriteSql(const std::string& sql,
                                const std::function<bool(const std::string&, std::string*)>& table_param);

using duck::QuoteIdent;
using duck::QuoteLiteral;

constexpr const char* kInfoTablesName = "riffle_information_schema_tables";
constexpr const char* kInfoColumnsName = "riffle_information_schema_columns";
constexpr const char* kSystemPrefix = "riffle_system_";
constexpr const char* kCachePrefix = "riffle_cache_";

}  // namespace riffle::query
