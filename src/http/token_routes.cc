// /api/v3/configure/token*: admin tokens, as InfluxDB 3 Core has them, and
// /api/v3/enterprise/configure/token: resource tokens, as InfluxDB 3 Enterprise has them.
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
          {"expiry", t.expiry_ms ? json(Rfc3339Millis(*t.expiry_ms)) : json(nullptr)},
          {"permissions", auth::FormatPermissions(t.permissions)}};
}

// Enterprise's body: [{"resource_type": "db", "resource_names": ["a"], "actions": ["read"]}].
Result<std::vector<auth::Permission>> PermissionsOf(const json& list) {
  const std::string expected =
      "'permissions' must be a non-empty array of {\"resource_type\": \"db\"|\"system\", "
      "\"resource_names\": "
      "[names or \"*\"], \"actions\": [\"read\", \"write\", \"delete\"]}";
  if (!list.is_array() || list.empty()) return Status::InvalidArgument(expected);
  std::vector<auth::Permission> out;
  for (const auto& item : list) {
    if (!item.is_object() || !item.contains("resource_type") || !item["resource_type"].is_string() ||
        !item.contains("resource_names") || !item["resource_names"].is_array() || !item.contains("actions") ||
        !item["actions"].is_array())
      return Status::InvalidArgument(expected);
    std::string text = item["resource_type"].get<std::string>() + ":";
    std::string names, actions;
    for (const auto& n : item["resource_names"]) {
      if (!n.is_string()) return Status::InvalidArgument(expected);
      names += (names.empty() ? "" : ",") + n.get<std::string>();
    }
    for (const auto& a : item["actions"]) {
      if (!a.is_string()) return Status::InvalidArgument(expected);
      actions += (actions.empty() ? "" : ",") + a.get<std::string>();
    }
    RIFFLE_ASSIGN_OR_RETURN(auth::Permission p, auth::ParsePermission(text + names + ":" + actions));
    out.push_back(std::move(p));
  }
  return out;
}

Result<std::optional<int64_t>> ExpiryOf(const json& j) {
  if (!j.contains("expiry_secs") || j["expiry_secs"].is_null()) return std::optional<int64_t>();
  if (!j["expiry_secs"].is_number_integer() || j["expiry_secs"].get<int64_t>() <= 0)
    return Status::InvalidArgument("'expiry_secs' must be a positive integer");
  return std::optional<int64_t>(j["expiry_secs"].get<int64_t>());
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
    auto expiry = ExpiryOf(j);
    if (!expiry.ok()) return reply(Response::Error(400, expiry.status().message()));
    reply(Created(tokens->CreateNamedAdmin(j["token_name"], *expiry)));
  });
  api.AddRoute("/api/v3/enterprise/configure/token", [tokens, disabled](Request&& req, Reply reply) {
    if (disabled(reply)) return;
    if (req.method != "POST") return reply(Response::Error(404, "not found: " + req.path + " does not take " + req.method));
    // The first token turns authentication on; were it a resource token, no admin token could
    // ever be made.
    if (tokens->Empty())
      return reply(Response::Error(409, "no admin token exists yet: create one first with `influxdb3 create token "
                                        "--admin`, then resource tokens with it"));
    auto body = ParseJsonBody(req);
    if (!body.ok()) return reply(Response::Error(HttpStatusFor(body.status()), body.status().message()));
    const json& j = (*body)->value;
    if (!j.contains("token_name") || !j["token_name"].is_string())
      return reply(Response::Error(400, "missing field 'token_name' (a string)"));
    auto permissions = PermissionsOf(j.contains("permissions") ? j["permissions"] : json());
    if (!permissions.ok()) return reply(Response::Error(400, permissions.status().message()));
    auto expiry = ExpiryOf(j);
    if (!expiry.ok()) return reply(Response::Error(400, expiry.status().message()));
    reply(Created(tokens->CreateScoped(j["token_name"], std::move(permissions).value(), *expiry)));
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
