// InfluxQL, the query language of InfluxDB 1.x that InfluxDB 3 still serves on /query and
// /api/v3/query_influxql. Riffle translates the commonly used subset into SQL over the same
// tables and shapes the results as InfluxQL does:
//   SHOW DATABASES | MEASUREMENTS | FIELD KEYS [FROM m] | TAG KEYS [FROM m] |
//        TAG VALUES [FROM m] WITH KEY = "k" | KEY IN ("a", ...) | RETENTION POLICIES
//   SELECT <fields, *, aggregates> FROM [db.rp.]m [WHERE …] [GROUP BY time(d), tags | *]
//          [fill(null|none|previous|<number>)] [ORDER BY time [ASC|DESC]] [LIMIT n] [OFFSET n]
// Aggregates: count, mean, median, mode, sum, min, max, first, last, spread, stddev,
// percentile; `*` in them expands to every field; derivative, non_negative_derivative,
// difference and non_negative_difference of a field or aggregate. Anything else is a clear error
// naming it.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "catalog/catalog.h"
#include "common/status.h"
#include "query/query.h"

namespace riffle::influxql {

// Splits a request into statements at top-level semicolons.
std::vector<std::string> SplitStatements(const std::string& text);

struct Series {
  std::string name;                                       // the measurement (or "databases", …)
  std::vector<std::pair<std::string, std::string>> tags;  // GROUP BY tag values
  std::vector<std::string> columns;                       // "time" first where there is a time
  std::vector<std::vector<query::Value>> values;
};

struct StatementResult {
  std::vector<Series> series;
};

// Runs one statement against database `db` (which may be overridden by a qualified
// measurement, db.rp.m). `run_sql(db, sql)` executes generated SQL.
using SqlRunner =
    std::function<Result<query::QueryResult>(const std::string& db, const std::string& sql)>;
// `params`: the request's bound parameters ($name), if any. `catalog`: where management
// statements (CREATE|DROP DATABASE, DROP MEASUREMENT, CREATE|ALTER|DROP RETENTION POLICY) act;
// null refuses them.
Result<StatementResult> Execute(const std::string& statement, const catalog::CatalogState& state,
                                const std::string& db, const SqlRunner& run_sql,
                                const std::map<std::string, std::string>* params = nullptr,
                                catalog::Catalog* catalog = nullptr);

// Whether a statement is a SELECT (its rows can stream).
bool IsSelect(const std::string& statement);
// Ok when every statement only reads the database it runs for — SELECT (not SELECT INTO) and
// SHOW (not SHOW DATABASES, every database's name) — which is all a resource token with
// db:<name>:read may run; otherwise Forbidden naming the first statement that does more.
// `params`: the request's bound parameters ($name), if it has any.
Status CheckReadsOnlyItsDatabase(const std::vector<std::string>& statements,
                                 const std::map<std::string, std::string>* params = nullptr);

// DELETE [FROM <measurement>] [WHERE <conditions>] (InfluxDB 1.x; one of FROM and WHERE is
// required): the conditions are tag = 'value' and time comparisons joined by AND. The server
// evaluates each time expression (now() - 1h, '2024-01-01T00:00:00Z', nanoseconds) and deletes
// through its row deleter.
struct DeleteStatement {
  std::string measurement;  // empty: every measurement of the database
  std::vector<std::pair<std::string, std::string>> tags;
  std::vector<std::pair<std::string, std::string>> time_conditions;  // (operator, SQL timestamp)
  std::string where_text;                                            // the conditions as written
};
// nullopt when `statement` is not a DELETE; an error names what is not supported in one.
Result<std::optional<DeleteStatement>> ParseDelete(
    const std::string& statement, const std::map<std::string, std::string>* params = nullptr);

// The 1.x `params` JSON object ({"name": "text" | number | bool}) as bound parameters.
Result<std::map<std::string, std::string>> ParseBoundParams(const std::string& json_text);

// A statement's series as they come: a SELECT's rows are read from the query engine's stream
// batch by batch (SHOW statements are small and computed whole).
class SeriesStream {
 public:
  virtual ~SeriesStream() = default;
  // The next rows: `*piece` gets their series (name, tags, columns) and values; `*continues`
  // says that they extend the series of the previous call. False at the end.
  virtual Result<bool> Next(Series* piece, bool* continues) = 0;
};
using SqlStreamer = std::function<Result<std::unique_ptr<query::ResultStream>>(const std::string& db,
                                                                                const std::string& sql)>;
Result<std::unique_ptr<SeriesStream>> ExecuteStreaming(const std::string& statement,
                                                       const catalog::CatalogState& state, const std::string& db,
                                                       const SqlStreamer& stream_sql,
                                                       const std::map<std::string, std::string>* params = nullptr,
                                                       catalog::Catalog* catalog = nullptr);

}  // namespace riffle::influxql
