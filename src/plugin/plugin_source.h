// Finding plugin code: files and directories under --plugin-dir (with path-traversal
// protection) and `gh:` plugins fetched from --plugin-repo.
#pragma once

#include <mutex>
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

// Remembers one plugin's code and re-reads a single-file plugin only when its modification
// time or size changes (a stat per run instead of a read and a hash).
class CachedPluginCode {
 public:
  CachedPluginCode(PluginLocation where, std::string filename)
      : where_(std::move(where)), filename_(std::move(filename)) {}
  Result<python::PluginCode> Get();

 private:
  PluginLocation where_;
  std::string filename_;
  std::string resolved_;  // absolute path of a local plugin, once resolved
  std::mutex mu_;
  bool valid_ = false;
  int64_t mtime_ = 0, size_ = -1;
  python::PluginCode code_;
};

// The absolute path a local plugin name refers to, after the traversal checks.
Result<std::string> ResolveLocalPath(const std::string& plugin_dir, const std::string& filename);

}  // namespace riffle::plugin
