// Plugin code from the client's disk: `create trigger --upload` (POST /api/v3/plugins/files
// per file) and `update trigger --path` (PUT /api/v3/plugins/files for a file, PUT
// /api/v3/plugins/directory for a directory plugin), as InfluxDB 3.6+ sends them.
#include <algorithm>
#include <filesystem>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "cli/cli.h"
#include "cli/client_common.h"

namespace riffle::cli {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

std::string Dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

// The .py files of a directory plugin, relative to it (no __pycache__), sorted.
Result<std::vector<std::pair<std::string, std::string>>> PythonFiles(const fs::path& dir) {
  if (!fs::exists(dir / "__init__.py"))
    return Status::InvalidArgument("Multi-file plugin directory must contain __init__.py: " +
                                   dir.string());
  std::vector<std::pair<std::string, std::string>> files;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(dir, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (it->is_directory() && it->path().filename() == "__pycache__") {
      it.disable_recursion_pending();
      continue;
    }
    if (!it->is_regular_file() || it->path().extension() != ".py") continue;
    auto content = ReadFile(it->path().string());
    if (!content.ok()) return content.status();
    files.emplace_back(fs::relative(it->path(), dir).generic_string(), std::move(content).value());
  }
  if (ec) return Status::IOError("cannot read " + dir.string() + ": " + ec.message());
  std::sort(files.begin(), files.end());
  return files;
}

struct UpdateArgs {
  ClientOptions opts;
  std::string database, trigger, path;
};

}  // namespace

Result<std::string> UploadPlugin(const ClientOptions& opts, const std::string& database,
                                 const std::string& local) {
  fs::path path(local);
  std::error_code ec;
  if (!fs::exists(path, ec)) return Status::NotFound("File not found: " + local);
  std::vector<std::pair<std::string, std::string>> uploads;  // server name → content
  std::string name;
  if (fs::is_regular_file(path, ec)) {
    auto content = ReadFile(local);
    if (!content.ok()) return content.status();
    name = path.filename().string();
    uploads.emplace_back(name, std::move(content).value());
  } else if (fs::is_directory(path, ec)) {
    name = fs::path(local).lexically_normal().filename().string();
    if (name.empty()) name = fs::path(local).lexically_normal().parent_path().filename().string();
    auto files = PythonFiles(path);
    if (!files.ok()) return files.status();
    for (auto& [relative, content] : *files)
      uploads.emplace_back(name + "/" + relative, std::move(content));
  } else {
    return Status::InvalidArgument("Invalid path: " + local + " is neither a file nor a directory");
  }
  for (const auto& [server_name, content] : uploads) {
    auto r =
        HttpCall(opts, "POST", "/api/v3/plugins/files?db=" + UrlEncode(database),
                 Dump({{"plugin_name", server_name}, {"content", content}}), "application/json");
    if (!r.ok()) return r.status();
    if (r->status >= 300)
      return Status::InvalidArgument("uploading " + server_name + ": " + ErrorMessage(*r));
  }
  return name;
}

void RegisterPluginFileCommands(CLI::App& app, std::function<int()>* action) {
  auto a = std::make_shared<UpdateArgs>();
  CLI::App* update_trigger = app.get_subcommand("update")->add_subcommand(
      "trigger",
      "Replace a trigger's plugin code with a local file or directory, keeping the trigger");
  AddCommonOptions(update_trigger, &a->opts, &a->database, true);
  update_trigger->add_option("-t,--trigger-name", a->trigger, "the trigger to update")->required();
  update_trigger
      ->add_option("-p,--path", a->path, "a local .py file, or a directory with __init__.py")
      ->required();
  update_trigger->callback([a, action] {
    *action = [a] {
      fs::path path(a->path);
      std::error_code ec;
      if (!fs::exists(path, ec)) return Fail("Path does not exist: " + a->path);
      std::string query = "?db=" + UrlEncode(a->database);
      if (fs::is_regular_file(path, ec)) {
        auto content = ReadFile(a->path);
        if (!content.ok()) return Fail(content.status().message());
        return Call(a->opts, "PUT", "/api/v3/plugins/files" + query,
                    Dump({{"plugin_name", a->trigger}, {"content", *content}}), "application/json",
                    "Trigger '" + a->trigger + "' updated successfully");
      }
      if (!fs::is_directory(path, ec)) return Fail("Invalid path: " + a->path);
      auto files = PythonFiles(path);
      if (!files.ok()) return Fail(files.status().message());
      json entries = json::array();
      for (const auto& [relative, content] : *files)
        entries.push_back({{"relative_path", relative}, {"content", content}});
      return Call(
          a->opts, "PUT", "/api/v3/plugins/directory" + query,
          Dump({{"plugin_name", a->trigger}, {"files", entries}}), "application/json",
          "Trigger '" + a->trigger + "' updated successfully (atomic directory replacement)");
    };
  });
}

}  // namespace riffle::cli
