// The time range a statement reads each table in, from its WHERE clauses, so that a query
// over a table of thousands of Parquet files opens only those whose rows can match.
//
// DuckDB opens every file a view lists to bind a statement (read_parquet with union_by_name)
// and again to scan it, at about 0.1 ms a file, before its own statistics skip anything. The
// engine narrows a table's file list (Buffer::FileVariableSql) to the files whose time range
// meets the bounds found here. Only what is certain narrows anything:
//   - the table is referenced exactly once in the whole statement, as the only table in the
//     FROM clause of a SELECT (no join, no column aliases), so the bounds filter every row read
//     from it;
//   - a bound is a conjunct at the top of that SELECT's WHERE: `time` (or `t.time`) compared
//     with <, <=, >, >=, = or BETWEEN to an expression of literals, parameters, casts and a
//     short list of date/time functions (now(), date_trunc, to_timestamp, ...);
//   - DuckDB evaluates those expressions (EvalSql), and a value whose type is not a timestamp,
//     a date or a string counts as no bound.
// Everything else (OR, functions of `time`, subqueries) leaves the table's list whole.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <vector>

#include "buffer/persisted.h"
#include "common/status.h"
#include "duck/connection.h"
#include "duck/value.h"

namespace riffle::query {

struct TimeBound {
  std::string table;            // lower-cased, as the statement names it
  bool lower = false;           // time >= value (else time <= value)
  bool volatile_value = false;  // depends on the clock (now()): evaluated again per query
};

// What one statement's WHERE clauses bound, and the SELECT that evaluates the bounds.
struct StatementTimeBounds {
  std::vector<TimeBound> bounds;
  // The parse tree of `SELECT typeof(e1), epoch_ns(TRY_CAST(e1 AS TIMESTAMP_NS)),
  // epoch_ns(TRY_CAST(e1 AS TIMESTAMPTZ)), ...`, three columns per bound, with the statement's
  // parameters; empty when there are no bounds.
  std::string eval_tree_json;
  std::string eval_sql;  // its text (AnalyzeTimeBounds)
  // The ranges, when no bound depends on the clock or a parameter: evaluated once, at analysis
  // (a query with literal bounds then pays no second DuckDB bind per run, about 0.4 ms).
  std::optional<std::map<std::string, buffer::TimeRange>> constant_ranges;
};

// The bounds in `statement` (one element of json_serialize_sql's "statements").
StatementTimeBounds FindTimeBounds(const nlohmann::json& statement);

// Whether a condition of a WHERE clause (its parse tree; one conjunct) keeps exactly the rows
// at or after one moment: `time > v` or `time >= v` (or `v < time`, `v <= time`), v an
// expression of the kind a bound may be (the same for every row). Every row of a series it
// keeps is then newer than every row it leaves out. `qualifier` is the table's name in the
// statement, lower-cased.
bool IsLowerTimeBound(const nlohmann::json& where, const std::string& qualifier);

// The bounds of user SQL `sql` with their eval_sql, parsed on `conn` (nothing of the statement
// is bound or read; constant bounds are evaluated); none when DuckDB cannot parse it or it is
// not one statement.
StatementTimeBounds AnalyzeTimeBounds(duck::Connection& conn, const std::string& sql);

// Each bounded table's range, evaluated on `conn` with the statement's parameters bound by
// `bind`. An evaluation that fails (a parameter of another type, a value DuckDB cannot cast)
// bounds nothing: the statement itself then reports what is wrong.
std::map<std::string, buffer::TimeRange> EvaluateTimeBounds(
    duck::Connection& conn, const StatementTimeBounds& bounds,
    const std::function<Status(duck::Statement&)>& bind);

// Each bounded table's range (inclusive, nanoseconds since the epoch) from the row eval_sql
// produced (three cells per bound), widened so
// that rounding (a TIMESTAMPTZ holds microseconds) and the moments between evaluating now()
// here and in the statement never leave out a matching row.
std::map<std::string, buffer::TimeRange> RangesFromEvaluation(const StatementTimeBounds& bounds,
                                                              const std::vector<duck::Value>& row);

}  // namespace riffle::query
