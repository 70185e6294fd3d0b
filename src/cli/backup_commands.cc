// influxdb3 create backup | show backups | delete backup (InfluxDB 3 Enterprise's commands) over
// /api/v3/enterprise/backup. `create restore` works on the stored files and is in app/.
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "cli/cli.h"
#include "cli/client_common.h"

namespace riffle::cli {

using nlohmann::json;

namespace {

struct BackupArgs {
  ClientOptions opts;
  std::string name, parent, format = "pretty";
  bool incremental = false, force = false, yes = false;
};

std::string Describe(const json& b) {
  std::string out = b.value("backup_name", "") + "\t" + b.value("type", "") + "\t" +
                    b.value("status", "") + "\tcreated " + b.value("created_at", "") +
                    "\tWAL up to " + std::to_string(b.value("wal_sequence", uint64_t{0})) + "\t" +
                    std::to_string(b.value("object_count", 0)) + " objects, " +
                    std::to_string(b.value("bytes", int64_t{0})) + " bytes (" +
                    std::to_string(b.value("copied_bytes", int64_t{0})) + " copied)";
  if (b.contains("parent")) out += "\tparent " + b["parent"].get<std::string>();
  return out;
}

}  // namespace

void RegisterBackupCommands(CLI::App& app, std::function<int()>* action) {
  auto a = std::make_shared<BackupArgs>();
  CLI::App* create = app.get_subcommand("create")->add_subcommand(
      "backup",
      "Back up the server's catalog, WAL and Parquet files into its object store (consistent; "
      "writes go on)");
  AddCommonOptions(create, &a->opts, nullptr, false);
  create->add_option("--name", a->name, "the backup's name (default: backup-<UTC time>)");
  create->add_flag("--incremental", a->incremental, "copy only what --parent does not hold");
  create->add_option("--parent", a->parent, "with --incremental: the backup this one follows");
  create->add_flag("--force", a->force, "replace a backup of the same name");
  create->callback([a, action] {
    *action = [a] {
      if (a->incremental != !a->parent.empty())
        return Fail("an incremental backup needs --incremental and --parent NAME together");
      json body = {{"type", a->incremental ? "incremental" : "full"}, {"force", a->force}};
      if (!a->name.empty()) body["backup_name"] = a->name;
      if (!a->parent.empty()) body["parent"] = a->parent;
      std::string out;
      int rc = Call(a->opts, "POST", "/api/v3/enterprise/backup", body.dump(), "application/json",
                    "", &out);
      if (rc != 0) return rc;
      json b = json::parse(out, nullptr, false);
      if (b.is_discarded()) return Fail("unexpected answer from the server: " + out);
      std::cout << "Backup \"" << b.value("backup_name", "") << "\" completed: " << Describe(b)
                << "\n";
      return 0;
    };
  });

  CLI::App* show =
      app.get_subcommand("show")->add_subcommand("backups", "List the server's backups");
  AddCommonOptions(show, &a->opts, nullptr, false);
  show->add_option("--format", a->format, "pretty or json")
      ->check(CLI::IsMember({"pretty", "json"}));
  show->callback([a, action] {
    *action = [a] {
      std::string out;
      int rc = Call(a->opts, "GET", "/api/v3/enterprise/backup", "", "", "", &out);
      if (rc != 0) return rc;
      json list = json::parse(out, nullptr, false);
      if (list.is_discarded()) return Fail("unexpected answer from the server: " + out);
      if (a->format == "json") {
        std::cout << list.dump(2) << "\n";
        return 0;
      }
      if (list.empty()) std::cout << "no backups\n";
      for (const auto& b : list) std::cout << Describe(b) << "\n";
      return 0;
    };
  });

  CLI::App* del = app.get_subcommand("delete")->add_subcommand("backup", "Delete a backup");
  AddCommonOptions(del, &a->opts, nullptr, false);
  del->add_option("--name", a->name, "the backup to delete")->required();
  del->add_flag("-y,--yes", a->yes, "do not ask for confirmation");
  del->callback([a, action] {
    *action = [a] {
      if (!a->yes && !Confirm("backup \"" + a->name + "\""))
        return Fail("cannot delete backup without confirmation");
      return Call(a->opts, "DELETE", "/api/v3/enterprise/backup/" + a->name, "", "",
                  "Backup \"" + a->name + "\" deleted successfully");
    };
  });
}

}  // namespace riffle::cli
