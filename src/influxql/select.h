// SELECT statements of InfluxQL translated to SQL (internal to the influxql component).
#pragma once

#include <string>
#include <vector>

#include "catalog/catalog.h"
#include "common/status.h"
#include "influxql/expression.h"
#include "influxql/influxql.h"
#include "influxql/lexer.h"

namespace riffle::influxql {

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
                                 const catalog::CatalogState& state, const std::string& request_db);

}  // namespace riffle::influxql
