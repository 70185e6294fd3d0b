// /api/v3/configure/database and /api/v3/configure/table.
#include <nlohmann/json.hpp>

#include "http/api.h"
#include "http/json_body.h"
#include "schedule/schedule.h"

namespace riffle::http {

using nlohmann::json;

namespace {

Response FromStatus(const Status& st, int ok_status = 200) {
  if (st.ok()) return Response::Empty(ok_status);
  return Response::Error(HttpStatusFor(st), st.message());
}

Result<std::optional<int64_t>> RetentionFrom(const json& body) {
  if (!body.contains("retention_period") || body["retention_period"].is_null()) return std::optional<int64_t>{};
  if (!body["retention_period"].is_string())
    return Status::InvalidArgument("'retention_period' must be a duration string such as \"30d\"");
  auto d = schedule::ParseHumanDuration(body["retention_period"].get<std::string>());
  if (!d.ok()) return Status::InvalidArgument("invalid retention_period: " + d.status().message());
  return std::optional<int64_t>(d->count());
}

// hard_delete_at: now, never, default or an RFC 3339 time. Riffle removes a deleted database's or
// table's files at once whatever it says (see REFERENCE.md), so it is only checked.
Status CheckHardDeleteAt(const Request& req) {
  const std::string* at = req.Param("hard_delete_at");
  if (!at || *at == "now" || *at == "never" || *at == "default") return Status::Ok();
  auto t = rowdelete::ParseTime(*at);
  if (!t.ok())
    return Status::InvalidArgument("invalid hard_delete_at '" + *at +
                                   "': expected now, never, default or an RFC 3339 time");
  return Status::Ok();
}

}  // namespace

Status Api::DeleteDataOnly(const std::string& db, const std::string& table) {
  if (!row_deleter_)
    return Status::Unimplemented("deleting only the data is not available on this server");
  rowdelete::DeleteSpec spec;
  spec.db = db;
  spec.table = table;
  auto records = row_deleter_->Delete(spec);
  if (!records.ok()) return records.status();
  for (const auto& r : *records)
    if (!r.completed)
      return Status::Internal("the data of table '" + r.request.table_name +
                              "' left memory but not yet its Parquet files (" + r.error +
                              "); the server retries");
  return Status::Ok();
}

void Api::HandleDatabase(Request& req, Reply reply) {
  if (req.method == "GET") {
    const std::string* format_name = req.Param("format");
    if (!format_name) return reply(Response::Error(400, "missing query parameter 'format'"));
    auto format = query::ParseFormat(*format_name);
    if (!format.ok() || *format == query::Format::kParquet)
      return reply(Response::Error(400, "invalid format '" + *format_name + "': expected json, jsonl, csv or pretty"));
    bool show_deleted = req.Param("show_deleted") && *req.Param("show_deleted") == "true";
    query::QueryResult result;
    result.column_names = {"iox::database"};
    if (show_deleted) result.column_names.push_back("deleted");
    for (const auto& [name, db] : catalog_->State()->databases) {
      if (db->deleted && !show_deleted) continue;
      std::vector<query::Value> row{name};
      if (show_deleted) row.emplace_back(db->deleted);
      result.rows.push_back(std::move(row));
    }
    return reply(Response{200, query::ContentType(*format), query::Render(result, *format), {}});
  }
  if (req.method == "DELETE") {
    const std::string* db = req.Param("db");
    if (!db) return reply(Response::Error(400, "missing query parameter 'db'"));
    if (Status st = CheckHardDeleteAt(req); !st.ok()) return reply(FromStatus(st));
    // data_only (InfluxDB 3.6+): the rows go, the database, its tables, tokens, triggers and
    // caches stay.
    auto data_only = req.BoolParam("data_only", false);
    auto remove_tables = req.BoolParam("remove_tables", false);
    if (!data_only.ok()) return reply(FromStatus(data_only.status()));
    if (!remove_tables.ok()) return reply(FromStatus(remove_tables.status()));
    if (*data_only) {
      if (*remove_tables)
        return reply(Response::Error(400,
                                     "remove_tables is not supported: data_only keeps every table; "
                                     "delete tables one by one to remove them"));
      return reply(FromStatus(DeleteDataOnly(*db, "")));
    }
    return reply(FromStatus(catalog_->DeleteDatabase(*db)));
  }
  if (req.method != "POST" && req.method != "PUT") return reply(Response::Error(404, "not found: " + req.path + " does not take " + req.method));
  auto body = ParseJsonBody(req);
  if (!body.ok()) return reply(FromStatus(body.status()));
  const json& j = (*body)->value;
  if (!j.contains("db") || !j["db"].is_string()) return reply(Response::Error(400, "missing field 'db' (a string)"));
  auto retention = RetentionFrom(j);
  if (!retention.ok()) return reply(FromStatus(retention.status()));
  std::string name = j["db"];
  if (req.method == "POST") return reply(FromStatus(catalog_->CreateDatabase(name, *retention)));
  return reply(FromStatus(catalog_->SetRetention(name, *retention)));
}

void Api::HandleTable(Request& req, Reply reply) {
  if (req.method == "DELETE") {
    const std::string* db = req.Param("db");
    const std::string* table = req.Param("table");
    if (!db || !table) return reply(Response::Error(400, "missing query parameter 'db' or 'table'"));
    if (Status st = CheckHardDeleteAt(req); !st.ok()) return reply(FromStatus(st));
    auto data_only = req.BoolParam("data_only", false);
    if (!data_only.ok()) return reply(FromStatus(data_only.status()));
    if (*data_only) return reply(FromStatus(DeleteDataOnly(*db, *table)));
    return reply(FromStatus(catalog_->DeleteTable(*db, *table)));
  }
  if (req.method != "POST" && req.method != "PUT")
    return reply(Response::Error(404, "not found: " + req.path + " does not take " + req.method));
  auto body = ParseJsonBody(req);
  if (!body.ok()) return reply(FromStatus(body.status()));
  const json& j = (*body)->value;
  if (!j.contains("db") || !j["db"].is_string() || !j.contains("table") || !j["table"].is_string())
    return reply(Response::Error(400, "missing field 'db' or 'table' (strings)"));
  // Table-level retention (InfluxDB 3 Enterprise): "retention_period" on create, and PUT to
  // change it (null or "none" clears it, and the database's applies again).
  std::optional<int64_t> retention;
  if (j.contains("retention_period") && j["retention_period"] != "none") {
    auto parsed = RetentionFrom(j);
    if (!parsed.ok()) return reply(FromStatus(parsed.status()));
    retention = *parsed;
  }
  if (req.method == "PUT") {
    if (!j.contains("retention_period"))
      return reply(Response::Error(400, "missing field 'retention_period': a duration such as \"30d\", or null"));
    return reply(FromStatus(catalog_->SetTableRetention(j["db"], j["table"], retention)));
  }
  std::vector<std::string> tags;
  std::vector<std::pair<std::string, catalog::ColumnType>> fields;
  try {
    if (j.contains("tags")) tags = j["tags"].get<std::vector<std::string>>();
    if (j.contains("fields")) {
      for (const auto& f : j["fields"]) {
        auto type = catalog::ColumnTypeFromName(f.at("type").get<std::string>());
        if (!type.ok() || *type == catalog::ColumnType::kTag || *type == catalog::ColumnType::kTime)
          return reply(Response::Error(400, "invalid field type '" + f.at("type").get<std::string>() +
                                                "': expected one of utf8, int64, uint64, float64, bool"));
        fields.emplace_back(f.at("name").get<std::string>(), *type);
      }
    }
  } catch (const std::exception& e) {
    return reply(Response::Error(400, std::string("invalid table definition: ") + e.what()));
  }
  Status st = catalog::ValidateDatabaseName(j["db"].get<std::string>());
  if (!st.ok()) return reply(FromStatus(st));
  reply(FromStatus(catalog_->CreateTable(j["db"], j["table"], tags, fields, retention)));
}

}  // namespace riffle::http
