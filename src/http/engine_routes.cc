// Processing-engine routes: trigger management, dry runs, package installs, /api/v3/engine/*.
#include <nlohmann/json.hpp>

#include "common/metrics.h"
#include "http/api.h"
#include "http/json_body.h"
#include "plugin/engine.h"
#include "schedule/schedule.h"

namespace riffle::http {

using nlohmann::json;

namespace {

Response FromStatus(const Status& st) {
  return st.ok() ? Response::Empty(200) : Response::Error(HttpStatusFor(st), st.message());
}

// Parameters from the query string when there is one, else from a JSON body.
Result<json> ParamsOf(const Request& req) {
  if (!req.query.empty()) {
    json j = json::object();
    for (const auto& [k, v] : req.query) {
      if (v == "true" || v == "false")
        j[k] = v == "true";
      else
        j[k] = v;
    }
    return j;
  }
  if (req.body.empty()) return json::object();
  auto body = ParseJsonBody(req);
  if (!body.ok()) return body.status();
  return (*body)->value;
}

std::string StringField(const json& j, const char* key) {
  return j.contains(key) && j[key].is_string() ? j[key].get<std::string>() : std::string();
}

}  // namespace

void RegisterEngineRoutes(Api& api, plugin::ProcessingEngine* engine) {
  api.AddRoute("/api/v3/configure/processing_engine_trigger", [engine](Request&& req, Reply reply) {
    auto params = ParamsOf(req);
    if (!params.ok()) return reply(FromStatus(params.status()));
    const json& j = *params;
    if (req.method == "DELETE") {
      std::string db = StringField(j, "db"), name = StringField(j, "trigger_name");
      if (db.empty() || name.empty())
        return reply(Response::Error(400, "missing 'db' or 'trigger_name'"));
      bool force = j.contains("force") && j["force"].is_boolean() && j["force"].get<bool>();
      return reply(FromStatus(engine->DeleteTrigger(db, name, force)));
    }
    if (req.method != "POST")
      return reply(Response::Error(404, "not found: " + req.path + " does not take " + req.method));
    catalog::Trigger t;
    t.database = StringField(j, "db");
    t.plugin_filename = StringField(j, "plugin_filename");
    t.name = StringField(j, "trigger_name");
    t.specification = StringField(j, "trigger_specification");
    if (t.database.empty() || t.plugin_filename.empty() || t.name.empty() ||
        t.specification.empty())
      return reply(Response::Error(400,
                                   "missing field: 'db', 'plugin_filename', 'trigger_name' and "
                                   "'trigger_specification' are required"));
    if (j.contains("trigger_settings") && j["trigger_settings"].is_object()) {
      const json& s = j["trigger_settings"];
      if (s.contains("run_async") && s["run_async"].is_boolean())
        t.settings.run_async = s["run_async"];
      if (s.contains("error_behavior") && s["error_behavior"].is_string()) {
        std::string eb = s["error_behavior"];
        for (char& c : eb) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        t.settings.error_behavior = eb;
      }
      if (s.contains("public") && s["public"].is_boolean())
        t.settings.public_endpoint = s["public"];
      // Riffle: per-trigger limits (absent → no timeout, 3 retries).
      if (s.contains("run_timeout") && !s["run_timeout"].is_null()) {
        if (!s["run_timeout"].is_string())
          return reply(
              Response::Error(400, "'run_timeout' must be a duration string such as \"30s\""));
        auto d = schedule::ParseHumanDuration(s["run_timeout"].get<std::string>());
        if (!d.ok())
          return reply(Response::Error(400, "invalid run_timeout: " + d.status().message()));
        if (d->count() <= 0)
          return reply(Response::Error(400, "invalid run_timeout: expected a positive duration"));
        t.settings.run_timeout_ns = d->count();
      }
      if (s.contains("queue_size") && !s["queue_size"].is_null()) {
        if (!s["queue_size"].is_number_integer() || s["queue_size"].get<int64_t>() < 1 ||
            s["queue_size"].get<int64_t>() > 1000000)
          return reply(Response::Error(400, "'queue_size' must be an integer from 1 to 1000000"));
        t.settings.queue_size = s["queue_size"].get<int64_t>();
      }
      if (s.contains("max_retries") && !s["max_retries"].is_null()) {
        if (!s["max_retries"].is_number_integer() || s["max_retries"].get<int64_t>() < 0 ||
            s["max_retries"].get<int64_t>() > 100)
          return reply(Response::Error(400, "'max_retries' must be an integer from 0 to 100"));
        t.settings.max_retries = s["max_retries"].get<int>();
      }
    }
    if (j.contains("trigger_arguments") && j["trigger_arguments"].is_object()) {
      std::map<std::string, std::string> args;
      for (const auto& [k, v] : j["trigger_arguments"].items())
        args[k] = v.is_string() ? v.get<std::string>() : v.dump();
      t.arguments = std::move(args);
    }
    t.disabled = j.contains("disabled") && j["disabled"].is_boolean() && j["disabled"].get<bool>();
    reply(FromStatus(engine->CreateTrigger(std::move(t))));
  });
  for (bool enable : {true, false}) {
    api.AddRoute(std::string("/api/v3/configure/processing_engine_trigger/") +
                     (enable ? "enable" : "disable"),
                 [engine, enable](Request&& req, Reply reply) {
                   if (req.method != "POST")
                     return reply(Response::Error(
                         404, "not found: " + req.path + " does not take " + req.method));
                   auto params = ParamsOf(req);
                   if (!params.ok()) return reply(FromStatus(params.status()));
                   std::string db = StringField(*params, "db"),
                               name = StringField(*params, "trigger_name");
                   if (db.empty() || name.empty())
                     return reply(Response::Error(400, "missing 'db' or 'trigger_name'"));
                   reply(FromStatus(engine->SetTriggerEnabled(db, name, enable)));
                 });
  }
  // Plugin files (InfluxDB 3.6+): POST writes a file into --plugin-dir, PUT replaces the code
  // of the trigger named by plugin_name (GET reads it); PUT .../directory replaces a directory
  // plugin whole.
  api.AddRoute("/api/v3/plugins/files", [engine](Request&& req, Reply reply) {
    if (req.method == "GET") {  // Riffle: the code a PUT would replace, for the console's editor
      const std::string* name = req.Param("plugin_name");
      if (!name || name->empty())
        return reply(Response::Error(400, "'plugin_name' is required: the trigger's name"));
      auto found = engine->ReadTriggerPlugin(*name);
      if (!found.ok()) return reply(FromStatus(found.status()));
      return reply(Response::Json(
          200,
          json({{"plugin_name", *name}, {"database", found->first}, {"content", found->second}})
              .dump()));
    }
    if (req.method != "POST" && req.method != "PUT")
      return reply(Response::Error(404, "not found: " + req.path + " does not take " + req.method));
    auto body = ParseJsonBody(req);
    if (!body.ok()) return reply(FromStatus(body.status()));
    const json& j = (*body)->value;
    if (!j.contains("content") || !j["content"].is_string())
      return reply(Response::Error(400, "'content' is required: the plugin file's text"));
    std::string name = StringField(j, "plugin_name");
    if (req.method == "POST") return reply(FromStatus(engine->SavePluginFile(name, j["content"])));
    auto db = engine->UpdateTriggerPlugin(name, j["content"]);
    reply(FromStatus(db.status()));
  });
  api.AddRoute("/api/v3/plugins/directory", [engine](Request&& req, Reply reply) {
    if (req.method != "PUT")
      return reply(Response::Error(404, "not found: " + req.path + " does not take " + req.method));
    auto body = ParseJsonBody(req);
    if (!body.ok()) return reply(FromStatus(body.status()));
    const json& j = (*body)->value;
    std::vector<std::pair<std::string, std::string>> files;
    if (j.contains("files") && j["files"].is_array())
      for (const auto& f : j["files"]) {
        if (!f.is_object() || !f.contains("relative_path") || !f["relative_path"].is_string() ||
            !f.contains("content") || !f["content"].is_string())
          return reply(Response::Error(
              400, "each of 'files' must be {\"relative_path\": …, \"content\": …}"));
        files.emplace_back(f["relative_path"], f["content"]);
      }
    auto db = engine->ReplaceTriggerPluginDirectory(StringField(j, "plugin_name"), files);
    reply(FromStatus(db.status()));
  });
  api.AddRoute("/api/v3/configure/plugin_environment/install_packages", [engine](Request&& req,
                                                                                 Reply reply) {
    if (req.method != "POST")
      return reply(Response::Error(404, "not found: " + req.path + " does not take " + req.method));
    auto params = ParamsOf(req);
    if (!params.ok()) return reply(FromStatus(params.status()));
    std::vector<std::string> packages;
    if (params->contains("packages") && (*params)["packages"].is_array())
      for (const auto& p : (*params)["packages"])
        if (p.is_string()) packages.push_back(p);
    reply(FromStatus(engine->InstallPackages(packages)));
  });
  api.AddRoute("/api/v3/configure/plugin_environment/install_requirements", [engine](Request&& req,
                                                                                     Reply reply) {
    if (req.method != "POST")
      return reply(Response::Error(404, "not found: " + req.path + " does not take " + req.method));
    auto params = ParamsOf(req);
    if (!params.ok()) return reply(FromStatus(params.status()));
    std::string path = StringField(*params, "requirements_location");
    if (path.empty()) return reply(Response::Error(400, "missing 'requirements_location'"));
    reply(FromStatus(engine->InstallRequirements(path)));
  });
  for (const char* kind : {"wal", "schedule", "request"}) {
    api.AddRoute(std::string("/api/v3/plugin_test/") + kind, [engine, kind = std::string(kind)](
                                                                 Request&& req, Reply reply) {
      if (req.method != "POST")
        return reply(
            Response::Error(404, "not found: " + req.path + " does not take " + req.method));
      auto body = ParseJsonBody(req);
      if (!body.ok()) return reply(FromStatus(body.status()));
      auto done = [reply](Result<json> r) {
        if (!r.ok()) return reply(Response::Error(HttpStatusFor(r.status()), r.status().message()));
        reply(Response::Json(200, r->dump(-1, ' ', false, json::error_handler_t::replace)));
      };
      if (kind == "wal")
        engine->TestWalPlugin((*body)->value, done);
      else if (kind == "schedule")
        engine->TestSchedulePlugin((*body)->value, done);
      else
        engine->TestRequestPlugin((*body)->value, done);
    });
  }
  api.AddRoute("/metrics", [engine](Request&& req, Reply reply) {
    if (req.method != "GET")
      return reply(Response::Error(404, "not found: " + req.path + " does not take " + req.method));
    Response r{
        200, "text/plain; version=0.0.4; charset=utf-8", engine->Metrics() + metrics::Render(), {}};
    reply(std::move(r));
  });
  api.AddRoute("/api/v3/engine/", [engine](Request&& req, Reply reply) {
    if (req.method != "GET" && req.method != "POST")
      return reply(Response::Error(404, "not found: " + req.path + " does not take " + req.method));
    std::string path = req.path.substr(std::string("/api/v3/engine/").size());
    engine->HandleRequest(path, req.query, req.headers, std::move(req.body),
                          [reply](plugin::HttpReply r) {
                            Response resp{r.status, "", std::move(r.body), {}};
                            for (auto& [k, v] : r.headers) {
                              std::string lower = k;
                              for (char& c : lower)
                                c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
                              if (lower == "content-type")
                                resp.content_type = v;
                              else
                                resp.headers.emplace_back(k, v);
                            }
                            if (resp.content_type.empty() && !resp.body.empty())
                              resp.content_type = "application/json";
                            reply(std::move(resp));
                          });
  });
}

}  // namespace riffle::http
