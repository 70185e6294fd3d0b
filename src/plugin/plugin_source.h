// Finding plugin code: files and directories under --plugin-dir (with path-traversal
// protection) and `gh:` plugins fetched from --plugin-repo.
#pragma once

#include <string>

#include "common/status.h"
#include "python/python_runtime.h"

namespace riffle::plugin {

struct PluginLocation {
  std::string plugin_dir;   // may be empty (then only gh: plugins resolve)
  std::string plugin_repo;  // base URL for gh: plugins
};

// Reads the plugin named `filename` (as given to the trigger). Single files are re-read
// when their modification time changes, so edits apply on the next run.
Result<python::PluginCode> LoadPluginCode(const PluginLocation& where, const std::string& filename);

// The absolute path a local plugin name refers to, after the traversal checks.
Result<std::string> ResolveLocalPath(const std::string& plugin_dir, const std::string& filename);

}  // namespace riffle::plugin
