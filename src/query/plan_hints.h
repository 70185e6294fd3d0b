// DuckDB optimizers a statement does not need, decided on its parse tree.
//
// DuckDB runs its join-order optimizer on every statement, joins or not, and that optimizer
// first asks each relation for statistics: over Parquet files that is every row group's
// statistics of every column, decoded again for each query. On 1M TSBS rows in four files a
// statement with no join spent 7% of its CPU there (single-groupby-1-1-1, 2.6 -> 2.4 ms p50;
// high-cpu-1, 5.1 -> 4.8 ms). A statement without a join, a subquery expression or a PIVOT
// has no join order to choose, so the optimizer is skipped for it; the rewritten last-point
// statement (query/last_point.h) joins a table to its own newest times, which DuckDB's
// default order (the subquery builds the hash table) already answers best.
#pragma once

#include <nlohmann/json_fwd.hpp>
#include <string>

namespace riffle::query {

// The value of DuckDB's `disabled_optimizers` setting for `statement` (one element of
// json_serialize_sql's "statements"): "join_order" when it joins nothing, else "".
std::string OptimizersNotNeeded(const nlohmann::json& statement);

}  // namespace riffle::query
