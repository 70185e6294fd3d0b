// The InfluxDB 3 HTTP API: routes requests to the write path, queries and the catalog.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>

#include "auth/token_store.h"
#include "catalog/catalog.h"
#include "http/http.h"
#include "influxql/influxql.h"
#include "query/query.h"
#include "rowdelete/row_deleter.h"
#include "write/writer.h"

namespace riffle::plugin {
struct RequestRoute;
}

namespace riffle::http {

// A cancellation for the request's query that fires when its client hangs up before the
// response is complete, so DuckDB stops working for nobody.
std::shared_ptr<query::Cancellation> CancelOnHangup(const Request& req);

// Maps a Status to the HTTP status InfluxDB 3 uses for it.
int HttpStatusFor(const Status& st);

// Parses a JSON request body, enforcing Content-Type as InfluxDB 3 does (415 otherwise).
struct JsonBody;
Result<std::shared_ptr<JsonBody>> ParseJsonBody(const Request& req);

class Api {
 public:
  Api(catalog::Catalog* catalog, write::Writer* writer, query::QueryEngine* engine, size_t max_request_bytes);

  void Handle(Request&& req, Reply reply);

  // Extra routes owned by other components (processing engine): exact path match, or a
  // prefix ending in '/' that matches every path below it.
  void AddRoute(const std::string& path, Handler handler);

  struct AuthOptions {
    auth::TokenStore* tokens = nullptr;  // nullptr or without_auth: every request is allowed
    bool without_auth = false;
    std::set<std::string> disabled_authz;  // --disable-authz: health, ping, metrics, ready
    // The request trigger at /api/v3/engine/<engine_path>, if any (its database, --public).
    std::function<std::optional<plugin::RequestRoute>(const std::string& engine_path)> engine_route;
  };
  // Authentication turns on once the first token exists (unless --without-auth): a new server
  // answers the Processing-engine guide's commands as written, then `create token --admin`
  // locks it.
  void SetAuth(AuthOptions options) { auth_ = std::move(options); }
  // The web console at / and /ui/ (off with serve --disable-ui).
  void EnableConsole(bool on) { console_ = on; }
  // Row deletes (/api/v3/row_delete_requests, /api/v2/delete, InfluxQL DELETE); without one
  // they answer 501.
  void SetRowDeleter(rowdelete::RowDeleter* deleter) { row_deleter_ = deleter; }

 private:
  Response ConsoleFile(const Request& req) const;
  static Response NotFound(const std::string& method, const std::string& path);
  std::string RouteLabel(const std::string& path) const;
  void HandleWrite(Request& req, Reply reply, int api_version);
  void HandleQuery(Request& req, Reply reply);
  // InfluxQL (influxql_routes.cc): /api/v3/query_influxql in the query_sql formats, with an
  // iox::measurement column; /query as InfluxDB 1.x answers it.
  void HandleInfluxQL(Request& req, Reply reply);
  void HandleQueryV1(Request& req, Reply reply);
  struct QueryRequest {
    std::string db, q, format;
    query::Params params;
  };
  // db, q, format (or Accept) and params of /api/v3/query_sql|query_influxql, GET or POST.
  static Result<QueryRequest> ParseQueryRequest(const Request& req);
  void HandleDatabase(Request& req, Reply reply);
  // Row deletes (row_delete_routes.cc): InfluxDB 3 Enterprise's /api/v3/row_delete_requests
  // (POST a delete, GET the list, POST …/{seq}/abort) and InfluxDB 2's POST /api/v2/delete.
  void HandleRowDeleteRequests(Request& req, Reply reply);
  void HandleV2Delete(Request& req, Reply reply);
  // InfluxQL's DELETE on database `db`: the records of the delete, or why it failed.
  Status RunInfluxQLDelete(const catalog::CatalogState& state, const std::string& db,
                           const influxql::DeleteStatement& statement);
  void HandleTable(Request& req, Reply reply);
  // data_only: every row of `table` (of every table when empty) deleted, the schema kept.
  Status DeleteDataOnly(const std::string& db, const std::string& table);

  catalog::Catalog* catalog_;
  write::Writer* writer_;
  query::QueryEngine* engine_;
  size_t max_request_bytes_;
  // Null when allowed; otherwise the 401/400/403 response to send. Sets req.token. Routes that
  // read or write one database are let through to their handler, which calls Permit.
  std::optional<Response> Unauthorized(Request& req) const;
  // Ok when the request's token may `action` database `db` (Forbidden names what is missing).
  static Status Permit(const Request& req, const std::string& db, auth::Action action);

  std::map<std::string, Handler> routes_;
  rowdelete::RowDeleter* row_deleter_ = nullptr;
  bool console_ = true;
  AuthOptions auth_;
  std::string process_id_;
};

}  // namespace riffle::http

namespace riffle::plugin {
class ProcessingEngine;
}
namespace riffle::cache {
class Caches;
}

namespace riffle::http {
// Adds the processing-engine routes (triggers, dry runs, installs, /api/v3/engine/*) to `api`.
void RegisterEngineRoutes(Api& api, plugin::ProcessingEngine* engine);
// Adds /api/v3/configure/last_cache and /api/v3/configure/distinct_cache.
void RegisterCacheRoutes(Api& api, catalog::Catalog* catalog, cache::Caches* caches, query::QueryEngine* engine);
// Adds /api/v3/enterprise/backup[/{name}] over the node's store (405 with `refused` when set).
void RegisterBackupRoutes(Api& api, objstore::ObjectStore* store, persist::Persister* persister,
                          const std::string& node, const std::string& shared,
                          const std::string& refused);
// Adds /api/v3/configure/token* (405 when the server runs --without-auth).
void RegisterTokenRoutes(Api& api, auth::TokenStore* tokens, bool without_auth);
}  // namespace riffle::http
