// The Processing engine: runs triggers (WAL, schedule, request) whose plugins execute in the
// embedded Python VM, and keeps their logs.
#pragma once

#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "catalog/catalog.h"
#include "common/status.h"
#include "plugin/run_history.h"
#include "query/query.h"
#include "wal/wal.h"
#include "worker/worker.h"
#include "write/writer.h"

namespace riffle::plugin {

struct EngineOptions {
  std::string plugin_dir;  // empty: only gh: plugins, and no Python
  std::string plugin_repo = "https://raw.githubusercontent.com/influxdata/influxdb3_plugins/main/";
  std::string virtual_env;  // default <plugin_dir>/.venv
  size_t log_capacity = 10000;
  size_t queue_capacity = 1000;  // pending WAL events / requests per trigger
  int max_retries = 3;           // error-behavior retry: attempts after the first failure
  // False on a cluster node without the process mode: triggers are kept in the catalog but
  // run on the nodes that have it.
  bool run_triggers = true;
  // --restrict-plugin-triggers-to: the kinds new triggers may be ("wal", "schedule",
  // "request"); empty: every kind.
  std::set<std::string> allowed_trigger_kinds;
  // --disable-package-management (or --package-manager disabled): installs answer 403.
  bool package_management = true;
  // --async-trigger-concurrency-limit: runs of one --run-asynchronous trigger at a time (0: no limit).
  size_t async_concurrency_limit = 0;
  // --plugin-isolation process: each trigger's plugin runs in worker processes (worker/);
  // thread: in the server's own interpreter.
  bool isolate_plugins = false;
  int64_t plugin_memory_limit_bytes = 0;  // --plugin-memory-limit; 0: none
};

struct RequestRoute {
  std::string database;
  bool is_public = false;
};

struct HttpReply {
  int status = 200;
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
};

class TriggerRunner;

// site-packages directories of a virtual environment (lib/python3.X/site-packages).
std::vector<std::string> SitePackagesOf(const std::string& venv);

class ProcessingEngine {
 public:
  ProcessingEngine(EngineOptions options, catalog::Catalog* catalog, write::Writer* writer,
                   query::QueryEngine* engine);
  ~ProcessingEngine();

  // Starts Python (when a plugin dir is configured) and every enabled trigger.
  Status Start();
  void Stop();

  // WAL listener: called after every flush with exactly its ops.
  void OnWalFlush(const std::vector<wal::WriteOpPtr>& ops);

  // Trigger management (persisted in the catalog; running state follows the catalog).
  Status CreateTrigger(catalog::Trigger trigger);
  Status SetTriggerEnabled(const std::string& db, const std::string& name, bool enabled);
  Status DeleteTrigger(const std::string& db, const std::string& name, bool force);

  // The request trigger serving /api/v3/engine/<path>, if one does: its database, and whether it
  // is served without authentication (--public).
  std::optional<RequestRoute> RequestRouteAt(const std::string& path);

  // /api/v3/engine/<path>; `reply` may run on another thread.
  void HandleRequest(const std::string& path,
                     const std::vector<std::pair<std::string, std::string>>& query,
                     const std::map<std::string, std::string>& headers, std::string body,
                     std::function<void(HttpReply)> reply);
  // Dry runs (/api/v3/plugin_test/{wal,schedule}); `reply` gets the JSON response or an error.
  void TestWalPlugin(const nlohmann::json& request,
                     std::function<void(Result<nlohmann::json>)> reply);
  void TestSchedulePlugin(const nlohmann::json& request,
                          std::function<void(Result<nlohmann::json>)> reply);
  // Riffle: /api/v3/plugin_test/request — process_request with the given query parameters,
  // headers and body; returns the HTTP response it would give, its logs and would-be writes.
  void TestRequestPlugin(const nlohmann::json& request,
                         std::function<void(Result<nlohmann::json>)> reply);

  // Plugin files over the API (plugin_files.cc). SavePluginFile writes `name` (a file, or
  // "dir/file.py") into --plugin-dir; UpdateTriggerPlugin replaces the code of the trigger named
  // `trigger_name` (a directory plugin's __init__.py); ReplaceTriggerPluginDirectory swaps its
  // directory for `files` (relative path → content) at once. Both return the trigger's database.
  Status SavePluginFile(const std::string& name, const std::string& content);
  // The code UpdateTriggerPlugin would replace (Riffle: the console's editor reads it): the
  // trigger's database and the file's text.
  Result<std::pair<std::string, std::string>> ReadTriggerPlugin(const std::string& trigger_name);
  Result<std::string> UpdateTriggerPlugin(const std::string& trigger_name,
                                          const std::string& content);
  Result<std::string> ReplaceTriggerPluginDirectory(
      const std::string& trigger_name,
      const std::vector<std::pair<std::string, std::string>>& files);
  Status InstallPackages(const std::vector<std::string>& packages);
  Status InstallRequirements(const std::string& requirements_file);

  // system.processing_engine_* tables.
  Result<query::VirtualTable> SystemTable(const std::string& db, const std::string& table);

  // /metrics: Prometheus text of every trigger's run counters and latency histograms.
  std::string Metrics() const { return runs_.Prometheus(); }

  // Appends to the log ring (and the server log).
  void Log(const std::string& trigger, const std::string& level, const std::string& text);

 private:
  friend class TriggerRunner;
  void OnCatalogChange(const catalog::CatalogState& before, const catalog::CatalogState& after);
  void StartTrigger(const catalog::Trigger& trigger);
  void StopTrigger(const std::string& db, const std::string& name);
  Status WriteLines(const std::string& db, const std::string& lp, bool no_sync);
  Status EnsureVenv();
  // Makes newly installed packages importable, in the server and in plugin workers.
  void PackagesChanged();
  // Runs a dry run's plugin call: with process isolation in the worker kept for its cache
  // namespace (so that test runs naming one cache share it, as InfluxDB 3's --cache-name does),
  // else on this thread.
  python::CallOutcome DryCall(const python::CallContext& ctx,
                              const std::function<python::CallOutcome(worker::Interpreter&)>& call);
  worker::WorkerOptions WorkerOptionsNow();
  // The database and the local path of the plugin of the trigger named `trigger_name`.
  Result<std::pair<std::string, std::string>> TriggerPluginPath(const std::string& trigger_name);

  struct LogEntry {
    int64_t time_ns;
    std::string trigger, level, text;
  };

  EngineOptions options_;
  catalog::Catalog* catalog_;
  write::Writer* writer_;
  query::QueryEngine* query_;
  bool python_ready_ = false;

  std::mutex runners_mu_;
  std::map<std::pair<std::string, std::string>, std::shared_ptr<TriggerRunner>>
      runners_;                                                           // (db, name)
  std::map<std::string, std::shared_ptr<TriggerRunner>> request_routes_;  // path → runner

  RunHistory runs_;
  worker::SharedCache worker_cache_;  // the global cache of plugins in worker processes
  std::mutex test_workers_mu_;
  std::map<std::string, std::shared_ptr<worker::WorkerPool>>
      test_workers_;      // dry runs' cache namespace →
  std::thread watchdog_;  // interrupts runs past their --run-timeout
  std::mutex watchdog_mu_;
  std::condition_variable watchdog_cv_;
  bool watchdog_stop_ = false;

  std::mutex log_mu_;
  std::vector<LogEntry> logs_;  // ring buffer
  size_t log_next_ = 0;
};

}  // namespace riffle::plugin
