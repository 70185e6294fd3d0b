// InfluxQL over HTTP: /query (InfluxDB 1.x JSON) and /api/v3/query_influxql (the query_sql
// formats, with a leading iox::measurement column, as InfluxDB 3 answers it).
#include <cmath>
#include <nlohmann/json.hpp>

#include "common/clock.h"
#include "http/api.h"
#include "influxql/influxql.h"

namespace riffle::http {

// Keys in the order 1.x writes them (statement_id, name, tags, columns, values).
using json = nlohmann::ordered_json;

namespace {

// The SQL an InfluxQL statement was translated into is Riffle's business, not the user's: a
// DuckDB error keeps its first lines and loses the "LINE 1: <generated SQL>" context.
Result<query::QueryResult> WithoutGeneratedSql(Result<query::QueryResult> result) {
  if (result.ok()) return result;
  std::string message = result.status().message();
  size_t line = message.find("\nLINE ");
  if (line != std::string::npos) message.erase(line);
  while (!message.empty() && message.back() == '\n') message.pop_back();
  return Status(result.status().code(), "error executing InfluxQL statement: " + message);
}

// 1.x clients read times as RFC 3339 with a zone, or as integers in the `epoch` unit.
json TimeJson(int64_t ns, int64_t epoch_divisor) {
  if (epoch_divisor > 0) return ns / epoch_divisor;
  return FormatTimestampNanos(ns) + "Z";
}

json ValueJson(const query::Value& v, int64_t epoch_divisor) {
  if (std::holds_alternative<std::monostate>(v)) return nullptr;
  if (auto* b = std::get_if<bool>(&v)) return *b;
  if (auto* i = std::get_if<int64_t>(&v)) return *i;
  if (auto* u = std::get_if<uint64_t>(&v)) return *u;
  if (auto* d = std::get_if<double>(&v)) return std::isfinite(*d) ? json(*d) : json(nullptr);
  if (auto* s = std::get_if<std::string>(&v)) return *s;
  return TimeJson(std::get<query::Timestamp>(v).ns, epoch_divisor);
}

Result<int64_t> EpochDivisor(const std::string& epoch) {
  if (epoch.empty()) return int64_t{0};
  if (epoch == "ns" || epoch == "n") return int64_t{1};
  if (epoch == "u" || epoch == "\xc2\xb5") return int64_t{1'000};
  if (epoch == "ms") return int64_t{1'000'000};
  if (epoch == "s") return int64_t{1'000'000'000};
  if (epoch == "m") return int64_t{60'000'000'000};
  if (epoch == "h") return int64_t{3'600'000'000'000};
  return Status::InvalidArgument("invalid epoch '" + epoch + "': expected ns, u, µ, ms, s, m or h");
}

bool IsParseError(const Status& st) { return st.message().rfind("error parsing query", 0) == 0; }

}  // namespace

void Api::HandleQueryV1(Request& req, Reply reply) {
  // Parameters come in the query string, and for POST also as a form body.
  std::vector<std::pair<std::string, std::string>> params = req.query;
  if (req.method == "POST" &&
      req.Header("content-type").find("application/x-www-form-urlencoded") != std::string::npos) {
    auto form = ParseQueryString(req.body);
    params.insert(params.end(), form.begin(), form.end());
  }
  auto param = [&](const char* name) {
    std::string value;
    for (const auto& [k, v] : params)
      if (k == name) value = v;
    return value;
  };
  std::string q = param("q"), db = param("db");
  if (q.empty()) return reply(Response::Error(400, "missing required parameter \"q\""));
  auto divisor = EpochDivisor(param("epoch"));
  if (!divisor.ok()) return reply(Response::Error(400, divisor.status().message()));
  auto state = catalog_->State();
  auto run_sql = [&](const std::string& database, const std::string& sql) {
    return WithoutGeneratedSql(engine_->Query(*state, database, sql, {}));
  };
  json results = json::array();
  auto statements = influxql::SplitStatements(q);
  if (statements.empty()) return reply(Response::Error(400, "error parsing query: empty query"));
  for (size_t i = 0; i < statements.size(); ++i) {
    json r = {{"statement_id", i}};
    auto out = influxql::Execute(statements[i], *state, db, run_sql);
    if (!out.ok()) {
      if (IsParseError(out.status())) return reply(Response::Error(400, out.status().message()));
      r["error"] = out.status().message();
      results.push_back(std::move(r));
      continue;
    }
    if (!out->series.empty()) {
      json series = json::array();
      for (const auto& s : out->series) {
        json js;
        if (!s.name.empty()) js["name"] = s.name;
        if (!s.tags.empty()) {
          js["tags"] = json::object();
          for (const auto& [k, v] : s.tags) js["tags"][k] = v;
        }
        js["columns"] = s.columns;
        json values = json::array();
        for (const auto& row : s.values) {
          json jr = json::array();
          for (const auto& v : row) jr.push_back(ValueJson(v, *divisor));
          values.push_back(std::move(jr));
        }
        js["values"] = std::move(values);
        series.push_back(std::move(js));
      }
      r["series"] = std::move(series);
    }
    results.push_back(std::move(r));
  }
  std::string pretty = param("pretty");
  json body = {{"results", std::move(results)}};
  reply(Response::Json(200, pretty == "true" ? body.dump(4) : body.dump()));
}

void Api::HandleInfluxQL(Request& req, Reply reply) {
  auto parsed = ParseQueryRequest(req);
  if (!parsed.ok()) return reply(Response::Error(400, parsed.status().message()));
  auto format = query::ParseFormat(parsed->format);
  if (!format.ok()) return reply(Response::Error(400, format.status().message()));
  if (*format == query::Format::kParquet)
    return reply(
        Response::Error(400, "InfluxQL results come as json, jsonl, csv or pretty, not parquet"));
  auto state = catalog_->State();
  if (!state->FindDatabase(parsed->db))
    return reply(Response::Error(404, "query error: database not found: " + parsed->db));
  auto statements = influxql::SplitStatements(parsed->q);
  if (statements.size() != 1)
    return reply(Response::Error(400, "InfluxQL: expected exactly one statement, found " +
                                          std::to_string(statements.size())));
  auto out = influxql::Execute(
      statements[0], *state, parsed->db, [&](const std::string& database, const std::string& sql) {
        return WithoutGeneratedSql(engine_->Query(*state, database, sql, {}));
      });
  if (!out.ok()) return reply(Response::Error(HttpStatusFor(out.status()), out.status().message()));
  query::QueryResult table;
  table.column_names = {"iox::measurement"};
  if (!out->series.empty()) {
    for (const auto& [k, v] : out->series[0].tags) table.column_names.push_back(k);
    for (const auto& c : out->series[0].columns) table.column_names.push_back(c);
  }
  for (const auto& s : out->series)
    for (const auto& row : s.values) {
      std::vector<query::Value> r = {s.name};
      for (const auto& [k, v] : s.tags) r.emplace_back(v);
      r.insert(r.end(), row.begin(), row.end());
      table.rows.push_back(std::move(r));
    }
  reply(Response{200, query::ContentType(*format), query::Render(table, *format), {}});
}

}  // namespace riffle::http
