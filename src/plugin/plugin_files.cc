// Plugin files over the API (InfluxDB 3.6+): a file written into --plugin-dir, a trigger's code
// replaced, a trigger's directory plugin replaced as a whole. Every path stays inside the
// plugin directory; files are written to a temporary name and renamed, so a running trigger
// never reads half a file.
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <random>

#include "plugin/engine.h"
#include "plugin/plugin_source.h"

namespace riffle::plugin {
namespace {

namespace fs = std::filesystem;

std::string TempSuffix() {
  static std::atomic<uint64_t> counter{0};
  return ".riffle-tmp-" + std::to_string(::getpid()) + "-" + std::to_string(counter.fetch_add(1));
}

Status WriteAtomically(const fs::path& path, const std::string& content) {
  std::error_code ec;
  fs::create_directories(path.parent_path(), ec);
  if (ec)
    return Status::IOError("cannot create the directory of " + path.string() + ": " + ec.message());
  fs::path temp = path.string() + TempSuffix();
  {
    std::ofstream out(temp, std::ios::binary | std::ios::trunc);
    out << content;
    out.flush();
    if (!out) {
      fs::remove(temp, ec);
      return Status::IOError("cannot write " + path.string());
    }
  }
  fs::rename(temp, path, ec);
  if (ec) {
    fs::remove(temp, ec);
    return Status::IOError("cannot replace " + path.string() + ": " + ec.message());
  }
  return Status::Ok();
}

}  // namespace

Status ProcessingEngine::SavePluginFile(const std::string& name, const std::string& content) {
  if (name.empty())
    return Status::InvalidArgument("'plugin_name' is required: a file name such as 'my_plugin.py'");
  RIFFLE_ASSIGN_OR_RETURN(std::string path, ResolveLocalPath(options_.plugin_dir, name));
  std::error_code ec;
  if (fs::is_directory(path, ec))
    return Status::InvalidArgument("'" + name + "' is a plugin directory: upload its files as '" +
                                   name + "/<file>.py'");
  return WriteAtomically(path, content);
}

Result<std::pair<std::string, std::string>> ProcessingEngine::TriggerPluginPath(
    const std::string& trigger_name) {
  auto state = catalog_->State();
  for (const auto& [db_name, db] : state->databases) {
    if (db->deleted) continue;
    auto it = db->triggers.find(trigger_name);
    if (it == db->triggers.end()) continue;
    if (it->second.plugin_filename.rfind("gh:", 0) == 0)
      return Status::InvalidArgument("trigger '" + trigger_name +
                                     "' runs a gh: plugin, which is not a local file");
    RIFFLE_ASSIGN_OR_RETURN(std::string path,
                            ResolveLocalPath(options_.plugin_dir, it->second.plugin_filename));
    return std::make_pair(db_name, path);
  }
  return Status::NotFound("Plugin not found: no trigger is named '" + trigger_name + "'");
}

Result<std::pair<std::string, std::string>> ProcessingEngine::ReadTriggerPlugin(
    const std::string& trigger_name) {
  RIFFLE_ASSIGN_OR_RETURN(auto found, TriggerPluginPath(trigger_name));
  fs::path path = found.second;
  std::error_code ec;
  if (fs::is_directory(path, ec)) path /= "__init__.py";
  std::ifstream in(path, std::ios::binary);
  if (!in)
    return Status::NotFound("the plugin file of trigger '" + trigger_name + "' (" + path.string() +
                            ") cannot be read");
  std::string content((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return std::make_pair(found.first, std::move(content));
}

Result<std::string> ProcessingEngine::UpdateTriggerPlugin(const std::string& trigger_name,
                                                          const std::string& content) {
  RIFFLE_ASSIGN_OR_RETURN(auto found, TriggerPluginPath(trigger_name));
  fs::path path = found.second;
  std::error_code ec;
  // A directory plugin: its __init__.py, as InfluxDB 3 does.
  if (fs::is_directory(path, ec)) path /= "__init__.py";
  RIFFLE_RETURN_IF_ERROR(WriteAtomically(path, content));
  return found.first;
}

Result<std::string> ProcessingEngine::ReplaceTriggerPluginDirectory(
    const std::string& trigger_name,
    const std::vector<std::pair<std::string, std::string>>& files) {
  if (files.empty())
    return Status::InvalidArgument("'files' is empty: expected the plugin's .py files");
  bool has_init = false;
  for (const auto& [relative, content] : files) has_init = has_init || relative == "__init__.py";
  if (!has_init)
    return Status::InvalidArgument("a multi-file plugin directory must contain __init__.py");
  RIFFLE_ASSIGN_OR_RETURN(auto found, TriggerPluginPath(trigger_name));
  fs::path target = found.second;
  fs::path staging = target.string() + TempSuffix();
  std::error_code ec;
  fs::remove_all(staging, ec);
  for (const auto& [relative, content] : files) {
    // The same traversal rules as plugin names, inside the staging directory.
    auto path = ResolveLocalPath(staging.string(), relative);
    Status st = path.ok() ? WriteAtomically(*path, content) : path.status();
    if (!st.ok()) {
      fs::remove_all(staging, ec);
      return st;
    }
  }
  // Swap: the old directory (or file) aside, the new one in, the old one removed.
  fs::path old = target.string() + TempSuffix();
  bool had_old = fs::exists(target, ec);
  if (had_old) fs::rename(target, old, ec);
  if (!ec) fs::rename(staging, target, ec);
  if (ec) {
    std::string why = ec.message();
    if (had_old && !fs::exists(target)) fs::rename(old, target, ec);
    fs::remove_all(staging, ec);
    return Status::IOError("cannot replace the plugin directory " + target.string() + ": " + why);
  }
  fs::remove_all(old, ec);
  return found.first;
}

}  // namespace riffle::plugin
