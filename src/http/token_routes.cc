// /api/v3/configure/token*: admin tokens (InfluxDB 3 Core has admin tokens only).
#include <nlohmann/json.hpp>

#include "http/api.h"
#include "http/json_body.h"

namespace riffle::http {

using nlohmann::json;

namespace {

std::string Rfc3339Millis(int64_t ms) {
  time_t secs = static_cast<time_t>(ms / 1000);
  struct tm tm;
  gmtime_r(&secs, &tm);
  char buf[40];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms % 1000));
  return buf;
}

json InfoJson(const auth::TokenInfo& t) {
  return {{"id", t.id},
          {"name", t.name},
          {"hash", t.hash},
          {"created_at", Rfc3339Millis(t.created_at_ms)},
          {"expiry", t.expiry_ms ? json(Rfc3339Millis(*t.expiry_ms)) : json(nullptr)}};
}

Response Created(const Result<auth::NewToken>& made) {
  if (!made.ok()) return Response::Error(HttpStatusFor(made.status()), made.status().message());
  json j = InfoJson(made->info);
  j["token"] = made->token;
  return Response::Json(201, j.dump());
}

}  // namespace

void RegisterTokenRoutes(Api& api, auth::TokenStore* tokens, bool without_auth) {
  auto disabled = [without_auth](Reply& reply) {
    if (without_auth) reply(Response::Error(405, "endpoint disabled, started without auth"));
    return without_auth;
  };
  api.AddRoute("/api/v3/configure/token/admin", [tokens, disabled](Request&& req, Reply reply) {
    if (disabled(reply)) return;
    if (req.method != "POST") return reply(Response::Error(404, "not found: " + req.path + " does not take " + req.method));
    reply(Created(tokens->CreateAdmin()));
  });
  api.AddRoute("/api/v3/configure/token/admin/regenerate", [tokens, disabled](Request&& req, Reply reply) {
    if (disabled(reply)) return;
    if (req.method != "POST") return reply(Response::Error(404, "not found: " + req.path + " does not take " + req.method));
    reply(Created(tokens->RegenerateAdmin()));
  });
  api.AddRoute("/api/v3/configure/token/named_admin", [tokens, disabled](Request&& req, Reply reply) {
    if (disabled(reply)) return;
    if (req.method != "POST") return reply(Response::Error(404, "not found: " + req.path + " does not take " + req.method));
    auto body = ParseJsonBody(req);
    if (!body.ok()) return reply(Response::Error(HttpStatusFor(body.status()), body.status().message()));
    const json& j = (*body)->value;
    if (!j.contains("token_name") || !j["token_name"].is_string())
      return reply(Response::Error(400, "missing field 'token_name' (a string)"));
    std::optional<int64_t> expiry;
    if (j.contains("expiry_secs") && !j["expiry_secs"].is_null()) {
      if (!j["expiry_secs"].is_number_integer() || j["expiry_secs"].get<int64_t>() <= 0)
        return reply(Response::Error(400, "'expiry_secs' must be a positive integer"));
      expiry = j["expiry_secs"].get<int64_t>();
    }
    reply(Created(tokens->CreateNamedAdmin(j["token_name"], expiry)));
  });
  api.AddRoute("/api/v3/configure/token", [tokens, disabled](Request&& req, Reply reply) {
    if (disabled(reply)) return;
    if (req.method == "GET") {  // Riffle: the list behind `influxdb3 show tokens` (never the secrets)
      json list = json::array();
      for (const auto& t : tokens->List()) {
        json j = InfoJson(t);
        j.erase("hash");
        list.push_back(j);
      }
      return reply(Response::Json(200, list.dump()));
    }
    if (req.method != "DELETE") return reply(Response::Error(404, "not found: " + req.path + " does not take " + req.method));
    const std::string* name = req.Param("token_name");
    if (!name) return reply(Response::Error(400, "missing query parameter 'token_name'"));
    Status st = tokens->Delete(*name);
    if (st.code() == Code::kInvalidArgument) return reply(Response::Error(405, st.message()));
    reply(st.ok() ? Response::Empty(200) : Response::Error(HttpStatusFor(st), st.message()));
  });
}

}  // namespace riffle::http
