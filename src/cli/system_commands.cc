// `update database` (retention), `show system` (the system tables, as InfluxDB 3's CLI) and
// the admin-token commands (`create token --admin`, `show tokens`, `delete token`).
#include <fcntl.h>
#include <unistd.h>
#include <cstring>
#include <filesystem>
#include <chrono>
#include <iostream>
#include <memory>
#include <optional>
#include <nlohmann/json.hpp>

#include "auth/permission.h"
#include "auth/token_store.h"
#include "cli/client_common.h"
#include "schedule/schedule.h"

namespace riffle::cli {

using nlohmann::json;

namespace {

// The system tables every database has (COMPAT §5).
constexpr const char* kSystemTables[] = {"influxdb_schema",
                                         "parquet_files",
                                         "processing_engine_logs",
                                         "processing_engine_trigger_arguments",
                                         "processing_engine_triggers",
                                         "queries",
                                         "row_deletes"};

struct SystemArgs {
  ClientOptions opts;
  std::string database, table, retention, format = "pretty", order_by;
  std::vector<std::string> select;
  int limit = 100, summary_limit = 10;
  // tokens
  bool admin = false, regenerate = false;
  std::string token_name, expiry, token_format = "text";
  std::vector<std::string> permissions;
  bool offline = false;
  std::string output_file;
};

// `create token --admin --offline --output-file F`: the token made here, never sent anywhere, and
// written where `serve --admin-token-file F` reads it (JSON, mode 0600, replaced atomically).
int WriteOfflineAdminToken(const std::string& name, std::optional<int64_t> expiry_secs, const std::string& path) {
  auto secret = auth::NewTokenSecret();
  if (!secret.ok()) return Fail(secret.status().message());
  json j = {{"token", *secret}, {"name", name.empty() ? std::string(auth::kOperatorTokenName) : name}};
  if (expiry_secs) {
    auto now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::system_clock::now().time_since_epoch())
                      .count();
    j["expiry_millis"] = now_ms + *expiry_secs * 1000;
  }
  std::filesystem::path target(path);
  std::filesystem::path tmp = target.parent_path() / ("." + target.filename().string() + ".tmp");
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return Fail("cannot write " + tmp.string() + ": " + std::strerror(errno));
  std::string text = j.dump(2) + "\n";
  bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) && ::fsync(fd) == 0;
  ::close(fd);
  std::error_code ec;
  if (ok) std::filesystem::rename(tmp, target, ec);
  if (!ok || ec) {
    std::filesystem::remove(tmp, ec);
    return Fail("cannot write " + path);
  }
  std::cout << "Token saved to: " << path << "\n";
  return 0;
}

std::string Ident(const std::string& name) {
  std::string out = "\"";
  for (char c : name) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

int Query(const SystemArgs& a, const std::string& sql) {
  json body = {{"db", a.database}, {"q", sql}, {"format", a.format}};
  std::string out;
  int rc = Call(a.opts, "POST", "/api/v3/query_sql", body.dump(), "application/json", "", &out);
  if (rc == 0) std::cout << out << (out.empty() || out.back() == '\n' ? "" : "\n");
  return rc;
}

int ShowTable(const SystemArgs& a, const std::string& table, int limit) {
  bool known = false;
  for (const char* t : kSystemTables) known |= table == t;
  if (!known) {
    std::string list;
    for (const char* t : kSystemTables) list += std::string(list.empty() ? "" : ", ") + t;
    return Fail("unknown system table '" + table + "': expected one of " + list);
  }
  std::string cols;
  for (const auto& c : a.select) cols += (cols.empty() ? "" : ", ") + Ident(c);
  std::string sql = "SELECT " + (cols.empty() ? "*" : cols) + " FROM system." + table;
  if (!a.order_by.empty()) {
    std::string order;
    for (size_t start = 0; start <= a.order_by.size();) {
      size_t comma = a.order_by.find(',', start);
      if (comma == std::string::npos) comma = a.order_by.size();
      order += (order.empty() ? "" : ", ") + Ident(a.order_by.substr(start, comma - start));
      start = comma + 1;
    }
    sql += " ORDER BY " + order;
  }
  if (limit > 0) sql += " LIMIT " + std::to_string(limit);
  return Query(a, sql);
}

}  // namespace

void RegisterSystemCommands(CLI::App& app, std::function<int()>* action) {
  auto a = std::make_shared<SystemArgs>();
  CLI::App* update = app.add_subcommand("update", "Update a resource (database or table retention)");
  update->require_subcommand(1);
  CLI::App* update_db = update->add_subcommand("database", "Change a database's retention period");
  AddCommonOptions(update_db, &a->opts, &a->database, true);
  update_db->add_option("-r,--retention-period", a->retention, "a duration such as 30d, or none")->required();
  update_db->callback([a, action] {
    *action = [a] {
      json body = {{"db", a->database}, {"retention_period", nullptr}};
      if (a->retention != "none") body["retention_period"] = a->retention;
      return Call(a->opts, "PUT", "/api/v3/configure/database", body.dump(), "application/json",
                  "Database \"" + a->database + "\" updated successfully");
    };
  });

  CLI::App* update_table = update->add_subcommand("table", "Change a table's own retention period");
  AddCommonOptions(update_table, &a->opts, &a->database, true);
  update_table->add_option("name", a->table, "table name")->required();
  update_table->add_option("-r,--retention-period", a->retention,
                           "a duration such as 7d, or none (the database's applies again)")
      ->required();
  update_table->callback([a, action] {
    *action = [a] {
      json body = {{"db", a->database}, {"table", a->table}, {"retention_period", nullptr}};
      if (a->retention != "none") body["retention_period"] = a->retention;
      return Call(a->opts, "PUT", "/api/v3/configure/table", body.dump(), "application/json",
                  "Table \"" + a->database + "\".\"" + a->table + "\" updated successfully");
    };
  });

  CLI::App* create_token = app.get_subcommand("create")->add_subcommand(
      "token", "Create an admin token (--admin) or a resource token (--permission)");
  AddCommonOptions(create_token, &a->opts, nullptr, false);
  create_token->add_flag("--admin", a->admin, "an admin token: every right");
  create_token->add_option("--permission", a->permissions,
                           "a resource token's right, repeatable: db:NAME[,NAME]:read[,write] (NAME may be *) "
                           "or system:health|metrics|ping|ready:read");
  create_token->add_option("--name", a->token_name,
                           "the token's name (admin: default the operator token _admin; required with --permission)");
  create_token->add_option("--expiry", a->expiry, "named tokens: expire after this duration, e.g. 30d or 1y");
  create_token->add_flag("--regenerate", a->regenerate, "replace the operator token (the old one stops working)");
  create_token->add_flag("--offline", a->offline,
                         "with --admin: make the token here, without a server, into --output-file (for serve "
                         "--admin-token-file)");
  create_token->add_option("--output-file", a->output_file, "with --offline: where the token file goes");
  create_token->add_option("--format", a->token_format, "text or json")->check(CLI::IsMember({"text", "json"}));
  create_token->callback([a, action] {
    *action = [a] {
      if (a->admin == !a->permissions.empty())
        return Fail("create token needs either --admin or --permission (e.g. --permission \"db:mydb:read,write\")");
      std::optional<int64_t> expiry_secs;
      if (!a->expiry.empty()) {
        auto d = schedule::ParseHumanDuration(a->expiry);
        if (!d.ok()) return Fail("invalid --expiry: " + d.status().message());
        expiry_secs = std::max<int64_t>(1, std::chrono::duration_cast<std::chrono::seconds>(*d).count());
      }
      if (a->offline) {
        if (!a->admin) return Fail("--offline makes admin tokens only: add --admin");
        if (a->output_file.empty()) return Fail("--offline needs --output-file PATH: where to write the token");
        if (a->regenerate) return Fail("--offline cannot regenerate: it makes a token without a server");
        return WriteOfflineAdminToken(a->token_name, expiry_secs, a->output_file);
      }
      std::string path = "/api/v3/configure/token/admin", body;
      if (!a->permissions.empty()) {
        if (a->token_name.empty()) return Fail("a resource token needs a name: --name NAME");
        if (a->regenerate) return Fail("--regenerate replaces the operator token; it does not take --permission");
        path = "/api/v3/enterprise/configure/token";
        json perms = json::array();
        for (const auto& text : a->permissions) {
          auto p = auth::ParsePermission(text);
          if (!p.ok()) return Fail("invalid --permission: " + p.status().message());
          json list = json::array();
          if (p->actions & auth::kRead) list.push_back("read");
          if (p->actions & auth::kWrite) list.push_back("write");
          if (p->actions & auth::kDelete) list.push_back("delete");
          perms.push_back({{"resource_type", p->resource_type}, {"resource_names", p->names}, {"actions", list}});
        }
        json j = {{"token_name", a->token_name}, {"permissions", perms}};
        j["expiry_secs"] = expiry_secs ? json(*expiry_secs) : json(nullptr);
        body = j.dump();
      } else if (a->regenerate) {
        path += "/regenerate";
      } else if (!a->token_name.empty() && a->token_name != "_admin") {
        path = "/api/v3/configure/token/named_admin";
        json j = {{"token_name", a->token_name}};
        if (expiry_secs) j["expiry_secs"] = *expiry_secs;
        body = j.dump();
      }
      std::string out;
      int rc = Call(a->opts, "POST", path, body, body.empty() ? "" : "application/json", "", &out);
      if (rc != 0) return rc;
      json made = json::parse(out, nullptr, false);
      if (a->token_format == "json" || made.is_discarded()) {
        std::cout << out << "\n";
        return 0;
      }
      std::string token = made.value("token", "");
      std::cout << "New token created successfully!\n\n"
                << "Token: " << token << "\n"
                << "HTTP Requests Header: Authorization: Bearer " << token << "\n\n"
                << "IMPORTANT: Store this token securely, as it will not be shown again.\n";
      return 0;
    };
  });
  CLI::App* delete_token = app.get_subcommand("delete")->add_subcommand("token", "Delete a named token");
  AddCommonOptions(delete_token, &a->opts, nullptr, false);
  delete_token->add_option("--token-name", a->token_name, "the token's name")->required();
  delete_token->callback([a, action] {
    *action = [a] {
      return Call(a->opts, "DELETE", "/api/v3/configure/token?token_name=" + UrlEncode(a->token_name), "", "",
                  "Token \"" + a->token_name + "\" deleted successfully");
    };
  });

  CLI::App* show = app.get_subcommand("show");
  CLI::App* show_plugins = show->add_subcommand("plugins", "List the plugin files the triggers use");
  AddCommonOptions(show_plugins, &a->opts, nullptr, false);
  show_plugins->add_option("--format", a->format, "pretty, json, jsonl or csv")
      ->check(CLI::IsMember({"pretty", "json", "jsonl", "csv"}));
  show_plugins->callback([a, action] {
    *action = [a] {
      SystemArgs internal = *a;
      internal.database = "_internal";
      return Query(internal, "SELECT * FROM system.plugin_files ORDER BY plugin_name, file_name");
    };
  });
  CLI::App* show_retention = show->add_subcommand(
      "retention", "Show the retention periods: each database's, and each table's own where it has one");
  AddCommonOptions(show_retention, &a->opts, nullptr, false);
  show_retention->add_option("--database", a->database, "only this database");
  show_retention->add_option("--format", a->format, "pretty, json, jsonl or csv")
      ->check(CLI::IsMember({"pretty", "json", "jsonl", "csv"}));
  show_retention->callback([a, action] {
    *action = [a] {
      // As InfluxDB 3 prints it: whole days, hours, minutes, else seconds; 'infinite' for none.
      auto human = [](const std::string& ns) {
        return "CASE WHEN " + ns + " IS NULL THEN 'infinite' WHEN " + ns + " % 86400000000000 = 0 THEN CAST(" + ns +
               " // 86400000000000 AS VARCHAR) || 'd' WHEN " + ns + " % 3600000000000 = 0 THEN CAST(" + ns +
               " // 3600000000000 AS VARCHAR) || 'h' WHEN " + ns + " % 60000000000 = 0 THEN CAST(" + ns +
               " // 60000000000 AS VARCHAR) || 'm' ELSE CAST(" + ns + " // 1000000000 AS VARCHAR) || 's' END";
      };
      std::string only;
      if (!a->database.empty()) {
        std::string quoted;
        for (char c : a->database) quoted += c == '\'' ? std::string("''") : std::string(1, c);
        only = " AND database_name = '" + quoted + "'";
      }
      SystemArgs internal = *a;
      internal.database = "_internal";
      return Query(internal, "SELECT database_name, '*' AS table_name, " + human("retention_period_ns") +
                                 " AS retention_period FROM system.databases WHERE NOT deleted" + only +
                                 " UNION ALL SELECT database_name, table_name, " + human("retention_period_ns") +
                                 " FROM system.tables WHERE retention_period_ns IS NOT NULL" + only +
                                 " ORDER BY database_name, table_name");
    };
  });
  CLI::App* show_tokens = show->add_subcommand("tokens", "List the tokens (never their secrets)");
  AddCommonOptions(show_tokens, &a->opts, nullptr, false);
  show_tokens->callback([a, action] {
    *action = [a] {
      std::string out;
      int rc = Call(a->opts, "GET", "/api/v3/configure/token", "", "", "", &out);
      if (rc != 0) return rc;
      json list = json::parse(out, nullptr, false);
      if (list.is_discarded()) return Fail("unexpected answer from the server: " + out);
      for (const auto& t : list)
        std::cout << t.value("id", 0) << "\t" << t.value("name", "") << "\t" << t.value("permissions", "*:*:*")
                  << "\tcreated " << t.value("created_at", "")
                  << (t["expiry"].is_string() ? "\texpires " + t["expiry"].get<std::string>() : std::string()) << "\n";
      return 0;
    };
  });
  CLI::App* system = show->add_subcommand("system", "Show the system tables of a database");
  AddCommonOptions(system, &a->opts, &a->database, true);
  system->add_option("--format", a->format, "pretty, json, jsonl or csv")
      ->check(CLI::IsMember({"pretty", "json", "jsonl", "csv"}));
  system->require_subcommand(1);

  CLI::App* list = system->add_subcommand("table-list", "List the system tables");
  list->callback([a, action] {
    *action = [a] {
      std::string values;
      for (const char* t : kSystemTables) values += std::string(values.empty() ? "" : ", ") + "('" + t + "')";
      return Query(*a, "SELECT * FROM (VALUES " + values + ") AS t(system_table)");
    };
  });

  CLI::App* table = system->add_subcommand("table", "Show the rows of one system table");
  table->add_option("name", a->table, "system table name, e.g. parquet_files")->required();
  table->add_option("-l,--limit", a->limit, "most rows to show (0: all)")->check(CLI::NonNegativeNumber);
  table->add_option("-s,--select", a->select, "columns to show, comma-separated")->delimiter(',')
      ->allow_extra_args(false)->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  table->add_option("-o,--order-by", a->order_by, "columns to order by, comma-separated");
  for (CLI::App* sub : {list, table}) sub->fallthrough();  // --host, -d ... after the subcommand
  table->callback([a, action] { *action = [a] { return ShowTable(*a, a->table, a->limit); }; });

  CLI::App* summary = system->add_subcommand("summary", "Show the newest rows of every system table");
  summary->add_option("-l,--limit", a->summary_limit, "rows per table")->check(CLI::NonNegativeNumber);
  summary->fallthrough();
  summary->callback([a, action] {
    *action = [a] {
      for (const char* t : kSystemTables) {
        std::cout << t << " summary:\n";
        if (int rc = ShowTable(*a, t, a->summary_limit); rc != 0) return rc;
      }
      return 0;
    };
  });
}

}  // namespace riffle::cli
