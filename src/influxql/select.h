// SELECT statements of InfluxQL translated to SQL (internal to the influxql component).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "catalog/catalog.h"
#include "common/status.h"
#include "influxql/expression.h"
#include "influxql/influxql.h"
#include "influxql/lexer.h"

namespace riffle::influxql {

// GROUP BY time() buckets without a point, filled while the rows stream out (FilledStream)
// instead of by SQL: the SQL gives the buckets with points, ascending per series, each row
// followed by the first bucket (bounds_lo), the end (bounds_hi, excluded) and, for
// fill(<number>), one column per output holding the fill value in the output's type.
struct FillPlan {
  enum class Kind { kNull, kNumber, kPrevious } kind = Kind::kNull;
  int64_t bucket_ns = 0;
  size_t outputs = 0;       // columns after "time" that are the query's fields
  int64_t max_span_us = 0;  // past this span only the buckets with points are listed
};

struct SelectPlan {
  Source source;
  std::string sql;                      // over the measurement's table
  std::vector<std::string> group_tags;  // trailing result columns that split series
  std::optional<FillPlan> fill;         // set only when TranslateSelect was asked to
};

// Translates SELECT … (tokens of one statement) for `table`'s schema; the source is parsed
// first so that the caller can find the table (`table` is then looked up by the caller and
// may be null: no such measurement).
Result<Source> SelectSource(const std::vector<Token>& tokens);
// With `fill_in_stream`, a GROUP BY time() query without LIMIT, OFFSET or ORDER BY time DESC
// leaves its empty buckets to FilledStream (SelectPlan::fill), else the SQL fills them.
Result<SelectPlan> TranslateSelect(const std::vector<Token>& tokens, const catalog::Table& table,
                                   bool fill_in_stream = false);

// A SELECT's database, table (null: no such measurement, no series) and SQL.
struct PlannedSelect {
  std::string db;
  const catalog::Table* table = nullptr;
  SelectPlan plan;
};
// Execute() on a statement already lexed (bound parameters applied).
Result<StatementResult> ExecuteTokens(const std::vector<Token>& tokens,
                                      const catalog::CatalogState& state, const std::string& db,
                                      const SqlRunner& run_sql, catalog::Catalog* catalog);

Result<PlannedSelect> PlanSelect(const std::vector<Token>& tokens,
                                 const catalog::CatalogState& state, const std::string& request_db,
                                 bool fill_in_stream = false);

// The GROUP BY tag values of a result row, from its columns `first` on (a NULL tag is "").
std::vector<std::pair<std::string, std::string>> SeriesTagsAt(
    const query::Batch& batch, size_t row, size_t first,
    const std::vector<std::string>& group_tags);

// The series of a SELECT planned with SelectPlan::fill, empty buckets filled.
std::unique_ptr<SeriesStream> FilledStream(std::unique_ptr<query::ResultStream> rows,
                                           std::string name, std::vector<std::string> group_tags,
                                           const FillPlan& fill);

}  // namespace riffle::influxql
