#include "http/api.h"

#include <chrono>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <random>

#include "common/log.h"
#include "common/metrics.h"
#include "console/console.h"
#include "http/json_body.h"
#include "http/query_body.h"
#include "plugin/engine.h"
#include "query/params_json.h"

namespace riffle::http {

using nlohmann::json;

std::shared_ptr<query::Cancellation> CancelOnHangup(const Request& req) {
  auto cancel = std::make_shared<query::Cancellation>();
  if (req.client) req.client->OnGone([cancel] { cancel->Cancel(); });
  return cancel;
}

int HttpStatusFor(const Status& st) {
  switch (st.code()) {
    case Code::kOk:
      return 200;
    case Code::kInvalidArgument:
      return 400;
    case Code::kNotFound:
      return 404;
    case Code::kAlreadyExists:
      return 409;
    case Code::kConflict:
      return 400;
    case Code::kLimitExceeded:
      return 422;
    case Code::kTooLarge:
      return 413;
    case Code::kUnsupportedMedia:
      return 415;
    case Code::kUnauthenticated:
      return 401;
    case Code::kForbidden:
      return 403;
    case Code::kUnavailable:
      return 503;
    case Code::kCancelled:
      return 499;
    case Code::kTimeout:
      return 408;
    case Code::kUnimplemented:
      return 405;
    case Code::kIOError:
    case Code::kInternal:
      return 500;
  }
  return 500;
}

Result<std::shared_ptr<JsonBody>> ParseJsonBody(const Request& req) {
  std::string ct = req.Header("content-type");
  std::string base = ct.substr(0, ct.find(';'));
  while (!base.empty() && base.back() == ' ') base.pop_back();
  bool is_json = base == "application/json" ||
                 (base.size() > 5 && base.compare(base.size() - 5, 5, "+json") == 0);
  if (!is_json)
    return Status(Code::kUnsupportedMedia, "unacceptable content-type, expected: application/json");
  auto out = std::make_shared<JsonBody>();
  try {
    out->value = json::parse(req.body);
  } catch (const std::exception& e) {
    return Status::InvalidArgument(std::string("serde json error: ") + e.what());
  }
  if (!out->value.is_object())
    return Status::InvalidArgument("serde json error: expected a JSON object");
  return out;
}

Api::Api(catalog::Catalog* catalog, write::Writer* writer, query::QueryEngine* engine,
         size_t max_request_bytes)
    : catalog_(catalog), writer_(writer), engine_(engine), max_request_bytes_(max_request_bytes) {
  std::random_device rd;
  char id[40];
  std::snprintf(id, sizeof id, "%08x-%04x-4%03x-b%03x-%08x%04x", rd(), rd() & 0xffff, rd() & 0xfff,
                rd() & 0xfff, rd(), rd() & 0xffff);
  process_id_ = id;
}

void Api::AddRoute(const std::string& path, Handler handler) { routes_[path] = std::move(handler); }

// The route label of a request: a known path, engine paths as one, anything else "other"
// (a label per unknown path would let any client grow /metrics without bound).
namespace {

// The routes Handle() serves itself, with the methods each takes (for the 404 body).
const std::map<std::string, std::string>& FixedRoutes() {
  static const std::map<std::string, std::string> kRoutes = {
      {"/api/v3/write_lp", "POST"},
      {"/api/v2/write", "POST"},
      {"/write", "POST"},
      {"/api/v3/query_sql", "GET or POST"},
      {"/api/v3/query_influxql", "GET or POST"},
      {"/query", "GET or POST"},
      {"/health", "GET"},
      {"/api/v1/health", "GET"},
      {"/ping", "GET or POST"},
      {"/api/v3/configure/database", "GET, POST, PUT or DELETE"},
      {"/api/v3/configure/table", "POST, PUT or DELETE"},
      {"/api/v3/row_delete_requests", "GET or POST"},
      {"/api/v2/delete", "POST"}};
  return kRoutes;
}

}  // namespace

std::string Api::RouteLabel(const std::string& path) const {
  if (FixedRoutes().count(path) || routes_.count(path)) return path;
  if (path.rfind("/api/v3/engine/", 0) == 0) return "/api/v3/engine/*";
  return "other";
}

void Api::Handle(Request&& req, Reply reply) {
  // Every response carries the CORS header InfluxDB 3 sends on success, and is counted.
  auto started = std::chrono::steady_clock::now();
  // cluster-uuid (InfluxDB 3.7+): the catalog's id, on every answer, so that a client can tell
  // which deployment it reached.
  Reply wrapped = [reply = std::move(reply), route = RouteLabel(req.path), started,
                   uuid = catalog_->State()->catalog_uuid](Response r) {
    if (r.status < 400) r.headers.emplace_back("Access-Control-Allow-Origin", "*");
    if (!uuid.empty()) r.headers.emplace_back("cluster-uuid", uuid);
    auto& m = metrics::Server();
    m.http_requests.With({route, std::to_string(r.status)}).Add();
    m.http_duration.With({route}).Observe(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
    reply(std::move(r));
  };
  if (req.method == "OPTIONS") {
    Response r = Response::Empty(204);
    r.headers = {{"Access-Control-Allow-Methods", "*"},
                 {"Access-Control-Allow-Headers", "*"},
                 {"Access-Control-Max-Age", "86400"}};
    return wrapped(std::move(r));
  }
  // The console's files are the same for everyone: its page asks for a token when the API does.
  if (console_ && req.method == "GET" && (req.path == "/" || req.path.rfind("/ui/", 0) == 0))
    return wrapped(ConsoleFile(req));
  if (auto denied = Unauthorized(req)) return wrapped(std::move(*denied));
  // Request bodies: identity or gzip only, and never more than the configured size.
  std::string encoding = req.Header("content-encoding");
  // python-influxdb with gzip=True marks every request gzip, bodiless GETs too.
  if (encoding == "gzip" && !req.body.empty()) {
    std::string plain;
    Status st = GunzipInto(req.body, max_request_bytes_, &plain);
    if (!st.ok()) return wrapped(Response::Error(HttpStatusFor(st), st.message()));
    req.body = std::move(plain);
  } else if (!encoding.empty() && encoding != "identity" && encoding != "gzip") {
    return wrapped(Response::Error(
        400, "unsupported Content-Encoding '" + encoding + "': expected gzip or identity"));
  }

  const std::string& p = req.path;
  const std::string& m = req.method;
  if ((p == "/health" || p == "/api/v1/health") && m == "GET")
    return wrapped(Response::Text(200, "OK"));
  if (p == "/ping" && (m == "GET" || m == "POST")) {
    Response r = Response::Json(200, json({{"product_name", "InfluxDB 3 Core"},
                                           {"version", "3.10.0-riffle"},
                                           {"revision", "riffle"},
                                           {"process_id", process_id_}})
                                         .dump());
    r.headers = {{"X-Influxdb-Build", "Core"}, {"X-Influxdb-Version", "3.10.0-riffle"}};
    return wrapped(std::move(r));
  }
  if (m == "POST" && p == "/api/v3/write_lp") return HandleWrite(req, wrapped, 3);
  if (m == "POST" && p == "/api/v2/write") return HandleWrite(req, wrapped, 2);
  if (m == "POST" && p == "/write") return HandleWrite(req, wrapped, 1);
  if ((m == "GET" || m == "POST") && p == "/api/v3/query_sql") return HandleQuery(req, wrapped);
  if ((m == "GET" || m == "POST") && p == "/api/v3/query_influxql")
    return HandleInfluxQL(req, wrapped);
  if ((m == "GET" || m == "POST") && p == "/query") return HandleQueryV1(req, wrapped);
  if (p == "/api/v3/configure/database") return HandleDatabase(req, wrapped);
  if (p == "/api/v3/configure/table") return HandleTable(req, wrapped);
  if (p == "/api/v3/row_delete_requests" || p.rfind("/api/v3/row_delete_requests/", 0) == 0)
    return HandleRowDeleteRequests(req, wrapped);
  if (p == "/api/v2/delete" && m == "POST") return HandleV2Delete(req, wrapped);

  if (auto it = routes_.find(p); it != routes_.end()) return it->second(std::move(req), wrapped);
  for (const auto& [prefix, handler] : routes_)
    if (!prefix.empty() && prefix.back() == '/' && p.compare(0, prefix.size(), prefix) == 0)
      return handler(std::move(req), wrapped);
  wrapped(NotFound(m, p));
}

Response Api::ConsoleFile(const Request& req) const {
  const console::Asset* asset = console::Find(req.path);
  if (!asset) return Response::Error(404, "not found: the console has no file " + req.path);
  bool gzip = req.Header("accept-encoding").find("gzip") != std::string::npos;
  Response r;
  r.status = 200;
  r.content_type = std::string(asset->content_type);
  r.body = std::string(gzip ? asset->gzipped : asset->body);
  r.headers = {{"Content-Security-Policy", console::kContentSecurityPolicy},
               {"X-Content-Type-Options", "nosniff"},
               {"Cache-Control", "no-cache"},
               {"Vary", "Accept-Encoding"}};
  if (gzip) r.headers.emplace_back("Content-Encoding", "gzip");
  return r;
}

// InfluxDB 3 answers 404 for an unknown path and for a known path with another method; the
// body says which methods the path takes.
Response Api::NotFound(const std::string& method, const std::string& path) {
  auto it = FixedRoutes().find(path);
  if (it != FixedRoutes().end())
    return Response::Error(404, "not found: " + path + " takes " + it->second + ", not " + method);
  return Response::Error(404, "not found: no route for " + method + " " + path);
}

std::optional<Response> Api::Unauthorized(Request& req) const {
  if (auth_.without_auth || !auth_.tokens) return std::nullopt;
  const std::string& p = req.path;
  // Liveness checks never need a token; the others only with --disable-authz.
  if (p == "/health" || p == "/api/v1/health" || p == "/ping") return std::nullopt;
  for (const char* name : {"metrics", "ready"})
    if (p == std::string("/") + name && auth_.disabled_authz.count(name)) return std::nullopt;
  if (auth_.tokens->Empty()) return std::nullopt;  // no token yet: auth is not on
  const std::string engine_prefix = "/api/v3/engine/";
  std::optional<plugin::RequestRoute> engine_route;
  bool engine_path = p.compare(0, engine_prefix.size(), engine_prefix) == 0;
  if (engine_path && auth_.engine_route) engine_route = auth_.engine_route(p.substr(engine_prefix.size()));
  if (engine_route && engine_route->is_public) return std::nullopt;
  const std::string* query_token = (p == "/write" || p == "/query") ? req.Param("p") : nullptr;
  auto who = auth::Authenticate(*auth_.tokens, req.Header("authorization"), query_token);
  if (!who.ok()) return Response::Error(HttpStatusFor(who.status()), who.status().message());
  req.token = std::make_shared<const auth::TokenInfo>(std::move(who).value());
  if (req.token->admin()) return std::nullopt;
  // A resource token: the routes of one database check it in their handler (Permit); the
  // system endpoints take system:<name>:read; everything else manages the server.
  static const std::set<std::string> kDatabaseRoutes = {"/api/v3/write_lp", "/api/v2/write", "/write",
                                                        "/api/v3/query_sql", "/api/v3/query_influxql", "/query"};
  if (kDatabaseRoutes.count(p)) return std::nullopt;
  // Row deletes check db:<name>:delete in their handler (the database is in the request).
  if (p == "/api/v2/delete" || p == "/api/v3/row_delete_requests" ||
      p.rfind("/api/v3/row_delete_requests/", 0) == 0)
    return std::nullopt;
  if (p == "/metrics" || p == "/ready") {
    if (auth::Allows(req.token->permissions, "system", p.substr(1), auth::kRead)) return std::nullopt;
    return Response::Error(403, "permission denied: " + p + " needs permission system:" + p.substr(1) +
                                    ":read, which token '" + req.token->name + "' does not have");
  }
  if (engine_path && auth_.engine_route) {
    // No such trigger: 403 as for any route a resource token may not use, so that the answer
    // does not tell which trigger paths exist.
    if (!engine_route)
      return Response::Error(403, "permission denied: " + p + " is not a request trigger that token '" +
                                      req.token->name + "' may call");
    Status st = Permit(req, engine_route->database, auth::kWrite);
    if (st.ok()) return std::nullopt;
    return Response::Error(HttpStatusFor(st), st.message());
  }
  return Response::Error(403, "permission denied: " + req.method + " " + p + " needs an admin token; token '" +
                                  req.token->name + "' is a resource token (" +
                                  auth::FormatPermissions(req.token->permissions) + ")");
}

Status Api::Permit(const Request& req, const std::string& db, auth::Action action) {
  return req.token ? auth::CheckDatabaseAccess(*req.token, db, action) : Status::Ok();
}

namespace {

json LineErrorJson(const lineproto::LineError& e) {
  // Key order as InfluxDB 3: error_message, line_number, original_line.
  json j = json::object();
  j["error_message"] = e.message;
  j["line_number"] = e.line_number;
  j["original_line"] = e.original_line;
  return j;
}

Response WriteError(int api_version, int status, const std::string& message, const json* data) {
  if (api_version == 2) {
    static const std::map<int, std::string> kCodes = {{400, "invalid"},
                                                      {401, "unauthorized"},
                                                      {403, "forbidden"},
                                                      {404, "not found"},
                                                      {413, "request too large"}};
    auto it = kCodes.find(status);
    std::string full = message;
    if (data) full += ": " + data->dump(-1, ' ', false, json::error_handler_t::replace);
    return Response::Json(
        status,
        json({{"code", it == kCodes.end() ? "internal error" : it->second}, {"message", full}})
            .dump(-1, ' ', false, json::error_handler_t::replace));
  }
  json body = {{"error", message}};
  if (data) body["data"] = *data;
  return Response::Json(status, body.dump(-1, ' ', false, json::error_handler_t::replace));
}

}  // namespace

void Api::HandleWrite(Request& req, Reply reply, int api_version) {
  write::WriteRequest wr;
  const std::string* db = req.Param(api_version == 2 ? "bucket" : "db");
  if (!db) {
    return reply(WriteError(
        api_version, 400,
        std::string("missing query parameter '") + (api_version == 2 ? "bucket" : "db") + "'",
        nullptr));
  }
  wr.database = *db;
  if (api_version == 1) {
    if (const std::string* rp = req.Param("rp");
        rp && !rp->empty() && *rp != "autogen" && *rp != "default")
      wr.database += "/" + *rp;
  }
  if (Status st = Permit(req, wr.database, auth::kWrite); !st.ok())
    return reply(WriteError(api_version, 403, st.message(), nullptr));
  const std::string* precision = req.Param("precision");
  // An empty precision= (the influx 1.x CLI sends it with -precision rfc3339) is the default.
  bool given = precision && !precision->empty();
  auto parsed_precision =
      lineproto::ParsePrecision(given ? *precision : (api_version == 3 ? "auto" : "ns"));
  if (!parsed_precision.ok())
    return reply(WriteError(api_version, 400, parsed_precision.status().message(), nullptr));
  wr.precision = *parsed_precision;
  auto accept_partial = req.BoolParam("accept_partial", api_version == 3);
  auto no_sync = req.BoolParam("no_sync", false);
  if (!accept_partial.ok())
    return reply(WriteError(api_version, 400, accept_partial.status().message(), nullptr));
  if (!no_sync.ok())
    return reply(WriteError(api_version, 400, no_sync.status().message(), nullptr));
  wr.accept_partial = *accept_partial;
  wr.no_sync = *no_sync;
  wr.body = std::move(req.body);
  metrics::Server().bytes_written.With({wr.database}).Add(wr.body.size());
  writer_->Write(std::move(wr), [reply, api_version,
                                 database = wr.database](write::WriteOutcome out) {
    auto& m = metrics::Server();
    if (out.lines_written) m.lines_written.With({database}).Add(out.lines_written);
    if (!out.errors.empty()) m.lines_rejected.With({database}).Add(out.errors.size());
    if (out.status.ok() && out.errors.empty()) return reply(Response::Empty(204));
    if (!out.errors.empty() &&
        (out.status.ok() || out.status.message() == "partial write of line protocol occurred")) {
      json data = json::array();
      bool limit = false;
      for (const auto& e : out.errors) {
        data.push_back(LineErrorJson(e));
        limit |= e.message.rfind("Update to schema would exceed number of", 0) == 0 ||
                 e.message.rfind("Adding a new database would exceed limit of", 0) == 0;
      }
      return reply(WriteError(api_version, limit ? 422 : 400,
                              "partial write of line protocol occurred", &data));
    }
    if (!out.errors.empty() && out.status.message() == "line protocol parsing error") {
      json data = LineErrorJson(out.errors.front());
      return reply(WriteError(api_version, 400, "line protocol parsing error", &data));
    }
    return reply(WriteError(api_version, HttpStatusFor(out.status), out.status.message(), nullptr));
  });
}

Result<Api::QueryRequest> Api::ParseQueryRequest(const Request& req) {
  QueryRequest out;
  auto add_params = [&](const json& obj) -> Status {
    RIFFLE_ASSIGN_OR_RETURN(query::Params params, query::ParamsFromJson(obj));
    out.params.insert(out.params.end(), params.begin(), params.end());
    return Status::Ok();
  };
  if (req.method == "GET") {
    if (auto* v = req.Param("db")) out.db = *v;
    if (auto* v = req.Param("q")) out.q = *v;
    if (auto* v = req.Param("format")) out.format = *v;
    if (auto* v = req.Param("params")) {
      try {
        RIFFLE_RETURN_IF_ERROR(add_params(json::parse(*v)));
      } catch (const std::exception& e) {
        return Status::InvalidArgument(std::string("invalid 'params': expected a JSON object: ") +
                                       e.what());
      }
    }
  } else {
    try {
      json body = json::parse(req.body);
      if (!body.is_object())
        return Status::InvalidArgument("request body must be a JSON object with 'db' and 'q'");
      if (body.contains("db") && body["db"].is_string()) out.db = body["db"];
      if (body.contains("q") && body["q"].is_string()) out.q = body["q"];
      if (body.contains("format") && body["format"].is_string()) out.format = body["format"];
      if (body.contains("params") && !body["params"].is_null())
        RIFFLE_RETURN_IF_ERROR(add_params(body["params"]));
    } catch (const std::exception& e) {
      return Status::InvalidArgument(std::string("serde json error: ") + e.what());
    }
  }
  if (out.db.empty()) return Status::InvalidArgument("missing query parameter 'db'");
  if (out.q.empty()) return Status::InvalidArgument("missing query parameter 'q'");
  if (out.format.empty()) {
    std::string accept = req.Header("accept");
    if (accept.empty() || accept.find("application/json") != std::string::npos ||
        accept.find("*/*") != std::string::npos || accept.find("text/html") != std::string::npos)
      out.format = "json";
    else if (accept.find("text/csv") != std::string::npos)
      out.format = "csv";
    else if (accept.find("text/plain") != std::string::npos)
      out.format = "pretty";
    else if (accept.find("application/vnd.apache.parquet") != std::string::npos)
      out.format = "parquet";
    else if (accept.find("application/jsonl") != std::string::npos)
      out.format = "jsonl";
    else
      return Status::InvalidArgument("invalid mime type (" + accept + ")");
  }
  return out;
}

void Api::HandleQuery(Request& req, Reply reply) {
  auto parsed = ParseQueryRequest(req);
  if (!parsed.ok()) return reply(Response::Error(400, parsed.status().message()));
  if (Status st = Permit(req, parsed->db, auth::kRead); !st.ok())
    return reply(Response::Error(HttpStatusFor(st), st.message()));
  const std::string& db = parsed->db;
  const std::string& sql = parsed->q;
  const std::string& format_name = parsed->format;
  const query::Params& params = parsed->params;
  auto format = query::ParseFormat(format_name);
  if (!format.ok()) return reply(Response::Error(400, format.status().message()));
  auto state = catalog_->State();
  if (!state->FindDatabase(db))
    return reply(Response::Error(404, "query error: database not found: " + db));
  if (*format == query::Format::kParquet) {
    std::string path = engine_->ScratchPath(".parquet");
    Status st = engine_->QueryParquet(*state, db, sql, params, path);
    if (!st.ok()) {
      std::error_code ec;
      std::filesystem::remove(path, ec);
      return reply(Response::Error(HttpStatusFor(st), st.message()));
    }
    auto body = FileBody(path);  // removes the file's name
    if (!body.ok())
      return reply(Response::Error(HttpStatusFor(body.status()), body.status().message()));
    Response r{200, query::ContentType(*format), "", {}};
    r.stream = std::move(body).value();
    return reply(std::move(r));
  }
  auto started = std::chrono::steady_clock::now();
  auto result = engine_->QueryStream(*state, db, sql, params, CancelOnHangup(req));
  Status first = result.ok() ? Status::Ok() : result.status();
  std::shared_ptr<EncodedResultBody> body;
  if (first.ok()) {
    body =
        std::make_shared<EncodedResultBody>(std::move(result).value(), query::MakeEncoder(*format));
    first = body->Prime();
  }
  metrics::CountQuery("sql", first.ok(), started);
  if (!first.ok()) return reply(Response::Error(HttpStatusFor(first), first.message()));
  Response r{200, query::ContentType(*format), "", {}};
  r.stream = std::move(body);
  reply(std::move(r));
}

}  // namespace riffle::http
