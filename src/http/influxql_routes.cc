// InfluxQL over HTTP: /query (InfluxDB 1.x JSON) and /api/v3/query_influxql (the query_sql
// formats, with a leading iox::measurement column, as InfluxDB 3 answers it).
#include <cmath>
#include <nlohmann/json.hpp>

#include "common/clock.h"
#include "common/metrics.h"
#include "http/api.h"
#include "http/influxql_body.h"
#include "influxql/influxql.h"

namespace riffle::http {

// Keys in the order 1.x writes them (statement_id, name, tags, columns, values).
using json = nlohmann::ordered_json;

namespace {

// The SQL an InfluxQL statement was translated into is Riffle's business, not the user's: a
// DuckDB error keeps its first lines and loses the "LINE 1: <generated SQL>" context.
Status CleanError(const Status& st) {
  if (st.ok() || st.message().rfind("error parsing query", 0) == 0 ||
      st.code() != Code::kInvalidArgument)
    return st;
  std::string message = st.message();
  size_t line = message.find("\nLINE ");
  if (line != std::string::npos) message.erase(line);
  while (!message.empty() && message.back() == '\n') message.pop_back();
  return Status(st.code(), "error executing InfluxQL statement: " + message);
}

template <typename T>
Result<T> WithoutGeneratedSql(Result<T> result) {
  if (result.ok()) return result;
  return CleanError(result.status());
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

// A resource token runs the statements that read its database, nothing that creates or drops.
Status ResourceTokenMayRun(const Request& req, const std::vector<std::string>& statements,
                           const std::map<std::string, std::string>* params = nullptr) {
  if (!req.token || req.token->admin()) return Status::Ok();
  return influxql::CheckReadsOnlyItsDatabase(statements, params);
}

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
  // InfluxDB 1.x bound parameters: params={"name": value} for $name in the statements.
  std::map<std::string, std::string> bound;
  if (std::string p = param("params"); !p.empty()) {
    auto parsed = influxql::ParseBoundParams(p);
    if (!parsed.ok()) return reply(Response::Error(400, parsed.status().message()));
    bound = std::move(parsed).value();
  }
  auto state = catalog_->State();
  auto run_sql = [&](const std::string& database, const std::string& sql) {
    return WithoutGeneratedSql(engine_->Query(*state, database, sql, {}));
  };
  auto started = std::chrono::steady_clock::now();
  bool statement_failed = false;  // a statement's error sits in its result, under a 200
  // Called before this function returns, so the reference to statement_failed stays valid.
  Reply counted = [reply, started, &statement_failed](Response r) {
    bool ok = r.status == 200 && !statement_failed;
    metrics::CountQuery("influxql", ok, started);
    reply(std::move(r));
  };
  json results = json::array();
  auto statements = influxql::SplitStatements(q);
  if (statements.empty()) return counted(Response::Error(400, "error parsing query: empty query"));
  if (req.token && !req.token->admin()) {
    // A resource token reads the database it names: SELECT and SHOW on db=..., never the
    // statements that create or drop, nor SHOW DATABASES (every database's name).
    if (db.empty())
      return counted(Response::Error(403, "permission denied: a resource token must name its database (db=...)"));
    // DELETE takes db:<name>:delete; everything else must only read.
    std::vector<std::string> reads;
    for (const auto& statement : statements) {
      auto del = influxql::ParseDelete(statement, &bound);
      if (del.ok() && *del) {
        if (Status st = Permit(req, db, auth::kDelete); !st.ok())
          return counted(Response::Error(403, st.message()));
      } else {
        reads.push_back(statement);
      }
    }
    if (!reads.empty())
      if (Status st = Permit(req, db, auth::kRead); !st.ok())
        return counted(Response::Error(403, st.message()));
    if (Status st = ResourceTokenMayRun(req, reads, &bound); !st.ok())
      return counted(Response::Error(403, st.message()));
  }
  bool pretty = param("pretty") == "true";
  for (size_t i = 0; i < statements.size(); ++i) {
    json r = {{"statement_id", i}};
    // The last statement, when it is a SELECT, streams its series as they come (earlier ones
    // and SHOW statements are small, or must be whole before the next one runs).
    if (i + 1 == statements.size() && !pretty && influxql::IsSelect(statements[i])) {
      auto series = influxql::ExecuteStreaming(
          statements[i], *state, db,
          [&, cancel = CancelOnHangup(req)](const std::string& d, const std::string& sql) {
            return engine_->QueryStream(*state, d, sql, {}, cancel);
          },
          &bound);
      Status st = series.ok() ? Status::Ok() : CleanError(series.status());
      std::shared_ptr<InfluxQLV1Body> body;
      if (st.ok()) {
        std::string prefix = "{\"results\":[";
        for (const auto& earlier : results)
          prefix += earlier.dump(-1, ' ', false, json::error_handler_t::replace) + ",";
        int64_t div = *divisor;
        body = std::make_shared<InfluxQLV1Body>(
            std::move(prefix), i, std::move(series).value(),
            [div](const query::Value& v) {
              return ValueJson(v, div).dump(-1, ' ', false, json::error_handler_t::replace);
            },
            CleanError);
        st = body->Prime();
      }
      if (st.ok()) {
        Response response = Response::Json(200, "");
        response.stream = std::move(body);
        return counted(std::move(response));
      }
      if (IsParseError(st)) return counted(Response::Error(400, st.message()));
      statement_failed = true;
      r["error"] = st.message();
      results.push_back(std::move(r));
      break;
    }
    auto del = influxql::ParseDelete(statements[i], &bound);
    if (!del.ok() && IsParseError(del.status()))
      return counted(Response::Error(400, del.status().message()));
    if (del.ok() && *del) {
      if (Status st = RunInfluxQLDelete(*state, db, **del); !st.ok()) {
        statement_failed = true;
        r["error"] = st.message();
      }
      results.push_back(std::move(r));
      continue;
    }
    auto out = influxql::Execute(statements[i], *state, db, run_sql, &bound, catalog_);
    state = catalog_->State();  // a management statement changed it for the next ones
    if (!out.ok()) {
      if (IsParseError(out.status())) return counted(Response::Error(400, out.status().message()));
      statement_failed = true;
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
  json body = {{"results", std::move(results)}};
  counted(Response::Json(200, pretty ? body.dump(4) : body.dump()));
}

void Api::HandleInfluxQL(Request& req, Reply reply) {
  auto parsed = ParseQueryRequest(req);
  if (!parsed.ok()) return reply(Response::Error(400, parsed.status().message()));
  if (Status st = Permit(req, parsed->db, auth::kRead); !st.ok())
    return reply(Response::Error(HttpStatusFor(st), st.message()));
  if (Status st = ResourceTokenMayRun(req, influxql::SplitStatements(parsed->q)); !st.ok())
    return reply(Response::Error(HttpStatusFor(st), st.message()));
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
  auto started = std::chrono::steady_clock::now();
  auto series = influxql::ExecuteStreaming(
      statements[0], *state, parsed->db,
      [&, cancel = CancelOnHangup(req)](const std::string& database, const std::string& sql) {
        return engine_->QueryStream(*state, database, sql, {}, cancel);
      },
      nullptr, catalog_);
  if (!series.ok()) {
    Status st = CleanError(series.status());
    metrics::CountQuery("influxql", st.ok(), started);
    return reply(Response::Error(HttpStatusFor(st), st.message()));
  }
  auto body = std::make_shared<InfluxQLTableBody>(std::move(series).value(),
                                                  query::MakeEncoder(*format), CleanError);
  Status first = body->Prime();
  metrics::CountQuery("influxql", first.ok(), started);
  if (!first.ok()) return reply(Response::Error(HttpStatusFor(first), first.message()));
  Response response{200, query::ContentType(*format), "", {}};
  response.stream = std::move(body);
  reply(std::move(response));
}

}  // namespace riffle::http
