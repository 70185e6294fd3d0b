// influxdb3 export databases | tables | windows | data (InfluxDB 3 Enterprise 3.9's bulk
// export): a table's rows as Parquet files, one per UTC day ("window"), through the query API
// (format=parquet), so it works against any server and user the query API serves.
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "cli/cli.h"
#include "cli/client_common.h"
#include "duck/duck.h"

namespace riffle::cli {

using nlohmann::json;

namespace {

struct ExportArgs {
  ClientOptions opts;
  std::string database, table, output_dir;
  std::vector<std::string> windows;
  std::string time_unit = "ns";
};

// The select list that writes `time` in `unit`: Parquet's nanosecond timestamps (what Riffle
// stores) are read by pandas and pyarrow, but Spark refuses them unless told to read them as
// integers; microseconds it reads as timestamps.
Result<std::string> SelectList(const std::string& unit) {
  if (unit == "ns") return std::string("*");
  if (unit == "us") return std::string("* REPLACE (CAST(time AS TIMESTAMP) AS time)");
  if (unit == "ms")
    return std::string("* REPLACE (CAST(CAST(time AS TIMESTAMP) AS TIMESTAMP_MS) AS time)");
  return Status::InvalidArgument("--time-unit '" + unit + "': expected ns, us or ms");
}

Result<json> QueryJson(const ExportArgs& a, const std::string& sql) {
  auto r = HttpCall(
      a.opts, "GET",
      "/api/v3/query_sql?db=" + UrlEncode(a.database) + "&format=json&q=" + UrlEncode(sql));
  if (!r.ok()) return r.status();
  if (r->status != 200) return Status::InvalidArgument(ErrorMessage(*r));
  json j = json::parse(r->body, nullptr, false);
  if (j.is_discarded())
    return Status::Internal("unexpected answer from the server: " + r->body.substr(0, 200));
  return j;
}

Result<std::vector<std::string>> Tables(const ExportArgs& a) {
  RIFFLE_ASSIGN_OR_RETURN(json rows,
                          QueryJson(a,
                                    "SELECT table_name FROM information_schema.tables WHERE "
                                    "table_schema = 'iox' ORDER BY table_name"));
  std::vector<std::string> out;
  for (const auto& r : rows) out.push_back(r.at("table_name"));
  return out;
}

// The UTC days that hold rows of `table`, with their row counts.
Result<std::vector<std::pair<std::string, int64_t>>> Windows(const ExportArgs& a,
                                                             const std::string& table) {
  RIFFLE_ASSIGN_OR_RETURN(json rows,
                          QueryJson(a,
                                    "SELECT strftime(date_trunc('day', time), '%Y-%m-%d') AS day, "
                                    "count(*) AS n FROM " +
                                        duck::QuoteIdent(table) + " GROUP BY 1 ORDER BY 1"));
  std::vector<std::pair<std::string, int64_t>> out;
  for (const auto& r : rows) out.emplace_back(r.at("day"), r.at("n"));
  return out;
}

int ExportData(const ExportArgs& a) {
  if (a.output_dir.empty()) return Fail("--output-dir is required: where the Parquet files go");
  auto select_list = SelectList(a.time_unit);
  if (!select_list.ok()) return Fail(select_list.status().message());
  std::vector<std::string> tables;
  if (!a.table.empty()) {
    tables.push_back(a.table);
  } else {
    auto all = Tables(a);
    if (!all.ok()) return Fail(all.status().message());
    tables = *all;
  }
  auto started = std::chrono::steady_clock::now();
  int64_t total_rows = 0, total_bytes = 0, files = 0;
  for (const auto& table : tables) {
    auto windows = Windows(a, table);
    if (!windows.ok()) return Fail("table '" + table + "': " + windows.status().message());
    size_t done = 0;
    for (const auto& [day, rows] : *windows) {
      ++done;
      if (!a.windows.empty() &&
          std::find(a.windows.begin(), a.windows.end(), day) == a.windows.end())
        continue;
      std::string sql = "SELECT " + *select_list + " FROM " + duck::QuoteIdent(table) +
                        " WHERE time >= " + duck::QuoteLiteral(day) + "::TIMESTAMP AND time < " +
                        duck::QuoteLiteral(day) + "::TIMESTAMP + INTERVAL 1 DAY ORDER BY time";
      auto r = HttpCall(
          a.opts, "GET",
          "/api/v3/query_sql?db=" + UrlEncode(a.database) + "&format=parquet&q=" + UrlEncode(sql));
      if (!r.ok()) return Fail(r.status().message());
      if (r->status != 200) return Fail("table '" + table + "', " + day + ": " + ErrorMessage(*r));
      std::filesystem::path dir = std::filesystem::path(a.output_dir) / table;
      std::error_code ec;
      std::filesystem::create_directories(dir, ec);
      if (ec) return Fail("cannot create " + dir.string() + ": " + ec.message());
      std::filesystem::path file = dir / (day + ".parquet");
      std::ofstream out(file, std::ios::binary | std::ios::trunc);
      out << r->body;
      out.close();
      if (!out) return Fail("cannot write " + file.string());
      total_rows += rows;
      total_bytes += static_cast<int64_t>(r->body.size());
      ++files;
      std::cerr << "[" << done << "/" << windows->size() << "] " << table << " " << day << ": "
                << rows << " rows, " << r->body.size() << " bytes -> " << file.string() << "\n";
    }
  }
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  std::cout << "Exported " << total_rows << " rows of " << tables.size() << " tables into " << files
            << " Parquet files (" << total_bytes << " bytes) in " << a.output_dir << " in " << secs
            << " s\n";
  return 0;
}

}  // namespace

void RegisterExportCommands(CLI::App& app, std::function<int()>* action) {
  auto a = std::make_shared<ExportArgs>();
  CLI::App* exp = app.add_subcommand(
      "export", "Export data as Parquet files (databases, tables, windows, data)");
  exp->require_subcommand(1);
  CLI::App* dbs = exp->add_subcommand("databases", "List the databases that can be exported");
  AddCommonOptions(dbs, &a->opts, nullptr, false);
  dbs->callback([a, action] {
    *action = [a] {
      std::string out;
      int rc = Call(a->opts, "GET", "/api/v3/configure/database?format=json", "", "", "", &out);
      if (rc != 0) return rc;
      json rows = json::parse(out, nullptr, false);
      if (rows.is_discarded()) return Fail("unexpected answer from the server: " + out);
      for (const auto& r : rows) std::cout << r.value("iox::database", "") << "\n";
      return 0;
    };
  });
  CLI::App* tables = exp->add_subcommand("tables", "List the tables of a database");
  AddCommonOptions(tables, &a->opts, &a->database, true);
  tables->callback([a, action] {
    *action = [a] {
      auto all = Tables(*a);
      if (!all.ok()) return Fail(all.status().message());
      for (const auto& t : *all) std::cout << t << "\n";
      return 0;
    };
  });
  CLI::App* windows =
      exp->add_subcommand("windows", "List the UTC days (windows) that hold rows of a table");
  AddCommonOptions(windows, &a->opts, &a->database, true);
  windows->add_option("-t,--table", a->table, "the table")->required();
  windows->callback([a, action] {
    *action = [a] {
      auto all = Windows(*a, a->table);
      if (!all.ok()) return Fail(all.status().message());
      for (const auto& [day, rows] : *all) std::cout << day << "\t" << rows << " rows\n";
      return 0;
    };
  });
  CLI::App* data =
      exp->add_subcommand("data", "Export rows as Parquet files, one per table and UTC day");
  AddCommonOptions(data, &a->opts, &a->database, true);
  data->add_option("-t,--table", a->table, "the table (default: every table)");
  data->add_option("--window", a->windows, "only these days, e.g. 2026-01-15,2026-01-16")
      ->delimiter(',')
      ->allow_extra_args(false);
  data->add_option("--time-unit", a->time_unit,
                   "the unit of the files' time column: ns (as stored), or us or ms (for Spark, "
                   "which reads no nanosecond timestamps)");
  data->add_option("-o,--output-dir", a->output_dir, "where to write <table>/<day>.parquet")
      ->required();
  data->callback([a, action] { *action = [a] { return ExportData(*a); }; });
}

}  // namespace riffle::cli
