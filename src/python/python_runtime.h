// The embedded CPython VM (the only component that includes Python.h / pybind11).
//
// One interpreter per process. Every plugin run happens on a caller-owned worker thread that
// keeps its own Python thread state (see ThreadScope); the GIL is released while plugins call
// back into the database (query, write_sync) so other triggers keep running.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/status.h"
#include "query/query.h"
#include "wal/wal.h"

namespace riffle::python {

// What a plugin can do to the database; implemented by the processing engine.
struct HostServices {
  // Immediate write (write_sync*): accept_partial=false, nanosecond precision.
  std::function<Status(const std::string& db, const std::string& lp, bool no_sync)> write_sync;
  // The rows arrive batch by batch; the plugin's list is built as they come.
  std::function<Result<std::unique_ptr<query::ResultStream>>(const std::string& db, const std::string& sql,
                                                             const query::Params&)>
      query;
  // level is "INFO", "WARN" or "ERROR".
  std::function<void(const std::string& level, const std::string& text)> log;
  // Set in a plugin worker process: the global cache (use_global=True) lives in the server,
  // shared by every trigger's worker, values pickled (ttl_seconds < 0: none). Unset, and for a
  // trigger's own cache: Python objects in this interpreter.
  std::function<void(const std::string& key, std::string value, double ttl_seconds)> cache_put;
  std::function<std::optional<std::string>(const std::string& key)> cache_get;
  std::function<bool(const std::string& key)> cache_delete;
};

struct PluginCode {
  std::string filename;     // as given to the trigger (for messages)
  std::string path;         // single-file plugins on disk: the absolute path (__file__)
  std::string source;       // single-file plugins
  std::string package_dir;  // directory plugins: the parent dir to put on sys.path
  std::string package;      // directory plugins: the package (directory) name
  int64_t version = 0;      // changes when the source changes (compile cache key)
};

struct CallContext {
  std::string trigger_name;
  std::string database;
  std::optional<std::map<std::string, std::string>> args;
  std::string cache_namespace;
  const HostServices* host = nullptr;
  // Keeps `host` alive while Python holds objects that use it (a plugin may keep
  // influxdb3_local or its cache past the run); may be empty when the host outlives them anyway.
  std::shared_ptr<const HostServices> host_owner;
  bool dry_run = false;  // writes are recorded, never performed
};

struct WrittenLine {
  std::string database;
  std::string line;
  bool sync = false;
  bool no_sync = false;
};

struct CallOutcome {
  Status status;              // InvalidArgument("<ExcType>: message") when the plugin failed
  std::string traceback;      // full Python traceback of the failure, if any
  std::vector<WrittenLine> writes;  // queued writes (and, in dry runs, sync writes too)
  int http_status = 200;      // request plugins
  std::string http_body;
  std::vector<std::pair<std::string, std::string>> http_headers;
  // Set when the plugin's worker process ended during the call (plugin isolation "process"):
  // how it ended, e.g. "exit code 3" or "killed by signal 11 (SIGSEGV)".
  std::string crash;
};

// Rows of one table in one WAL flush, handed to process_writes.
struct TableRows {
  std::string table;
  std::vector<std::pair<const wal::WriteOp*, uint32_t>> rows;  // (op, line index)
};

// Starts the interpreter. `site_packages` (may be empty) are added to sys.path, e.g. a venv's.
Status Initialize(const std::vector<std::string>& site_packages);
bool IsInitialized();

// Holds this thread's Python thread state for its lifetime; create one per worker thread.
class ThreadScope {
 public:
  ThreadScope();
  ~ThreadScope();
  ThreadScope(const ThreadScope&) = delete;
  ThreadScope& operator=(const ThreadScope&) = delete;

 private:
  int gil_state_;
  void* saved_;
};

CallOutcome CallProcessWrites(const PluginCode& code, const CallContext& ctx, const std::vector<TableRows>& tables);
CallOutcome CallScheduled(const PluginCode& code, const CallContext& ctx, int64_t scheduled_unix_seconds);
CallOutcome CallRequest(const PluginCode& code, const CallContext& ctx,
                        const std::vector<std::pair<std::string, std::string>>& query_params,
                        const std::map<std::string, std::string>& headers, const std::string& body);

// Drops a cache namespace (trigger stopped or deleted).
void DropCacheNamespace(const std::string& ns);

}  // namespace riffle::python

namespace riffle::python {
// Makes packages installed after start-up importable (site.addsitedir for each path).
void AddSitePackages(const std::vector<std::string>& paths);
// Identifies the calling thread for InterruptThread.
unsigned long CurrentThreadId();
// Raises KeyboardInterrupt in the Python code running on `thread_id` (at its next bytecode).
void InterruptThread(unsigned long thread_id);
}  // namespace riffle::python
