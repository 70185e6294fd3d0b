// influxdb3 delete rows (InfluxDB 3 Enterprise's spelling): deletes rows of a table by time range
// and tag predicate through /api/v3/row_delete_requests.
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "cli/cli.h"
#include "cli/client_common.h"

namespace riffle::cli {

using nlohmann::json;

namespace {

struct RowDeleteArgs {
  ClientOptions opts;
  std::string database, table, min_time, max_time, predicate;
  bool all_time = false, yes = false;
};

// A time flag as the server takes it: integer nanoseconds stay a number.
json TimeValue(const std::string& text) {
  if (!text.empty() && text.find_first_not_of("-0123456789") == std::string::npos) {
    try {
      return std::stoll(text);
    } catch (const std::exception&) {
    }
  }
  return text;
}

}  // namespace

void RegisterRowDeleteCommands(CLI::App& app, std::function<int()>* action) {
  CLI::App* del = app.get_subcommand("delete");
  auto a = std::make_shared<RowDeleteArgs>();
  CLI::App* rows = del->add_subcommand(
      "rows",
      "Delete rows of a table by time range and tag predicate (gone from queries when it returns)");
  AddCommonOptions(rows, &a->opts, &a->database, true);
  rows->add_option("-t,--table", a->table, "the table to delete rows from")->required();
  rows->add_option("--min-time", a->min_time,
                   "start of the range, inclusive (RFC 3339 or nanoseconds)");
  rows->add_option("--max-time", a->max_time,
                   "end of the range, exclusive (RFC 3339 or nanoseconds)");
  rows->add_flag("--all-time", a->all_time, "delete matching rows of every time");
  rows->add_option(
      "-p,--predicate,--where", a->predicate,
      "tag equality joined by AND, e.g. 'host = \"a\" AND region = \"us\"' (default: every row)");
  rows->add_flag("-y,--yes", a->yes, "do not ask for confirmation");
  rows->callback([a, action] {
    *action = [a] {
      if (a->all_time && (!a->min_time.empty() || !a->max_time.empty()))
        return Fail("--all-time cannot be combined with --min-time or --max-time");
      if (!a->all_time && a->min_time.empty() && a->max_time.empty())
        return Fail(
            "a delete needs an explicit time scope: --min-time and/or --max-time, or --all-time");
      std::string what = "rows of table \"" + a->database + "\".\"" + a->table + "\"" +
                         (a->predicate.empty() ? "" : " where " + a->predicate);
      if (!a->yes && !Confirm(what)) return Fail("cannot delete rows without confirmation");
      json body = {{"db", a->database}, {"table", a->table}, {"predicate", a->predicate}};
      if (a->all_time) body["all_time"] = true;
      if (!a->min_time.empty()) body["min_time"] = TimeValue(a->min_time);
      if (!a->max_time.empty()) body["max_time"] = TimeValue(a->max_time);
      std::string answer;
      int rc = Call(a->opts, "POST", "/api/v3/row_delete_requests", body.dump(), "application/json",
                    "", &answer);
      if (rc != 0) return rc;
      try {
        json r = json::parse(answer);
        std::cout << "Deleted " << r.value("rows_deleted", int64_t{0}) << " rows of table \""
                  << a->database << "\".\"" << a->table << "\" (row delete request "
                  << r.value("sequence", uint64_t{0}) << ")\n";
      } catch (const std::exception&) {
        std::cout << answer << "\n";
      }
      return 0;
    };
  });
}

}  // namespace riffle::cli
