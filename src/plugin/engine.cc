#include "plugin/engine.h"

#include <filesystem>
#include <future>

#include "common/clock.h"
#include "common/log.h"
#include "plugin/plugin_source.h"
#include "plugin/trigger_runner.h"
#include "plugin/trigger_spec.h"
#include "python/python_runtime.h"

namespace riffle::plugin {

namespace fs = std::filesystem;

ProcessingEngine::ProcessingEngine(EngineOptions options, catalog::Catalog* catalog, write::Writer* writer,
                                   query::QueryEngine* engine)
    : options_(std::move(options)), catalog_(catalog), writer_(writer), query_(engine) {
  if (options_.virtual_env.empty() && !options_.plugin_dir.empty())
    options_.virtual_env = options_.plugin_dir + "/.venv";
  logs_.reserve(std::min<size_t>(options_.log_capacity, 1024));
  catalog_->AddListener([this](const catalog::CatalogState& before, const catalog::CatalogState& after) {
    OnCatalogChange(before, after);
  });
}

ProcessingEngine::~ProcessingEngine() { Stop(); }

// site-packages directories of a venv (lib/python3.X/site-packages).
std::vector<std::string> SitePackagesOf(const std::string& venv) {
  std::vector<std::string> out;
  std::error_code ec;
  fs::path lib = fs::path(venv) / "lib";
  if (!fs::exists(lib, ec)) return out;
  for (const auto& entry : fs::directory_iterator(lib, ec)) {
    fs::path sp = entry.path() / "site-packages";
    if (fs::exists(sp, ec)) out.push_back(sp.string());
  }
  return out;
}

Status ProcessingEngine::Start() {
  if (!options_.plugin_dir.empty()) {
    std::error_code ec;
    fs::create_directories(options_.plugin_dir, ec);
    // Plugins can find their own files through PLUGIN_DIR, as on InfluxDB 3.
    ::setenv("PLUGIN_DIR", fs::absolute(options_.plugin_dir).c_str(), 1);
    ::setenv("INFLUXDB3_PLUGIN_DIR", fs::absolute(options_.plugin_dir).c_str(), 1);
    if (!options_.virtual_env.empty()) ::setenv("VIRTUAL_ENV", fs::absolute(options_.virtual_env).c_str(), 1);
    RIFFLE_RETURN_IF_ERROR(python::Initialize(SitePackagesOf(options_.virtual_env)));
    python_ready_ = true;
  }
  auto state = catalog_->State();
  for (const auto& [name, db] : state->databases) {
    if (db->deleted) continue;
    for (const auto& [tname, trigger] : db->triggers)
      if (!trigger.disabled) StartTrigger(trigger);
  }
  watchdog_ = std::thread([this] {
    std::unique_lock lock(watchdog_mu_);
    while (!watchdog_cv_.wait_for(lock, std::chrono::milliseconds(20), [this] { return watchdog_stop_; })) {
      std::vector<std::shared_ptr<TriggerRunner>> runners;
      {
        std::lock_guard r(runners_mu_);
        for (const auto& [key, runner] : runners_) runners.push_back(runner);
      }
      int64_t now = NowNanos();
      for (const auto& runner : runners) runner->CheckTimeout(now);
    }
  });
  return Status::Ok();
}

void ProcessingEngine::PackagesChanged() {
  python::AddSitePackages(SitePackagesOf(options_.virtual_env));
  {
    std::lock_guard lock(test_workers_mu_);
    test_workers_.clear();
  }
  std::lock_guard lock(runners_mu_);
  for (const auto& [key, runner] : runners_) runner->PackagesChanged();
}

void ProcessingEngine::Stop() {
  {
    std::lock_guard lock(watchdog_mu_);
    watchdog_stop_ = true;
  }
  watchdog_cv_.notify_all();
  if (watchdog_.joinable()) watchdog_.join();
  std::map<std::pair<std::string, std::string>, std::shared_ptr<TriggerRunner>> runners;
  {
    std::lock_guard lock(runners_mu_);
    runners.swap(runners_);
    request_routes_.clear();
  }
  for (auto& [key, r] : runners) r->Stop();
  std::lock_guard lock(test_workers_mu_);
  test_workers_.clear();
}

void ProcessingEngine::Log(const std::string& trigger, const std::string& level, const std::string& text) {
  if (level == "ERROR") log::Error("processing engine: [" + trigger + "] " + text);
  else if (level == "WARN") log::Warn("processing engine: [" + trigger + "] " + text);
  else log::Info("processing engine: [" + trigger + "] " + text);
  std::lock_guard lock(log_mu_);
  LogEntry e{NowNanos(), trigger, level, text};
  if (logs_.size() < options_.log_capacity) {
    logs_.push_back(std::move(e));
  } else {
    logs_[log_next_] = std::move(e);
    log_next_ = (log_next_ + 1) % options_.log_capacity;
  }
}

void ProcessingEngine::StartTrigger(const catalog::Trigger& trigger) {
  if (!options_.run_triggers) return;
  auto spec = ParseSpec(trigger.specification);
  if (!spec.ok()) {
    Log(trigger.name, "ERROR", "failed to start trigger: " + spec.status().message());
    return;
  }
  if (!python_ready_ && trigger.plugin_filename.rfind("gh:", 0) != 0 && options_.plugin_dir.empty()) {
    Log(trigger.name, "ERROR", "failed to start trigger: Node not configured with plugin directory");
    return;
  }
  auto runner = std::make_shared<TriggerRunner>(this, trigger, std::move(spec).value());
  {
    std::lock_guard lock(runners_mu_);
    auto key = std::make_pair(trigger.database, trigger.name);
    if (runners_.count(key)) return;
    runners_[key] = runner;
    if (runner->spec().kind == ParsedSpec::Kind::kRequest) request_routes_[runner->spec().path] = runner;
  }
  runner->Start();
}

void ProcessingEngine::StopTrigger(const std::string& db, const std::string& name) {
  std::shared_ptr<TriggerRunner> runner;
  {
    std::lock_guard lock(runners_mu_);
    auto it = runners_.find({db, name});
    if (it == runners_.end()) return;
    runner = it->second;
    runners_.erase(it);
    for (auto r = request_routes_.begin(); r != request_routes_.end();)
      r = r->second == runner ? request_routes_.erase(r) : std::next(r);
  }
  runner->Stop();
  python::DropCacheNamespace(db + "\x1f" + name);
}

void ProcessingEngine::OnCatalogChange(const catalog::CatalogState& before, const catalog::CatalogState& after) {
  // Triggers follow the catalog: anything enabled there runs here, nothing else does.
  std::map<std::pair<std::string, std::string>, const catalog::Trigger*> wanted;
  for (const auto& [name, db] : after.databases)
    if (!db->deleted)
      for (const auto& [tname, t] : db->triggers)
        if (!t.disabled) wanted[{name, tname}] = &t;
  std::vector<std::pair<std::string, std::string>> to_stop;
  {
    std::lock_guard lock(runners_mu_);
    for (const auto& [key, runner] : runners_)
      if (!wanted.count(key)) to_stop.push_back(key);
  }
  for (const auto& [db, name] : to_stop) StopTrigger(db, name);
  for (const auto& [key, t] : wanted) {
    bool running;
    {
      std::lock_guard lock(runners_mu_);
      running = runners_.count(key) > 0;
    }
    if (!running) StartTrigger(*t);
  }
}

void ProcessingEngine::OnWalFlush(const std::vector<wal::WriteOpPtr>& ops) {
  std::vector<std::shared_ptr<TriggerRunner>> wal_runners;
  {
    std::lock_guard lock(runners_mu_);
    for (const auto& [key, r] : runners_)
      if (r->spec().kind == ParsedSpec::Kind::kTable || r->spec().kind == ParsedSpec::Kind::kAllTables)
        wal_runners.push_back(r);
  }
  for (const auto& r : wal_runners) {
    // Only flushes with rows for the trigger are events (its own writes to other tables are not).
    bool relevant = std::any_of(ops.begin(), ops.end(), [&](const auto& op) {
      if (op->db_name != r->def().database) return false;
      if (r->spec().kind != ParsedSpec::Kind::kTable) return !op->batch.lines.empty();
      return std::any_of(op->batch.lines.begin(), op->batch.lines.end(),
                         [&](const auto& line) { return line.measurement == r->spec().table; });
    });
    if (!relevant) continue;
    // Never block the flush (and so every writer) on a slow plugin: a full queue drops the event.
    if (!r->EnqueueWal(ops))
      Log(r->def().name, "ERROR",
          "WAL event dropped: the trigger's queue is full (" + std::to_string(r->QueueCapacity()) +
              " pending runs); the plugin is slower than the write rate");
  }
}

Status ProcessingEngine::WriteLines(const std::string& db, const std::string& lp, bool no_sync) {
  write::WriteRequest req;
  req.database = db;
  req.body = lp;
  req.precision = lineproto::Precision::kNanosecond;
  req.accept_partial = false;
  req.no_sync = no_sync;
  auto promise = std::make_shared<std::promise<write::WriteOutcome>>();
  auto future = promise->get_future();
  writer_->Write(std::move(req), [promise](write::WriteOutcome out) { promise->set_value(std::move(out)); });
  write::WriteOutcome out = future.get();
  if (!out.errors.empty()) {
    std::string msg = out.status.ok() ? "line protocol error" : out.status.message();
    for (const auto& e : out.errors) msg += "; line " + std::to_string(e.line_number) + ": " + e.message;
    return Status::InvalidArgument(msg);
  }
  return out.status;
}

Status ProcessingEngine::CreateTrigger(catalog::Trigger trigger) {
  auto state = catalog_->State();
  if (!state->FindDatabase(trigger.database)) return Status::NotFound("Database not found " + trigger.database);
  if (trigger.name.empty()) return Status::InvalidArgument("trigger name cannot be empty");
  if (trigger.settings.error_behavior != "log" && trigger.settings.error_behavior != "retry" &&
      trigger.settings.error_behavior != "disable")
    return Status::InvalidArgument("invalid error behavior '" + trigger.settings.error_behavior +
                                   "': expected log, retry or disable");
  auto spec = ParseSpec(trigger.specification);
  if (!spec.ok()) return spec.status();
  if (!options_.allowed_trigger_kinds.empty()) {
    bool wal = spec->kind == ParsedSpec::Kind::kTable || spec->kind == ParsedSpec::Kind::kAllTables;
    const char* kind = wal ? "wal" : spec->kind == ParsedSpec::Kind::kSchedule ? "schedule" : "request";
    const char* type = wal ? "WalRows" : spec->kind == ParsedSpec::Kind::kSchedule ? "Schedule" : "Request";
    if (!options_.allowed_trigger_kinds.count(kind))
      return Status::InvalidArgument(std::string("invalid request: server is configured to reject ") + type +
                                     " plugin triggers (serve --restrict-plugin-triggers-to)");
  }
  if (spec->kind == ParsedSpec::Kind::kRequest) {
    // Unlike InfluxDB 3 Core, a second trigger for the same path is refused.
    for (const auto& [name, db] : state->databases)
      for (const auto& [tname, t] : db->triggers) {
        auto other = ParseSpec(t.specification);
        if (!db->deleted && other.ok() && other->kind == ParsedSpec::Kind::kRequest && other->path == spec->path)
          return Status::AlreadyExists("request path '" + spec->path + "' is already served by trigger '" + tname + "'");
      }
  }
  auto code = LoadPluginCode({options_.plugin_dir, options_.plugin_repo}, trigger.plugin_filename);
  if (!code.ok()) return code.status();
  trigger.specification = spec->canonical;
  return catalog_->CreateTrigger(std::move(trigger));
}

Status ProcessingEngine::SetTriggerEnabled(const std::string& db, const std::string& name, bool enabled) {
  return catalog_->SetTriggerDisabled(db, name, !enabled);
}

Status ProcessingEngine::DeleteTrigger(const std::string& db, const std::string& name, bool force) {
  auto state = catalog_->State();
  const catalog::Database* d = state->FindDatabase(db);
  if (!d) return Status::NotFound("Database not found " + db);
  auto it = d->triggers.find(name);
  if (it == d->triggers.end()) return Status::NotFound("trigger not found: " + name);
  if (!it->second.disabled && !force)
    return Status::InvalidArgument("Cannot delete running plugin " + name + ". Disable it first or use --force.");
  RIFFLE_RETURN_IF_ERROR(catalog_->DeleteTrigger(db, name));
  python::DropCacheNamespace(db + "\x1f" + name);
  runs_.Forget(db, name);
  return Status::Ok();
}

std::optional<RequestRoute> ProcessingEngine::RequestRouteAt(const std::string& path) {
  std::lock_guard lock(runners_mu_);
  auto it = request_routes_.find(path);
  if (it == request_routes_.end()) return std::nullopt;
  return RequestRoute{it->second->def().database, it->second->def().settings.public_endpoint};
}

void ProcessingEngine::HandleRequest(const std::string& path, const std::vector<std::pair<std::string, std::string>>& query,
                                     const std::map<std::string, std::string>& headers, std::string body,
                                     std::function<void(HttpReply)> reply) {
  std::shared_ptr<TriggerRunner> runner;
  {
    std::lock_guard lock(runners_mu_);
    auto it = request_routes_.find(path);
    if (it != request_routes_.end()) runner = it->second;
  }
  if (!runner) return reply(HttpReply{404, R"({"error": "not found"})", {}});
  if (!runner->EnqueueRequest(query, headers, std::move(body), reply))
    reply(HttpReply{503, R"({"error": "the trigger is busy: too many requests are waiting"})", {}});
}

}  // namespace riffle::plugin
