// InfluxQL statements that change the catalog (internal to the influxql component).
#pragma once

#include <vector>

#include "catalog/catalog.h"
#include "influxql/expression.h"
#include "influxql/influxql.h"
#include "influxql/lexer.h"

namespace riffle::influxql {

bool IsManagement(const std::vector<Token>& tokens);
// `catalog` null: only SHOW USERS|GRANTS are answered.
Result<StatementResult> RunManagement(const std::vector<Token>& tokens,
                                      const std::string& request_db, catalog::Catalog* catalog);

}  // namespace riffle::influxql
