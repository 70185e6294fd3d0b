// The newest row of each series, as SQL users ask for it:
//
//   SELECT DISTINCT ON (room) * FROM home [WHERE ...] ORDER BY room, time DESC [LIMIT n]
//
// DuckDB 1.4 plans DISTINCT ON as a hash aggregate whose every output column is an arg_min
// over a sort key of `time`, computed again for each column of each row: over 1M rows of
// TSBS's cpu table (21 columns) that is 210 ms, where influxdb 1.x answers its last point per
// series in 30-110 ms. The same statement runs over a subquery that keeps only the rows at
// their key's newest time (max(time) per key, then a semi join on key and time), and its
// DISTINCT ON then sorts a few rows: 20 ms.
//
// The result is the same by construction: the first row of each key in ORDER BY keys, time
// DESC is a row at that key's newest time, and every such row is kept (ties are broken by the
// statement exactly as before). Only what is certain is rewritten:
//   - one SELECT over one table of the database (no alias of its columns, no sample, no CTE),
//     with no GROUP BY, HAVING, QUALIFY, window function or subquery;
//   - DISTINCT ON plain columns of that table, and ORDER BY those columns (in any order and
//     direction) followed by `time DESC`, then anything;
//   - a select list of *, columns and columns cast or renamed, where no name given shadows a
//     key or `time`.
// The WHERE clause moves into the subquery, where both of its reads of the table apply it.
#pragma once

#include <functional>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "duck/connection.h"

namespace riffle::query {

// What the rewritten statement reads: its table and keys, and what its WHERE clause lets a bound
// on every key's newest time (buffer/newest_times.h) narrow. No WHERE, lower bounds on time
// (IsLowerTimeBound in query/time_bounds.h) and conditions on a row's own columns do; anything
// else makes it `filtered`.
struct LastPointShape {
  std::string table;  // lower-cased
  std::vector<std::string> keys;  // the key columns, lower-cased, sorted
  // A WHERE clause no bound covers (it may keep an older row than a key's newest, or differ
  // between runs).
  bool filtered = false;
  // Otherwise the bound is found by `finding_sql` (rows found, min over the keys of max(time)).
  // The conditions of the WHERE beyond lower bounds on time, when it has some, each decide a row
  // from its own columns (`filter_columns`, lower-cased): the bound is then one of the rows they
  // keep, found with them and known by `filter` (their parse tree without text positions). A
  // bound applies only where those columns are tags: a repeated point can change a field, never
  // a tag.
  std::set<std::string> filter_columns;
  std::string filter;
  std::string finding_sql;
  std::string finding_tree;  // LastPointTree's, before LastPointSql writes it as finding_sql
};

// The parse tree of the rewritten statement, or nothing when `statement` (one element of
// json_serialize_sql's "statements") is not of that shape. `is_table` says whether a name in
// FROM is a table of the database (lower-cased). `subquery_tree` parses SQL text to its
// statement's tree (json_serialize_sql on a connection). `shape`, when given, is set.
std::optional<nlohmann::json> LastPointTree(
    const nlohmann::json& statement, const std::function<bool(const std::string&)>& is_table,
    const std::function<std::optional<nlohmann::json>(const std::string&)>& parse,
    LastPointShape* shape = nullptr);

struct LastPoint {
  std::string sql;
  LastPointShape shape;
};

// `sql` rewritten as above, parsed and written back on `conn` (nothing is bound or read), or
// nothing when it is not of that shape.
std::optional<LastPoint> LastPointSql(duck::Connection& conn, const std::string& sql,
                                      const std::function<bool(const std::string&)>& is_table);

}  // namespace riffle::query
