// create / show / delete for databases and tables.
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "cli/cli.h"
#include "cli/client_common.h"

namespace riffle::cli {

using nlohmann::json;

namespace {

struct Args {
  ClientOptions opts;
  std::string database, name, retention, format = "pretty", hard_delete;
  std::vector<std::string> tags, fields;
  bool yes = false, show_deleted = false, data_only = false, remove_tables = false;
};

}  // namespace

bool Confirm(const std::string& what) {
  std::cout << "Are you sure you want to delete " << what << "? Enter 'yes' to confirm: " << std::flush;
  std::string answer;
  std::getline(std::cin, answer);
  return answer == "yes" || answer == "y";
}

void RegisterCatalogCommands(CLI::App& app, std::function<int()>* action) {
  CLI::App* create = app.add_subcommand("create", "Create a resource (database, table, trigger, token, last_cache, distinct_cache)");
  CLI::App* show = app.add_subcommand("show", "List resources (databases, triggers, tokens, system tables)");
  CLI::App* del = app.add_subcommand(
      "delete",
      "Delete a resource (database, table, rows, trigger, token, last_cache, distinct_cache)");
  for (CLI::App* group : {create, show, del}) group->require_subcommand(1);

  auto a = std::make_shared<Args>();
  CLI::App* create_db = create->add_subcommand("database", "Create a database");
  AddCommonOptions(create_db, &a->opts, nullptr, false);
  create_db->add_option("name", a->name, "database name")->required();
  create_db->add_option("--retention-period", a->retention, "e.g. 30d");
  create_db->callback([a, action] {
    *action = [a] {
      json body = {{"db", a->name}};
      if (!a->retention.empty()) body["retention_period"] = a->retention;
      return Call(a->opts, "POST", "/api/v3/configure/database", body.dump(), "application/json",
                  "Database \"" + a->name + "\" created successfully");
    };
  });

  CLI::App* create_table = create->add_subcommand("table", "Create a table");
  AddCommonOptions(create_table, &a->opts, &a->database, true);
  create_table->add_option("name", a->name, "table name")->required();
  create_table->add_option("--tags", a->tags, "tag column names")->delimiter(',')->allow_extra_args(false)->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  create_table->add_option("-f,--fields", a->fields, "field columns as name:type (int64|uint64|float64|utf8|bool)")
      ->delimiter(',')->allow_extra_args(false)->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  create_table->add_option("--retention-period", a->retention,
                           "the table's own retention period, e.g. 7d (default: the database's)");
  create_table->callback([a, action] {
    *action = [a] {
      json fields = json::array();
      for (const auto& f : a->fields) {
        size_t colon = f.find(':');
        if (colon == std::string::npos) return Fail("field '" + f + "' must be formatted as name:type");
        fields.push_back({{"name", f.substr(0, colon)}, {"type", f.substr(colon + 1)}});
      }
      json body = {{"db", a->database}, {"table", a->name}, {"tags", a->tags}, {"fields", fields}};
      if (!a->retention.empty()) body["retention_period"] = a->retention;
      return Call(a->opts, "POST", "/api/v3/configure/table", body.dump(), "application/json",
                  "Table \"" + a->database + "\".\"" + a->name + "\" created successfully");
    };
  });

  CLI::App* show_dbs = show->add_subcommand("databases", "List databases");
  AddCommonOptions(show_dbs, &a->opts, nullptr, false);
  show_dbs->add_flag("--show-deleted", a->show_deleted, "include soft-deleted databases");
  show_dbs->add_option("--format", a->format, "pretty, json, jsonl or csv")
      ->check(CLI::IsMember({"pretty", "json", "jsonl", "csv"}));
  show_dbs->callback([a, action] {
    *action = [a] {
      std::string body;
      int rc = Call(a->opts, "GET",
                    "/api/v3/configure/database?format=" + a->format +
                        (a->show_deleted ? "&show_deleted=true" : ""),
                    "", "", "", &body);
      if (rc == 0) std::cout << body << (body.empty() || body.back() == '\n' ? "" : "\n");
      return rc;
    };
  });

  CLI::App* del_db = del->add_subcommand("database", "Delete a database");
  AddCommonOptions(del_db, &a->opts, nullptr, false);
  del_db->add_option("name", a->name, "database name")->required();
  del_db->add_flag("-y,--yes", a->yes, "do not ask for confirmation");
  del_db->add_option(
      "--hard-delete", a->hard_delete,
      "never|now|default|<RFC3339> (Riffle removes the files at once in every case)");
  del_db->add_flag("--data-only", a->data_only,
                   "delete every row, keep the database, its tables and resources");
  del_db->add_flag("--remove-tables", a->remove_tables,
                   "with --data-only: not supported (refused)");
  del_db->callback([a, action] {
    *action = [a] {
      std::string what =
          (a->data_only ? "every row of database \"" : "database \"") + a->name + "\"";
      if (!a->yes && !Confirm(what)) return Fail("cannot delete database without confirmation");
      std::string path = "/api/v3/configure/database?db=" + UrlEncode(a->name);
      if (!a->hard_delete.empty()) path += "&hard_delete_at=" + UrlEncode(a->hard_delete);
      if (a->data_only) path += "&data_only=true";
      if (a->remove_tables) path += "&remove_tables=true";
      return Call(a->opts, "DELETE", path, "", "",
                  a->data_only ? "Data of database \"" + a->name + "\" deleted successfully"
                               : "Database \"" + a->name + "\" deleted successfully");
    };
  });

  CLI::App* del_table = del->add_subcommand("table", "Delete a table");
  AddCommonOptions(del_table, &a->opts, &a->database, true);
  del_table->add_option("name", a->name, "table name")->required();
  del_table->add_flag("-y,--yes", a->yes, "do not ask for confirmation");
  del_table->add_option(
      "--hard-delete", a->hard_delete,
      "never|now|default|<RFC3339> (Riffle removes the files at once in every case)");
  del_table->add_flag("--data-only", a->data_only,
                      "delete every row, keep the table, its schema and caches");
  del_table->callback([a, action] {
    *action = [a] {
      std::string what = std::string(a->data_only ? "every row of table" : "table") + " \"" +
                         a->database + "\".\"" + a->name + "\"";
      if (!a->yes && !Confirm(what)) return Fail("cannot delete table without confirmation");
      std::string path =
          "/api/v3/configure/table?db=" + UrlEncode(a->database) + "&table=" + UrlEncode(a->name);
      if (!a->hard_delete.empty()) path += "&hard_delete_at=" + UrlEncode(a->hard_delete);
      if (a->data_only) path += "&data_only=true";
      return Call(a->opts, "DELETE", path, "", "",
                  (a->data_only ? "Data of table \"" : "Table \"") + a->database + "\".\"" +
                      a->name + "\" deleted successfully");
    };
  });
}

void RegisterClientCommands(CLI::App& app, std::function<int()>* action) {
  RegisterDataCommands(app, action);
  RegisterCatalogCommands(app, action);
  RegisterCacheCommands(app, action);
  RegisterRowDeleteCommands(app, action);
  RegisterBackupCommands(app, action);
  RegisterExportCommands(app, action);
  RegisterImportCommands(app, action);
  RegisterTriggerCommands(app, action);
  RegisterSystemCommands(app, action);
  RegisterPluginFileCommands(app, action);
}

}  // namespace riffle::cli
