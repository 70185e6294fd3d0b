// Backups over HTTP, as InfluxDB 3 Enterprise routes them: POST /api/v3/enterprise/backup
// creates one ({"backup_name", "type": "full"|"incremental", "parent", "force"}), GET lists them,
// GET|DELETE /api/v3/enterprise/backup/{name} shows or deletes one. Admin tokens only.
#include <nlohmann/json.hpp>

#include "backup/backup.h"
#include "http/api.h"
#include "http/json_body.h"

namespace riffle::http {

using nlohmann::json;

void RegisterBackupRoutes(Api& api, objstore::ObjectStore* store, persist::Persister* persister,
                          const std::string& node, const std::string& shared,
                          const std::string& refused) {
  auto failed = [](const Status& st) { return Response::Error(HttpStatusFor(st), st.message()); };
  const std::string base = "/api/v3/enterprise/backup";
  api.AddRoute(base, [=](Request&& req, Reply reply) {
    if (!refused.empty()) return reply(Response::Error(405, refused));
    if (req.method == "GET") {
      auto all = backup::ListBackups(store, node);
      if (!all.ok()) return reply(failed(all.status()));
      json out = json::array();
      for (const auto& b : *all) out.push_back(backup::ToJson(b));
      return reply(Response::Json(200, out.dump()));
    }
    if (req.method != "POST")
      return reply(Response::Error(404, "not found: " + base + " takes GET or POST"));
    backup::BackupRequest request;
    if (!req.body.empty()) {
      auto body = ParseJsonBody(req);
      if (!body.ok()) return reply(failed(body.status()));
      const json& j = (*body)->value;
      request.name = j.value("backup_name", "");
      request.parent = j.value("parent", "");
      request.force = j.value("force", false);
      std::string type = j.value("type", request.parent.empty() ? "full" : "incremental");
      if (type != "full" && type != "incremental")
        return reply(
            Response::Error(400, "invalid type '" + type + "': expected full or incremental"));
      if (type == "incremental" && request.parent.empty())
        return reply(
            Response::Error(400, "an incremental backup needs 'parent': the backup it follows"));
      if (type == "full" && !request.parent.empty())
        return reply(
            Response::Error(400, "a full backup has no parent; use \"type\": \"incremental\""));
    }
    auto made = backup::CreateBackup(store, persister, node, shared, request);
    if (!made.ok()) return reply(failed(made.status()));
    reply(Response::Json(200, backup::ToJson(*made).dump()));
  });
  // Enterprise restores in place through /api/v3/enterprise/restore; Riffle restores into an
  // empty store before the server starts, so the route explains where to go.
  for (const char* restore : {"/api/v3/enterprise/restore", "/api/v3/enterprise/restore/"})
    api.AddRoute(restore, [](Request&&, Reply reply) {
      reply(Response::Error(
          405,
          "a running server does not restore itself: stop it, then run influxdb3 create "
          "restore --backup NAME --node-id ID --data-dir DIR (or --object-store s3 "
          "--bucket B) into an empty data dir or bucket, and start serve on it"));
    });
  api.AddRoute(base + "/", [=](Request&& req, Reply reply) {
    if (!refused.empty()) return reply(Response::Error(405, refused));
    std::string name = req.path.substr(base.size() + 1);
    if (req.method == "GET") {
      auto info = backup::ReadBackup(store, node, name);
      if (!info.ok()) return reply(failed(info.status()));
      return reply(Response::Json(200, backup::ToJson(*info).dump()));
    }
    if (req.method == "DELETE") {
      Status st = backup::DeleteBackup(store, node, name);
      if (!st.ok()) return reply(failed(st));
      return reply(Response::Empty(200));
    }
    reply(Response::Error(404, "not found: " + req.path + " takes GET or DELETE"));
  });
}

}  // namespace riffle::http
