// /api/v3/configure/last_cache and /api/v3/configure/distinct_cache (COMPAT.md §6.5): create a
// cache (201 with its definition, warmed from stored rows first) or delete one (200).
#include <array>
#include <functional>
#include <nlohmann/json.hpp>

#include "cache/cache.h"
#include "http/api.h"
#include "http/json_body.h"

namespace riffle::http {

using nlohmann::json;

namespace {

Response Failed(const Status& st) { return Response::Error(HttpStatusFor(st), st.message()); }

// A string list field: absent or null gives {}.
Result<std::vector<std::string>> Names(const json& j, const char* key) {
  std::vector<std::string> out;
  if (!j.contains(key) || j[key].is_null()) return out;
  if (!j[key].is_array())
    return Status::InvalidArgument(std::string("'") + key + "' must be an array of column names");
  for (const auto& v : j[key]) {
    if (!v.is_string())
      return Status::InvalidArgument(std::string("'") + key + "' must be an array of column names");
    out.push_back(v.get<std::string>());
  }
  return out;
}

Result<uint64_t> Count(const json& j, const char* key, uint64_t fallback) {
  if (!j.contains(key) || j[key].is_null()) return fallback;
  if (!j[key].is_number_unsigned() && !(j[key].is_number_integer() && j[key].get<int64_t>() >= 0))
    return Status::InvalidArgument(std::string("'") + key + "' must be a non-negative integer");
  return j[key].get<uint64_t>();
}

std::string Text(const json& j, const char* key) {
  return j.contains(key) && j[key].is_string() ? j[key].get<std::string>() : "";
}

// db, table and name of a DELETE: query parameters, or a JSON body.
Result<std::array<std::string, 3>> Target(const Request& req) {
  std::array<std::string, 3> out;
  const char* keys[] = {"db", "table", "name"};
  if (!req.body.empty()) {
    auto body = ParseJsonBody(req);
    if (!body.ok()) return body.status();
    for (int i = 0; i < 3; ++i) out[i] = Text((*body)->value, keys[i]);
  }
  for (int i = 0; i < 3; ++i)
    if (const std::string* v = req.Param(keys[i])) out[i] = *v;
  if (out[0].empty() || out[1].empty() || out[2].empty())
    return Status::InvalidArgument("expected db, table and name (query parameters or a JSON body)");
  return out;
}

// A cache route: POST creates through `create` (which returns the stored definition as JSON
// and the cache's name), warms the new cache and answers 201; DELETE removes one.
using CreateCache =
    std::function<Result<std::pair<json, std::string>>(const std::string& db, const json& body)>;

void AddCacheRoute(Api& api, const std::string& path, bool last, catalog::Catalog* catalog,
                   cache::Caches* caches, query::QueryEngine* engine, CreateCache create) {
  api.AddRoute(path, [=](Request&& req, Reply reply) {
    if (req.method == "DELETE") {
      auto t = Target(req);
      if (!t.ok()) return reply(Failed(t.status()));
      Status st = last ? catalog->DeleteLastCache((*t)[0], (*t)[1], (*t)[2])
                       : catalog->DeleteDistinctCache((*t)[0], (*t)[1], (*t)[2]);
      if (!st.ok()) return reply(Failed(st));
      caches->Prune(*catalog->State());
      return reply(Response::Empty(200));
    }
    if (req.method != "POST")
      return reply(Response::Error(404, "not found: " + req.path + " takes POST or DELETE"));
    auto body = ParseJsonBody(req);
    if (!body.ok()) return reply(Failed(body.status()));
    const json& j = (*body)->value;
    std::string db = Text(j, "db");
    if (db.empty() || Text(j, "table").empty())
      return reply(Response::Error(400, "expected 'db' and 'table'"));
    auto made = create(db, j);
    if (!made.ok()) return reply(Failed(made.status()));
    if (Status st = caches->Warm(*catalog->State(), *engine, db, {made->second}); !st.ok())
      return reply(Failed(st));
    reply(Response::Json(201, made->first.dump()));
  });
}

}  // namespace

void RegisterCacheRoutes(Api& api, catalog::Catalog* catalog, cache::Caches* caches,
                         query::QueryEngine* engine) {
  AddCacheRoute(
      api, "/api/v3/configure/last_cache", true, catalog, caches, engine,
      [catalog](const std::string& db, const json& j) -> Result<std::pair<json, std::string>> {
        catalog::LastCache spec;
        spec.table = Text(j, "table");
        spec.name = Text(j, "name");
        RIFFLE_ASSIGN_OR_RETURN(spec.key_columns, Names(j, "key_columns"));
        RIFFLE_ASSIGN_OR_RETURN(spec.value_columns, Names(j, "value_columns"));
        RIFFLE_ASSIGN_OR_RETURN(spec.count, Count(j, "count", 1));
        RIFFLE_ASSIGN_OR_RETURN(spec.ttl_seconds, Count(j, "ttl", 4 * 3600));
        RIFFLE_ASSIGN_OR_RETURN(catalog::LastCache made, catalog->CreateLastCache(db, spec));
        json out = {{"table", made.table},
                    {"name", made.name},
                    {"key_columns", made.key_columns},
                    {"value_columns", made.value_columns},
                    {"count", made.count},
                    {"ttl", made.ttl_seconds}};
        return std::make_pair(out, made.name);
      });
  AddCacheRoute(
      api, "/api/v3/configure/distinct_cache", false, catalog, caches, engine,
      [catalog](const std::string& db, const json& j) -> Result<std::pair<json, std::string>> {
        catalog::DistinctCache spec;
        spec.table = Text(j, "table");
        spec.name = Text(j, "name");
        RIFFLE_ASSIGN_OR_RETURN(spec.columns, Names(j, "columns"));
        RIFFLE_ASSIGN_OR_RETURN(spec.max_cardinality, Count(j, "max_cardinality", 100'000));
        RIFFLE_ASSIGN_OR_RETURN(spec.max_age_seconds, Count(j, "max_age", 24 * 3600));
        RIFFLE_ASSIGN_OR_RETURN(catalog::DistinctCache made,
                                catalog->CreateDistinctCache(db, spec));
        json out = {{"table", made.table},
                    {"name", made.name},
                    {"columns", made.columns},
                    {"max_cardinality", made.max_cardinality},
                    {"max_age", made.max_age_seconds}};
        return std::make_pair(out, made.name);
      });
}

}  // namespace riffle::http
