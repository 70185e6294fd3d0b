// SELECT statements of InfluxQL translated to SQL (internal to the influxql component).
#pragma once

#include <string>
#include <vector>

#include "catalog/catalog.h"
#include "common/status.h"
#include "influxql/lexer.h"

namespace riffle::influxql {

// A measurement reference: [db.[rp].]name.
struct Source {
  std::string db;  // empty: the request's database
  std::string measurement;
};

// Reads a measurement reference at tokens[*pos] (advancing it).
Result<Source> ParseSource(const std::vector<Token>& tokens, size_t* pos);

struct SelectPlan {
  Source source;
  std::string sql;                      // over the measurement's table
  std::vector<std::string> group_tags;  // trailing result columns that split series
};

// Translates SELECT … (tokens of one statement) for `table`'s schema; the source is parsed
// first so that the caller can find the table (`table` is then looked up by the caller and
// may be null: no such measurement).
Result<Source> SelectSource(const std::vector<Token>& tokens);
Result<SelectPlan> TranslateSelect(const std::vector<Token>& tokens, const catalog::Table& table);

// The time range of a WHERE clause, as SQL expressions ("" when unbounded on that side).
struct TimeBounds {
  std::string lo, hi;
  bool hi_inclusive = false;
  bool usable = true;  // false when OR at the top level makes the range unclear
};
Result<TimeBounds> WhereTimeBounds(const std::vector<Token>& tokens, size_t begin, size_t end);

// SQL for an InfluxQL expression (WHERE conditions, field arithmetic).
Result<std::string> TranslateExpression(const std::vector<Token>& tokens, size_t begin, size_t end);

}  // namespace riffle::influxql
