// Row deletes over HTTP: InfluxDB 3 Enterprise's /api/v3/row_delete_requests, InfluxDB 2's
// POST /api/v2/delete, and InfluxQL's DELETE (run from /query). Each answers once the rows are
// gone from the buffer and from the Parquet files (see rowdelete/row_deleter.h).
#include <nlohmann/json.hpp>

#include "http/api.h"
#include "http/json_body.h"

namespace riffle::http {

using nlohmann::json;

namespace {

Response Failed(const Status& st) { return Response::Error(HttpStatusFor(st), st.message()); }

// InfluxDB 2's error body, as its client libraries read it.
Response V2Error(const Status& st) {
  int status = HttpStatusFor(st);
  const char* code = status == 400   ? "invalid"
                     : status == 401 ? "unauthorized"
                     : status == 403 ? "forbidden"
                     : status == 404 ? "not found"
                                     : "internal error";
  return Response::Json(status, json({{"code", code}, {"message", st.message()}}).dump());
}

// A time field of a JSON body: integer nanoseconds or an RFC 3339 string.
Result<std::optional<int64_t>> TimeField(const json& body, const char* key) {
  if (!body.contains(key) || body[key].is_null()) return std::optional<int64_t>();
  const json& v = body[key];
  if (v.is_number_integer()) return std::optional<int64_t>(v.get<int64_t>());
  if (v.is_string()) {
    auto t = rowdelete::ParseTime(v.get<std::string>());
    if (!t.ok())
      return Status::InvalidArgument(std::string("'") + key + "': " + t.status().message());
    return std::optional<int64_t>(*t);
  }
  return Status::InvalidArgument(std::string("'") + key +
                                 "' must be integer nanoseconds or an RFC 3339 string");
}

std::string StringField(const json& body, const char* key) {
  return body.contains(key) && body[key].is_string() ? body[key].get<std::string>() : "";
}

// The answer to a delete: 200 with the records when they completed; 500 naming the failure
// when removing the rows from Parquet files failed (the server retries it).
Response DeleteAnswer(const std::vector<persist::RowDeleteRecord>& records,
                      const catalog::CatalogState& state, bool single) {
  json out = json::array();
  std::string failure;
  for (const auto& r : records) {
    out.push_back(rowdelete::RowDeleter::ToJson(r, state));
    if (!r.completed)
      failure = "row delete " + std::to_string(r.request.sequence) +
                " removed the rows from memory, but not yet from the Parquet files (" +
                (r.error.empty() ? "still working" : r.error) + "); the server retries it";
  }
  if (!failure.empty())
    return Response::Json(500, json({{"error", failure}, {"requests", out}}).dump());
  if (single && out.size() == 1) return Response::Json(200, out[0].dump());
  return Response::Json(200, out.dump());
}

}  // namespace

void Api::HandleRowDeleteRequests(Request& req, Reply reply) {
  if (!row_deleter_)
    return reply(Response::Error(501, "row deletes are not available on this server"));
  const std::string base = "/api/v3/row_delete_requests";
  const std::string& m = req.method;
  if (req.path == base && m == "GET") {
    const std::string* db = req.Param("db");
    if (req.token && !req.token->admin()) {
      if (!db)
        return reply(Response::Error(
            403, "permission denied: a resource token must name its database (db=...)"));
      if (Status st = Permit(req, *db, auth::kRead); !st.ok()) return reply(Failed(st));
    }
    const std::string* table = req.Param("table");
    const std::string* disposition = req.Param("disposition");
    uint64_t min_seq = 0, max_seq = UINT64_MAX;
    for (auto [name, target] :
         {std::pair{"min_sequence", &min_seq}, std::pair{"max_sequence", &max_seq}}) {
      if (const std::string* v = req.Param(name)) {
        char* end = nullptr;
        *target = std::strtoull(v->c_str(), &end, 10);
        if (v->empty() || *end != '\0')
          return reply(Response::Error(
              400, std::string("'") + name + "' must be a whole number, not '" + *v + "'"));
      }
    }
    auto state = catalog_->State();
    json out = json::array();
    for (const auto& r : row_deleter_->List()) {
      json j = rowdelete::RowDeleter::ToJson(r, *state);
      if ((db && r.db_name != *db) || (table && r.request.table_name != *table) ||
          (disposition && j["disposition"] != *disposition) || r.request.sequence < min_seq ||
          r.request.sequence > max_seq)
        continue;
      out.push_back(std::move(j));
    }
    return reply(Response::Json(200, out.dump()));
  }
  if (req.path == base && m == "POST") {
    auto body = ParseJsonBody(req);
    if (!body.ok()) return reply(Failed(body.status()));
    const json& j = (*body)->value;
    rowdelete::DeleteSpec spec;
    spec.db = StringField(j, "db");
    spec.table = StringField(j, "table");
    if (spec.db.empty() || spec.table.empty())
      return reply(Response::Error(400, "expected 'db' and 'table' in the JSON body"));
    if (Status st = Permit(req, spec.db, auth::kDelete); !st.ok()) return reply(Failed(st));
    auto min_time = TimeField(j, "min_time");
    auto max_time = TimeField(j, "max_time");
    if (!min_time.ok()) return reply(Failed(min_time.status()));
    if (!max_time.ok()) return reply(Failed(max_time.status()));
    bool all_time =
        j.contains("all_time") && j["all_time"].is_boolean() && j["all_time"].get<bool>();
    // As InfluxDB 3 Enterprise: an explicit time scope, so that a forgotten flag cannot empty a
    // table.
    if (all_time && (*min_time || *max_time))
      return reply(
          Response::Error(400, "'all_time' cannot be combined with 'min_time' or 'max_time'"));
    if (!all_time && !*min_time && !*max_time)
      return reply(Response::Error(
          400,
          "a delete needs an explicit time scope: 'min_time' (inclusive) and/or 'max_time' "
          "(exclusive), or \"all_time\": true"));
    if (*min_time) spec.min_time = **min_time;
    if (*max_time) {
      if (**max_time == INT64_MIN)
        return reply(Response::Error(400, "'max_time' is before every time"));
      spec.max_time = **max_time - 1;  // exclusive
    }
    spec.predicate = StringField(j, "predicate");
    auto tags = rowdelete::ParsePredicate(spec.predicate);
    if (!tags.ok()) return reply(Failed(tags.status()));
    spec.tags = std::move(tags).value();
    auto records = row_deleter_->Delete(spec);
    if (!records.ok()) return reply(Failed(records.status()));
    return reply(DeleteAnswer(*records, *catalog_->State(), true));
  }
  // POST /api/v3/row_delete_requests/{seq}/abort
  std::string rest = req.path.size() > base.size() ? req.path.substr(base.size() + 1) : "";
  size_t slash = rest.find('/');
  if (m == "POST" && slash != std::string::npos && rest.substr(slash) == "/abort") {
    std::string seq_text = rest.substr(0, slash);
    char* end = nullptr;
    uint64_t seq = std::strtoull(seq_text.c_str(), &end, 10);
    if (seq_text.empty() || *end != '\0')
      return reply(Response::Error(
          400, "expected /api/v3/row_delete_requests/<sequence>/abort, not '" + seq_text + "'"));
    for (const auto& r : row_deleter_->List()) {
      if (r.request.sequence != seq) continue;
      if (Status st = Permit(req, r.db_name, auth::kDelete); !st.ok()) return reply(Failed(st));
      return reply(Response::Error(
          409, "row delete request " + seq_text + " is " +
                   (r.completed ? "completed" : "being applied") +
                   " and cannot be aborted: Riffle applies a delete when it is requested, not at a "
                   "later compaction"));
    }
    return reply(Response::Error(404, "no row delete request " + seq_text));
  }
  reply(NotFound(m, req.path));
}

void Api::HandleV2Delete(Request& req, Reply reply) {
  if (!row_deleter_)
    return reply(V2Error(Status::Unimplemented("row deletes are not available on this server")));
  const std::string* bucket = req.Param("bucket");
  if (!bucket) bucket = req.Param("bucketID");
  if (!bucket || bucket->empty())
    return reply(V2Error(
        Status::InvalidArgument("missing query parameter 'bucket': the database to delete from")));
  if (Status st = Permit(req, *bucket, auth::kDelete); !st.ok()) return reply(V2Error(st));
  auto body = ParseJsonBody(req);
  if (!body.ok()) return reply(V2Error(body.status()));
  const json& j = (*body)->value;
  auto start = TimeField(j, "start");
  auto stop = TimeField(j, "stop");
  if (!start.ok()) return reply(V2Error(start.status()));
  if (!stop.ok()) return reply(V2Error(stop.status()));
  if (!*start || !*stop)
    return reply(V2Error(
        Status::InvalidArgument("expected 'start' and 'stop' (RFC 3339) in the JSON body")));
  rowdelete::DeleteSpec spec;
  spec.db = *bucket;
  spec.min_time = **start;  // InfluxDB 2: both ends inclusive
  spec.max_time = **stop;
  spec.predicate = StringField(j, "predicate");
  auto tags = rowdelete::ParsePredicate(spec.predicate, &spec.table);
  if (!tags.ok()) return reply(V2Error(tags.status()));
  spec.tags = std::move(tags).value();
  auto records = row_deleter_->Delete(spec);
  if (!records.ok()) return reply(V2Error(records.status()));
  Response answer = DeleteAnswer(*records, *catalog_->State(), false);
  if (answer.status != 200) return reply(std::move(answer));
  reply(Response::Empty(204));
}

Status Api::RunInfluxQLDelete(const catalog::CatalogState& state, const std::string& db,
                              const influxql::DeleteStatement& statement) {
  if (!row_deleter_)
    return Status::Unimplemented("InfluxQL: DELETE is not available on this server");
  if (db.empty()) return Status::InvalidArgument("database name required: pass db=…");
  rowdelete::DeleteSpec spec;
  spec.db = db;
  spec.table = statement.measurement;
  spec.tags = statement.tags;
  spec.predicate = statement.where_text;
  // Each time bound is an SQL timestamp expression (now() - 1h, a string, nanoseconds).
  for (const auto& [op, expr] : statement.time_conditions) {
    auto value =
        engine_->Query(state, db, "SELECT epoch_ns(CAST((" + expr + ") AS TIMESTAMP_NS))", {});
    if (!value.ok())
      return Status::InvalidArgument("InfluxQL: DELETE's time condition: " +
                                     value.status().message());
    if (value->rows.size() != 1 || value->rows[0].size() != 1 ||
        !std::holds_alternative<int64_t>(value->rows[0][0]))
      return Status::InvalidArgument("InfluxQL: DELETE's time condition is not a time");
    int64_t t = std::get<int64_t>(value->rows[0][0]);
    if (op == ">" || op == ">=" || op == "=")
      spec.min_time = std::max(spec.min_time, op == ">" ? t + 1 : t);
    if (op == "<" || op == "<=" || op == "=")
      spec.max_time = std::min(spec.max_time, op == "<" ? t - 1 : t);
  }
  auto records = row_deleter_->Delete(spec);
  if (!records.ok()) return records.status();
  for (const auto& r : *records)
    if (!r.completed)
      return Status::Internal(
          "row delete " + std::to_string(r.request.sequence) +
          " removed the rows from memory, but not yet from the Parquet files: " + r.error);
  return Status::Ok();
}

}  // namespace riffle::http
