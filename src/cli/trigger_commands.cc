// Processing-engine commands: create/enable/disable/delete/show triggers, test plugins,
// install packages.
#include <filesystem>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "cli/cli.h"
#include "cli/client_common.h"

namespace riffle::cli {

using nlohmann::json;

namespace {

struct TriggerArgs {
  ClientOptions opts;
  std::string database, name, plugin_filename, spec, error_behavior = "log", lp, lp_file, schedule,
                                                     cache_name, requirements, run_timeout, body,
                                                     body_file;
  std::vector<std::string> arguments, packages, query_params, headers;
  bool disabled = false, run_async = false, force = false, public_endpoint = false, upload = false;
  int max_retries = -1;    // -1: the server's default
  int64_t queue_size = 0;  // 0: the server's default
};

// "a=1,b=x=y" (possibly repeated flags) → {"a":"1","b":"x=y"}; later keys win.
Result<json> KeyValues(const std::vector<std::string>& items) {
  json out = json::object();
  for (const auto& item : items) {
    size_t eq = item.find('=');
    if (eq == std::string::npos)
      return Status::InvalidArgument("invalid argument '" + item +
                                     "': must be formatted as \"key=value\"");
    out[item.substr(0, eq)] = item.substr(eq + 1);
  }
  return out;
}

// --cache-name and --input-arguments of the `test` commands.
Status AddDryRunInputs(const TriggerArgs& a, json* body) {
  if (!a.cache_name.empty()) (*body)["cache_name"] = a.cache_name;
  if (a.arguments.empty()) return Status::Ok();
  auto args = KeyValues(a.arguments);
  if (!args.ok()) return args.status();
  (*body)["input_arguments"] = *args;
  return Status::Ok();
}

int PrintJson(const std::string& body) {
  try {
    std::cout << json::parse(body).dump(2) << "\n";
  } catch (...) {
    std::cout << body << "\n";
  }
  return 0;
}

}  // namespace

void RegisterTriggerCommands(CLI::App& app, std::function<int()>* action) {
  auto a = std::make_shared<TriggerArgs>();
  CLI::App* create = app.get_subcommand("create");
  CLI::App* show = app.get_subcommand("show");
  CLI::App* del = app.get_subcommand("delete");

  CLI::App* create_trigger =
      create->add_subcommand("trigger", "Create a processing-engine trigger");
  AddCommonOptions(create_trigger, &a->opts, &a->database, true);
  create_trigger->add_option("trigger_name", a->name, "name of the trigger")->required();
  create_trigger
      ->add_option("--plugin-filename,--path", a->plugin_filename,
                   "plugin file or directory, relative to the server's --plugin-dir, or gh:PATH")
      ->required();
  create_trigger
      ->add_option(
          "--trigger-spec", a->spec,
          "table:NAME | all_tables | every:DURATION | cron:EXPR | path:NAME | request:NAME")
      ->required();
  create_trigger
      ->add_option("--trigger-arguments", a->arguments,
                   "key=value pairs passed to the plugin as args")
      ->delimiter(',')
      ->allow_extra_args(false)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  create_trigger->add_flag(
      "--upload", a->upload,
      "upload the local file or directory given by --path to the server's plugin dir first");
  create_trigger->add_flag("--disabled", a->disabled, "create the trigger disabled");
  create_trigger->add_flag("--run-asynchronous", a->run_async, "let runs of this trigger overlap");
  create_trigger->add_option("--error-behavior", a->error_behavior, "log, retry or disable")
      ->check(CLI::IsMember({"log", "retry", "disable"}));
  create_trigger->add_flag("--public", a->public_endpoint,
                           "Riffle: serve this request trigger without authentication");
  create_trigger->add_option(
      "--run-timeout", a->run_timeout,
      "Riffle: interrupt a run after this long (e.g. 30s); the error behavior applies");
  create_trigger
      ->add_option("--queue-size", a->queue_size,
                   "Riffle: events a slow trigger may have pending before new ones are dropped "
                   "(default 1000)")
      ->check(CLI::Range(1, 1000000));
  create_trigger
      ->add_option(
          "--max-retries", a->max_retries,
          "Riffle: with --error-behavior retry, attempts after the first failure (default 3)")
      ->check(CLI::Range(0, 100));
  create_trigger->callback([a, action] {
    *action = [a] {
      if (a->upload) {
        auto uploaded = UploadPlugin(a->opts, a->database, a->plugin_filename);
        if (!uploaded.ok()) return Fail(uploaded.status().message());
        a->plugin_filename = *uploaded;
      }
      json body = {{"db", a->database},
                   {"plugin_filename", a->plugin_filename},
                   {"trigger_name", a->name},
                   {"trigger_specification", a->spec},
                   {"trigger_settings",
                    {{"run_async", a->run_async}, {"error_behavior", a->error_behavior}}},
                   {"disabled", a->disabled}};
      if (!a->run_timeout.empty()) body["trigger_settings"]["run_timeout"] = a->run_timeout;
      if (a->public_endpoint) body["trigger_settings"]["public"] = true;
      if (a->max_retries >= 0) body["trigger_settings"]["max_retries"] = a->max_retries;
      if (a->queue_size > 0) body["trigger_settings"]["queue_size"] = a->queue_size;
      if (!a->arguments.empty()) {
        auto args = KeyValues(a->arguments);
        if (!args.ok()) return Fail(args.status().message());
        body["trigger_arguments"] = *args;
      } else {
        body["trigger_arguments"] = nullptr;
      }
      return Call(a->opts, "POST", "/api/v3/configure/processing_engine_trigger", body.dump(),
                  "application/json", "Trigger " + a->name + " created successfully");
    };
  });

  for (bool enable : {true, false}) {
    CLI::App* group = app.add_subcommand(enable ? "enable" : "disable",
                                         enable ? "Enable a resource" : "Disable a resource");
    group->require_subcommand(1);
    CLI::App* cmd =
        group->add_subcommand("trigger", enable ? "Enable a trigger" : "Disable a trigger");
    AddCommonOptions(cmd, &a->opts, &a->database, true);
    cmd->add_option("trigger_name", a->name, "name of the trigger")->required();
    cmd->callback([a, action, enable] {
      *action = [a, enable] {
        std::string path = std::string("/api/v3/configure/processing_engine_trigger/") +
                           (enable ? "enable" : "disable") + "?db=" + UrlEncode(a->database) +
                           "&trigger_name=" + UrlEncode(a->name);
        return Call(a->opts, "POST", path, "", "",
                    "Trigger " + a->name + (enable ? " enabled" : " disabled") + " successfully");
      };
    });
  }

  CLI::App* del_trigger = del->add_subcommand("trigger", "Delete a trigger");
  AddCommonOptions(del_trigger, &a->opts, &a->database, true);
  del_trigger->add_option("trigger_name", a->name, "name of the trigger")->required();
  del_trigger->add_flag("--force", a->force, "delete even if the trigger is enabled");
  del_trigger->callback([a, action] {
    *action = [a] {
      json body = {{"db", a->database}, {"trigger_name", a->name}, {"force", a->force}};
      return Call(a->opts, "DELETE", "/api/v3/configure/processing_engine_trigger", body.dump(),
                  "application/json", "Trigger " + a->name + " deleted successfully");
    };
  });

  CLI::App* show_triggers = show->add_subcommand("triggers", "List the triggers of a database");
  AddCommonOptions(show_triggers, &a->opts, &a->database, true);
  show_triggers->callback([a, action] {
    *action = [a] {
      json body = {{"db", a->database},
                   {"q", "SELECT * FROM system.processing_engine_triggers ORDER BY trigger_name"},
                   {"format", "pretty"}};
      std::string out;
      int rc =
          Call(a->opts, "POST", "/api/v3/query_sql", body.dump(), "application/json", "", &out);
      if (rc == 0) std::cout << out;
      return rc;
    };
  });

  CLI::App* test =
      app.add_subcommand("test", "Dry-run a plugin on the server without writing anything");
  test->require_subcommand(1);
  CLI::App* test_wal = test->add_subcommand("wal_plugin", "Run a WAL plugin on line protocol");
  AddCommonOptions(test_wal, &a->opts, &a->database, true);
  test_wal
      ->add_option("filename", a->plugin_filename,
                   "plugin file, relative to the server's --plugin-dir")
      ->required();
  test_wal->add_option("--lp", a->lp, "line protocol to feed the plugin");
  test_wal->add_option("--file", a->lp_file, "file of line protocol to feed the plugin");
  test_wal->add_option("--input-arguments", a->arguments, "key=value pairs passed as args")
      ->delimiter(',')
      ->allow_extra_args(false)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  test_wal->add_option("--cache-name", a->cache_name, "cache namespace for the test run");
  test_wal->callback([a, action] {
    *action = [a] {
      std::string lp = a->lp;
      if (!a->lp_file.empty()) {
        auto contents = ReadFile(a->lp_file);
        if (!contents.ok()) return Fail(contents.status().message());
        lp = *contents;
      }
      if (lp.empty()) return Fail("no input: give line protocol with --lp or --file");
      json body = {{"filename", a->plugin_filename}, {"database", a->database}, {"input_lp", lp}};
      if (Status st = AddDryRunInputs(*a, &body); !st.ok()) return Fail(st.message());
      std::string out;
      int rc = Call(a->opts, "POST", "/api/v3/plugin_test/wal", body.dump(), "application/json", "",
                    &out);
      return rc == 0 ? PrintJson(out) : rc;
    };
  });
  CLI::App* test_request =
      test->add_subcommand("request_plugin", "Run a request plugin once on a given request");
  AddCommonOptions(test_request, &a->opts, &a->database, true);
  test_request
      ->add_option("filename", a->plugin_filename,
                   "plugin file, relative to the server's --plugin-dir")
      ->required();
  test_request
      ->add_option("--query-parameters", a->query_params, "key=value pairs of the query string")
      ->delimiter(',')
      ->allow_extra_args(false)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  test_request->add_option("--header", a->headers, "a request header as Name=value (repeatable)")
      ->allow_extra_args(false)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  test_request->add_option("--body", a->body, "the request body");
  test_request->add_option("--body-file", a->body_file, "read the request body from FILE");
  test_request->add_option("--input-arguments", a->arguments, "key=value pairs passed as args")
      ->delimiter(',')
      ->allow_extra_args(false)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  test_request->add_option("--cache-name", a->cache_name, "cache namespace for the test run");
  test_request->callback([a, action] {
    *action = [a] {
      json body = {{"filename", a->plugin_filename}, {"database", a->database}, {"body", a->body}};
      if (!a->body_file.empty()) {
        auto contents = ReadFile(a->body_file);
        if (!contents.ok()) return Fail(contents.status().message());
        body["body"] = *contents;
      }
      auto query = KeyValues(a->query_params);
      if (!query.ok()) return Fail(query.status().message());
      body["query_parameters"] = *query;
      auto headers = KeyValues(a->headers);
      if (!headers.ok()) return Fail(headers.status().message());
      body["headers"] = *headers;
      if (Status st = AddDryRunInputs(*a, &body); !st.ok()) return Fail(st.message());
      std::string out;
      int rc = Call(a->opts, "POST", "/api/v3/plugin_test/request", body.dump(), "application/json",
                    "", &out);
      return rc == 0 ? PrintJson(out) : rc;
    };
  });
  CLI::App* test_schedule = test->add_subcommand("schedule_plugin", "Run a schedule plugin once");
  AddCommonOptions(test_schedule, &a->opts, &a->database, true);
  test_schedule
      ->add_option("filename", a->plugin_filename,
                   "plugin file, relative to the server's --plugin-dir")
      ->required();
  test_schedule->add_option("--schedule", a->schedule, "cron expression (default: every second)");
  test_schedule->add_option("--input-arguments", a->arguments, "key=value pairs passed as args")
      ->delimiter(',')
      ->allow_extra_args(false)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  test_schedule->add_option("--cache-name", a->cache_name, "cache namespace for the test run");
  test_schedule->callback([a, action] {
    *action = [a] {
      json body = {{"filename", a->plugin_filename}, {"database", a->database}};
      if (!a->schedule.empty()) body["schedule"] = a->schedule;
      if (Status st = AddDryRunInputs(*a, &body); !st.ok()) return Fail(st.message());
      std::string out;
      int rc = Call(a->opts, "POST", "/api/v3/plugin_test/schedule", body.dump(),
                    "application/json", "", &out);
      return rc == 0 ? PrintJson(out) : rc;
    };
  });

  CLI::App* install = app.add_subcommand(
      "install", "Install Python packages for plugins (into <plugin-dir>/.venv)");
  install->require_subcommand(1);
  CLI::App* install_pkg =
      install->add_subcommand("package", "Install packages with pip on the server");
  AddCommonOptions(install_pkg, &a->opts, nullptr, false);
  install_pkg->add_option("packages", a->packages, "package names or paths to wheels");
  install_pkg->add_option("-r,--requirements", a->requirements, "a requirements file");
  CLI::App* install_req =
      install->add_subcommand("requirements", "Install a requirements file with pip on the server");
  AddCommonOptions(install_req, &a->opts, nullptr, false);
  install_req->add_option("file", a->requirements, "requirements file")->required();
  auto run_install = [a] {
    if (!a->requirements.empty()) {
      std::string abs = std::filesystem::absolute(a->requirements).string();
      json body = {{"requirements_location", abs}};
      return Call(a->opts, "POST", "/api/v3/configure/plugin_environment/install_requirements",
                  body.dump(), "application/json", "Requirements installed successfully");
    }
    if (a->packages.empty()) return Fail("no packages given: expected package names or -r FILE");
    json packages = json::array();
    for (const auto& p : a->packages) {
      std::error_code ec;
      // A local wheel or directory is sent as an absolute path so the server finds it.
      bool local = p.find('/') != std::string::npos || std::filesystem::exists(p, ec);
      packages.push_back(local ? std::filesystem::absolute(p).string() : p);
    }
    json body = {{"packages", packages}};
    return Call(a->opts, "POST", "/api/v3/configure/plugin_environment/install_packages",
                body.dump(), "application/json", "Packages installed successfully");
  };
  install_pkg->callback([action, run_install] { *action = run_install; });
  install_req->callback([action, run_install] { *action = run_install; });
}

}  // namespace riffle::cli
