// `update database` (retention) and `show system` (the system tables, as InfluxDB 3's CLI).
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "cli/client_common.h"

namespace riffle::cli {

using nlohmann::json;

namespace {

// The system tables every database has (COMPAT §5).
constexpr const char* kSystemTables[] = {"parquet_files", "processing_engine_logs", "processing_engine_trigger_arguments",
                                         "processing_engine_triggers", "queries"};

struct SystemArgs {
  ClientOptions opts;
  std::string database, table, retention, format = "pretty", order_by;
  std::vector<std::string> select;
  int limit = 100, summary_limit = 10;
};

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
  CLI::App* update = app.add_subcommand("update", "Update a resource (database retention)");
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

  CLI::App* show = app.get_subcommand("show");
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
