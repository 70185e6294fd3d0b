// create | delete last_cache and distinct_cache, as InfluxDB 3's CLI spells them.
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "cli/client_common.h"
#include "schedule/schedule.h"

namespace riffle::cli {

using nlohmann::json;

namespace {

struct CacheArgs {
  ClientOptions opts;
  std::string database, table, name, ttl, max_age;
  std::vector<std::string> key_columns, value_columns, columns;
  uint64_t count = 1, max_cardinality = 100'000;
};

// "4 hours", "1d", "90s" → whole seconds.
Result<uint64_t> Seconds(const std::string& text, const char* flag) {
  auto d = schedule::ParseHumanDuration(text);
  if (!d.ok() || d->count() <= 0)
    return Status::InvalidArgument(
        std::string("invalid ") + flag + " '" + text +
        "': expected a duration such as 10s, 30m, 4h, 1d or \"4 hours\"");
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::seconds>(*d).count());
}

CLI::Option* ListOption(CLI::App* cmd, const char* flags, std::vector<std::string>* into,
                        const char* help) {
  return cmd->add_option(flags, *into, help)
      ->delimiter(',')
      ->allow_extra_args(false)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
}

}  // namespace

void RegisterCacheCommands(CLI::App& app, std::function<int()>* action) {
  CLI::App* create = app.get_subcommand("create");
  CLI::App* del = app.get_subcommand("delete");
  auto a = std::make_shared<CacheArgs>();

  CLI::App* create_last = create->add_subcommand("last_cache", "Create a last value cache");
  AddCommonOptions(create_last, &a->opts, &a->database, true);
  create_last->add_option("-t,--table", a->table, "table to cache")->required();
  ListOption(create_last, "--key-columns", &a->key_columns,
             "key columns (default: the table's tags)");
  ListOption(create_last, "--value-columns", &a->value_columns,
             "value columns (default: every other column)");
  create_last->add_option("--count", a->count, "values kept per key, 1 to 10 (default 1)");
  create_last->add_option("--ttl", a->ttl, "how long a value stays, e.g. \"4 hours\" (default 4h)");
  create_last->add_option("name", a->name, "cache name (default <table>_<keys>_last_cache)");
  create_last->callback([a, action] {
    *action = [a] {
      json body = {{"db", a->database}, {"table", a->table}, {"count", a->count}};
      if (!a->name.empty()) body["name"] = a->name;
      if (!a->key_columns.empty()) body["key_columns"] = a->key_columns;
      if (!a->value_columns.empty()) body["value_columns"] = a->value_columns;
      if (!a->ttl.empty()) {
        auto s = Seconds(a->ttl, "--ttl");
        if (!s.ok()) return Fail(s.status().message());
        body["ttl"] = *s;
      }
      std::string out;
      int rc = Call(a->opts, "POST", "/api/v3/configure/last_cache", body.dump(),
                    "application/json", "", &out);
      if (rc == 0) std::cout << "new cache created: " << out << "\n";
      return rc;
    };
  });

  CLI::App* create_distinct =
      create->add_subcommand("distinct_cache", "Create a distinct value cache");
  AddCommonOptions(create_distinct, &a->opts, &a->database, true);
  create_distinct->add_option("-t,--table", a->table, "table to cache")->required();
  ListOption(create_distinct, "--columns", &a->columns, "tag or string columns, in order")
      ->required();
  create_distinct->add_option("--max-cardinality", a->max_cardinality,
                              "most distinct values kept (default 100000)");
  create_distinct->add_option("--max-age", a->max_age,
                              "how long a value stays, e.g. 1d (default 1d)");
  create_distinct->add_option("name", a->name,
                              "cache name (default <table>_<columns>_distinct_cache)");
  create_distinct->callback([a, action] {
    *action = [a] {
      json body = {{"db", a->database},
                   {"table", a->table},
                   {"columns", a->columns},
                   {"max_cardinality", a->max_cardinality}};
      if (!a->name.empty()) body["name"] = a->name;
      if (!a->max_age.empty()) {
        auto s = Seconds(a->max_age, "--max-age");
        if (!s.ok()) return Fail(s.status().message());
        body["max_age"] = *s;
      }
      std::string out;
      int rc = Call(a->opts, "POST", "/api/v3/configure/distinct_cache", body.dump(),
                    "application/json", "", &out);
      if (rc == 0) std::cout << "new cache created: " << out << "\n";
      return rc;
    };
  });

  for (bool last : {true, false}) {
    const char* kind = last ? "last_cache" : "distinct_cache";
    CLI::App* d = del->add_subcommand(
        kind, last ? "Delete a last value cache" : "Delete a distinct value cache");
    AddCommonOptions(d, &a->opts, &a->database, true);
    d->add_option("-t,--table", a->table, "the cache's table")->required();
    d->add_option("name", a->name, "cache name")->required();
    d->callback([a, action, kind, last] {
      *action = [a, kind, last] {
        json body = {{"db", a->database}, {"table", a->table}, {"name", a->name}};
        return Call(a->opts, "DELETE", std::string("/api/v3/configure/") + kind, body.dump(),
                    "application/json",
                    std::string(last ? "last" : "distinct") + " cache deleted successfully");
      };
    });
  }
}

}  // namespace riffle::cli
