// Pieces of InfluxQL shared by statements: measurement references, expressions (WHERE,
// field arithmetic) and the time range a WHERE clause bounds (internal to the component).
#pragma once

#include <set>
#include <string>
#include <utility>
#include <vector>

#include "common/status.h"
#include "influxql/lexer.h"

namespace riffle::influxql {

Status ParseError(const std::string& what);  // "error parsing query: <what>"
bool IsName(const Token& t);                 // an identifier, bare or "quoted"
bool IsComparison(const Token& t);
std::string IntervalSql(int64_t ns);  // INTERVAL '<µs> microseconds'
// Index of the ')' matching the '(' at `open`, or `end` when unbalanced.
size_t MatchingParen(const std::vector<Token>& tokens, size_t open, size_t end);
// [begin, end) split at top-level commas.
std::vector<std::pair<size_t, size_t>> SplitCommas(const std::vector<Token>& tokens, size_t begin,
                                                   size_t end);

// A measurement reference: [db.[rp].]name.
struct Source {
  std::string db;  // empty: the request's database
  std::string measurement;
};
// Reads a measurement reference at tokens[*pos] (advancing it).
Result<Source> ParseSource(const std::vector<Token>& tokens, size_t* pos);

// SQL for an InfluxQL expression (WHERE conditions, field arithmetic). With `columns`, names
// the measurement lacks read as NULL.
// A WHERE condition (tokens [begin, end)) that does not parse as InfluxQL is an error naming
// what was found and what was expected.
Status CheckCondition(const std::vector<Token>& tokens, size_t begin, size_t end);
Result<std::string> TranslateExpression(const std::vector<Token>& tokens, size_t begin, size_t end,
                                        const std::set<std::string>* columns = nullptr);

// The time range of a WHERE clause, as SQL expressions ("" when unbounded on that side).
struct TimeBounds {
  std::string lo, hi;
  bool hi_inclusive = false;
  bool usable = true;  // false when OR at the top level makes the range unclear
};
Result<TimeBounds> WhereTimeBounds(const std::vector<Token>& tokens, size_t begin, size_t end);

}  // namespace riffle::influxql
