// Flight SQL (https://arrow.apache.org/docs/format/FlightSql.html) as Grafana, ADBC and JDBC use
// it: GetFlightInfo for a command answers one endpoint whose ticket Riffle redeems in DoGet;
// prepared statements are stateless (the handle carries the query and its bound parameters).
#include <google/protobuf/any.pb.h>

#include <cctype>
#include <nlohmann/json.hpp>

#include "flight/internal.h"
#include "flight/ipc_reader.h"
#include "flight_sql.pb.h"

namespace riffle::flight {
Result<std::string> DatabaseOf(const grpc::ServerContext& ctx) {
  for (const char* name : {"database", "bucket", "bucket-name", "iox-namespace-name"}) {
    std::string v = Header(ctx, name);
    if (!v.empty()) return v;
  }
  return Status::InvalidArgument(
      "no 'database' header in request: Flight SQL calls name their database in the 'database' "
      "gRPC metadata header");
}

namespace {

namespace sql = arrow::flight::protocol::sql;
using nlohmann::json;

WireColumn Utf8(const std::string& name, bool nullable = true) {
  return {name, "u", {}, nullable, {}};
}

// SQL LIKE patterns as the Flight SQL filters use them: % any run, _ one character.
bool Like(const std::string& text, const std::string& pattern, size_t t = 0, size_t p = 0) {
  if (p == pattern.size()) return t == text.size();
  if (pattern[p] == '%') {
    for (size_t k = t; k <= text.size(); ++k)
      if (Like(text, pattern, k, p + 1)) return true;
    return false;
  }
  if (t < text.size() && (pattern[p] == '_' || pattern[p] == text[t]))
    return Like(text, pattern, t + 1, p + 1);
  return false;
}

const char* kCatalog = "public";

struct TableRow {
  std::string schema, name, type;
};

std::vector<TableRow> AllTables(const catalog::Database& db) {
  std::vector<TableRow> out;
  for (const auto& [name, t] : db.tables) out.push_back({"iox", name, "BASE TABLE"});
  for (const char* sys : query::kSystemTableNames)
    out.push_back({"system", sys, "BASE TABLE"});
  for (const char* info : {"tables", "columns"})
    out.push_back({"information_schema", info, "VIEW"});
  return out;
}

template <typename T>
bool Unpack(const google::protobuf::Any& any, T* out) {
  return any.Is<T>() && any.UnpackTo(out);
}

std::string PackResult(const google::protobuf::Message& m) {
  google::protobuf::Any any;
  any.PackFrom(m);
  return any.SerializeAsString();
}

json ValueToJson(const query::Value& v) {
  if (auto* b = std::get_if<bool>(&v)) return *b;
  if (auto* i = std::get_if<int64_t>(&v)) return *i;
  if (auto* u = std::get_if<uint64_t>(&v)) return *u;
  if (auto* d = std::get_if<double>(&v)) return *d;
  if (auto* s = std::get_if<std::string>(&v)) return *s;
  if (auto* t = std::get_if<query::Timestamp>(&v)) return t->ns;
  return nullptr;
}

// Every $name and $1 a query mentions (outside quotes), bound to null.
json NullParams(const std::string& sql) {
  json out = json::object();
  char quote = 0;
  for (size_t i = 0; i < sql.size(); ++i) {
    char c = sql[i];
    if (quote) {
      if (c == quote) quote = 0;
      continue;
    }
    if (c == '\'' || c == '"') {
      quote = c;
      continue;
    }
    if (c != '$') continue;
    size_t end = i + 1;
    while (end < sql.size() &&
           (std::isalnum(static_cast<unsigned char>(sql[end])) || sql[end] == '_'))
      ++end;
    if (end > i + 1) out[sql.substr(i + 1, end - i - 1)] = nullptr;
    i = end - 1;
  }
  return out;
}

// A prepared statement's handle: the query and, after DoPut, its parameter values.
struct Prepared {
  std::string query;
  json params = json::object();
};
std::string EncodeHandle(const Prepared& p) {
  return json{{"query", p.query}, {"params", p.params}}.dump();
}
Result<Prepared> DecodeHandle(const std::string& bytes) {
  json j = json::parse(bytes, nullptr, false);
  if (!j.is_object() || !j.contains("query") || !j["query"].is_string())
    return Status::InvalidArgument(
        "invalid prepared statement handle: expected one that CreatePreparedStatement returned");
  Prepared p{j["query"].get<std::string>(), j.value("params", json::object())};
  return p;
}

}  // namespace

Result<std::unique_ptr<ArrowSource>> FlightSql::Metadata(const std::string& database,
                                                         const std::string& command) {
  google::protobuf::Any any;
  if (!any.ParseFromString(command))
    return Status::InvalidArgument("invalid Flight SQL command in ticket");
  if (sql::CommandGetSqlInfo c; Unpack(any, &c))  // about the server, not a database
    return SqlInfo(std::vector<uint32_t>(c.info().begin(), c.info().end()));
  auto state = options_.catalog->State();
  const catalog::Database* db = state->FindDatabase(database);
  if (!db) return Status::NotFound("database not found: " + database);
  using Rows = std::vector<std::vector<query::Value>>;
  if (sql::CommandGetCatalogs c; Unpack(any, &c))
    return TableSource({Utf8("catalog_name", false)}, Rows{{std::string(kCatalog)}});
  if (sql::CommandGetDbSchemas c; Unpack(any, &c)) {
    Rows rows;
    for (const char* schema : {"information_schema", "iox", "system"}) {
      if (c.has_catalog() && c.catalog() != kCatalog) continue;
      if (c.has_db_schema_filter_pattern() && !Like(schema, c.db_schema_filter_pattern())) continue;
      rows.push_back({std::string(kCatalog), std::string(schema)});
    }
    return TableSource({Utf8("catalog_name"), Utf8("db_schema_name", false)}, std::move(rows));
  }
  if (sql::CommandGetTableTypes c; Unpack(any, &c))
    return TableSource({Utf8("table_type", false)},
                       Rows{{std::string("BASE TABLE")}, {std::string("VIEW")}});
  if (sql::CommandGetTables c; Unpack(any, &c)) {
    std::vector<WireColumn> columns = {Utf8("catalog_name"), Utf8("db_schema_name"),
                                       Utf8("table_name", false), Utf8("table_type", false)};
    if (c.include_schema()) columns.push_back({"table_schema", "z", {}, false, {}});
    Rows rows;
    for (const auto& t : AllTables(*db)) {
      if (c.has_catalog() && c.catalog() != kCatalog) continue;
      if (c.has_db_schema_filter_pattern() && !Like(t.schema, c.db_schema_filter_pattern()))
        continue;
      if (c.has_table_name_filter_pattern() && !Like(t.name, c.table_name_filter_pattern()))
        continue;
      if (c.table_types_size() > 0 && std::find(c.table_types().begin(), c.table_types().end(),
                                                t.type) == c.table_types().end())
        continue;
      std::vector<query::Value> row = {std::string(kCatalog), t.schema, t.name, t.type};
      if (c.include_schema()) {
        // The table's columns as a query of it would return them.
        std::string qualified = (t.schema == "iox" ? "" : t.schema + ".") + "\"" + t.name + "\"";
        auto stream = options_.engine->QueryStream(*state, database,
                                                   "SELECT * FROM " + qualified + " LIMIT 0", {});
        if (!stream.ok()) return stream.status();
        RIFFLE_ASSIGN_OR_RETURN(auto source,
                                SqlSource(std::move(stream).value(), *db, "\"" + t.name + "\""));
        row.push_back(Encapsulate(SchemaMessage(source->columns())));
      }
      rows.push_back(std::move(row));
    }
    return TableSource(std::move(columns), std::move(rows));
  }
  if (sql::CommandGetPrimaryKeys c; Unpack(any, &c)) {
    return TableSource({Utf8("catalog_name"),
                        Utf8("db_schema_name"),
                        Utf8("table_name", false),
                        Utf8("column_name", false),
                        {"key_name", "u", {}, true, {}},
                        {"key_sequence", "i", {}, false, {}}},
                       {});
  }
  return Status::Unimplemented("Flight SQL command " + any.type_url() + " is not supported");
}

grpc::Status FlightSql::GetFlightInfo(grpc::ServerContext* ctx,
                                      const pb::FlightDescriptor& descriptor, pb::FlightInfo* out) {
  if (descriptor.type() != pb::FlightDescriptor::CMD)
    return {grpc::StatusCode::UNIMPLEMENTED,
            "GetFlightInfo takes a Flight SQL command (descriptor type CMD)"};
  google::protobuf::Any any;
  if (!any.ParseFromString(descriptor.cmd()))
    return {grpc::StatusCode::INVALID_ARGUMENT,
            "the descriptor's cmd is not a Flight SQL command (google.protobuf.Any)"};
  auto database = DatabaseOf(*ctx);
  if (!database.ok()) return ToGrpc(database.status());
  QueryTicket ticket;
  ticket.database = *database;
  if (sql::CommandStatementQuery c; Unpack(any, &c)) {
    ticket.query = c.query();
  } else if (sql::CommandPreparedStatementQuery c; Unpack(any, &c)) {
    auto prepared = DecodeHandle(c.prepared_statement_handle());
    if (!prepared.ok()) return ToGrpc(prepared.status());
    ticket.query = prepared->query;
    ticket.params_json = prepared->params.dump();
  } else {
    ticket.flightsql_command = descriptor.cmd();
  }
  // The schema comes from planning the query (or building the metadata table) now; DoGet
  // runs it again when the ticket is redeemed.
  auto source = OpenTicket(options_, ticket);
  if (!source.ok()) return ToGrpc(source.status());
  out->set_schema(Encapsulate(SchemaMessage((*source)->columns())));
  *out->mutable_flight_descriptor() = descriptor;
  out->add_endpoint()->mutable_ticket()->set_ticket(EncodeTicket(ticket));
  out->set_total_records(-1);
  out->set_total_bytes(-1);
  return grpc::Status::OK;
}

grpc::Status FlightSql::DoAction(grpc::ServerContext* ctx, const pb::Action& action,
                                 grpc::ServerWriter<pb::Result>* writer) {
  google::protobuf::Any any;
  if (!any.ParseFromString(action.body()))
    return {grpc::StatusCode::INVALID_ARGUMENT,
            "the action body is not a Flight SQL request (google.protobuf.Any)"};
  if (action.type() == "CreatePreparedStatement") {
    sql::ActionCreatePreparedStatementRequest request;
    if (!Unpack(any, &request))
      return {grpc::StatusCode::INVALID_ARGUMENT,
              "CreatePreparedStatement expects ActionCreatePreparedStatementRequest"};
    auto database = DatabaseOf(*ctx);
    if (!database.ok()) return ToGrpc(database.status());
    sql::ActionCreatePreparedStatementResult result;
    result.set_prepared_statement_handle(EncodeHandle({request.query(), json::object()}));
    // The result's schema, planned with every $parameter bound to NULL (their values come
    // later, through DoPut).
    QueryTicket ticket{*database, request.query(), false, NullParams(request.query()).dump(), ""};
    auto source = OpenTicket(options_, ticket);
    if (!source.ok()) return ToGrpc(source.status());
    result.set_dataset_schema(Encapsulate(SchemaMessage((*source)->columns())));
    pb::Result out;
    out.set_body(PackResult(result));
    writer->Write(out);
    return grpc::Status::OK;
  }
  if (action.type() == "ClosePreparedStatement") {
    sql::ActionClosePreparedStatementRequest request;
    if (!Unpack(any, &request))
      return {grpc::StatusCode::INVALID_ARGUMENT,
              "ClosePreparedStatement expects ActionClosePreparedStatementRequest"};
    return grpc::Status::OK;  // handles hold no server state
  }
  return {grpc::StatusCode::UNIMPLEMENTED,
          "action '" + action.type() +
              "' is not supported: expected CreatePreparedStatement or ClosePreparedStatement"};
}

grpc::Status FlightSql::DoPut(grpc::ServerContext* ctx,
                              grpc::ServerReaderWriter<pb::PutResult, pb::FlightData>* stream) {
  pb::FlightData data;
  if (!stream->Read(&data))
    return {grpc::StatusCode::INVALID_ARGUMENT, "DoPut: no FlightData received"};
  google::protobuf::Any any;
  sql::CommandPreparedStatementQuery command;
  if (!any.ParseFromString(data.flight_descriptor().cmd()) || !Unpack(any, &command))
    return {grpc::StatusCode::INVALID_ARGUMENT,
            "DoPut binds a prepared statement's parameters: expected a descriptor with "
            "CommandPreparedStatementQuery "
            "(Riffle does not take writes over Flight; use /api/v3/write_lp)"};
  auto prepared = DecodeHandle(command.prepared_statement_handle());
  if (!prepared.ok()) return ToGrpc(prepared.status());
  std::vector<IpcInput> messages;
  do {
    messages.push_back({data.data_header(), data.data_body()});
  } while (stream->Read(&data));
  auto row = ReadFirstRow(messages);
  if (!row.ok()) return ToGrpc(row.status());
  prepared->params = json::object();
  for (const auto& [name, value] : *row) prepared->params[name] = ValueToJson(value);
  sql::DoPutPreparedStatementResult result;
  result.set_prepared_statement_handle(EncodeHandle(*prepared));
  pb::PutResult out;
  out.set_app_metadata(result.SerializeAsString());
  stream->Write(out);
  return grpc::Status::OK;
}

}  // namespace riffle::flight
